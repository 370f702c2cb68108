// Package ws is the WebSocket side of ssevsws, built on github.com/coder/websocket.
//
// One connection carries both directions: the server pushes clock ticks
// (and resume gaps) down, the client sends chat messages up and gets each one
// echoed back on the same socket. That is the point the project makes about
// WebSocket: it is full duplex, so it needs no back channel.
//
// Read the files in this order:
//
//   - message.go: the JSON messages on the wire and their encoders.
//   - handler.go: the server side (one writer goroutine, one reader goroutine);
//     native only (//go:build !js), as coder/websocket's own server files are.
//   - conn.go:    one client connection (Dial, Read, Chat); builds for
//     GOOS=js GOARCH=wasm too, where coder/websocket uses the browser's WebSocket.
//   - client.go:  a client that keeps a Conn open: redials with backoff and
//     resumes from the last tick it saw, so no tick is lost.
//
// The package knows the message formats but not where ticks come from: the
// server hands the Handler a Feed for each connection.
package ws
