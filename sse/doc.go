// Package sse speaks Server-Sent Events: the text/event-stream format of the
// WHATWG HTML standard, section "Server-sent events".
//
// The wire format is UTF-8 text made of lines. A line "name: value" sets a
// field, a line starting with ':' is a comment, and a blank line dispatches
// the event collected so far:
//
//	retry: 3000          <- reconnection time in ms (applies at once)
//	id: 42               <- last event ID, sent back as Last-Event-ID on reconnect
//	event: tick          <- event type; "message" when absent
//	data: {"seq":42}     <- one line of payload; several data lines join with "\n"
//	                     <- blank line: dispatch
//	: keep-alive         <- comment, ignored by clients, keeps proxies from timing out
//
// Files, in reading order:
//
//   - event.go: the Event type and the errors for values that could inject fields.
//   - encode.go: AppendEvent, AppendComment, AppendRetry and Encoder write frames.
//   - reader.go: Reader parses a stream exactly as a browser's EventSource does
//     (utf8.go holds the UTF-8 repair step it needs).
//   - stream.go: Open turns an http.ResponseWriter into a Stream that flushes
//     every frame, sends heartbeats and drops stuck clients.
//   - client.go: Client consumes a stream and reconnects like EventSource,
//     honouring retry: and sending Last-Event-ID.
//
// The package knows nothing about what the events mean.
package sse
