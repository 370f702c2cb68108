// Package wire reads and writes the bytes of HTTP/1.1, Server-Sent Events
// and WebSocket at the level probe.RawConn works at: a response head, a
// chunk size, the events of one SSE chunk, one WebSocket frame, a value in
// a flat JSON object.
//
// It exists so that RawConn can count every byte it sends and reads
// without a client library in the way, and reuse its buffers from one
// message to the next. It is not a general parser: it reads what
// an ssevsws server writes (one event per HTTP chunk, unfragmented frames,
// flat JSON objects with ASCII ids), and refuses only what would make a
// count or a buffer go wrong, such as a masked frame or an oversized
// length.
//
// Read the files in this order:
//
//   - http.go: a response head, the size line of a chunk.
//   - sse.go: the events in one chunk of text/event-stream.
//   - handshake.go: the keys of the WebSocket opening handshake.
//   - frame.go: WebSocket frames, both ways.
//   - json.go: values in a flat JSON object without decoding it; a JSON
//     string appended without reflection.
//   - buf.go: the one buffer-growing rule they share.
package wire
