// Package compare is the ssevsws server: one clock carried over both
// transports, side by side, on one router.
//
// Read the files in this order:
//
//   - clock.go:     what a tick is; seq is a pure function of wall time, so
//     any tick can be re-created for a client that comes back.
//   - transport.go: the two transports' names.
//   - hub.go:       the fan-out: one ticker, each tick encoded once per
//     transport and handed to the engine (package fanout), which writes it
//     to every socket with no goroutine per connection; slow clients
//     dropped instead of waited for. publish.go: PublishNext, a tick out of
//     schedule for benchmarks that time one fan-out.
//   - ssemsg.go:    the events of GET /sse and their encoding, as
//     ws/message.go is for WebSocket.
//   - sse.go:       GET /sse and its back channel POST /chat; ssedirect.go:
//     the direct path, an HTTP/1.1 stream handed to the engine after its
//     header (HTTP/2 and TLS streams stay on the handler's goroutine).
//   - ws.go:        GET /ws, the hub seen as a ws.Feed.
//   - route.go:     several instances behind one address: the instance
//     name, and the Router that carries an SSE chat to the instance holding
//     the stream (a WebSocket's chat never needs one).
//   - router.go:    every endpoint on gorilla/mux, CORS with rs/cors.
//   - server.go:    Config, start, graceful shutdown.
//   - measure.go:   POST /measure: the rules around a measurement that the
//     binary wires in (Config.Measure).
//   - hijack.go:    the connections http.Server forgets once they are taken
//     over (WebSockets, SSE on the direct path), kept so that a shutdown
//     can cut a stuck one.
//   - stats.go:     the counters behind GET /stats.
//   - limit.go:     optional caps on open connections, and detach: how a
//     connection that outlives its handler keeps its place under the cap
//     and in a shutdown's wait.
//
// Sub-packages: compare/probe is the measurement client (`ssevsws compare`,
// POST /measure, benchmarks/); it imports this package, never the other way
// round. compare/broker is the Router on NATS, and the embedded NATS
// server; the binary wires it in, and this package does not import it
// either. compare/comparetest runs a real Server for tests, as
// net/http/httptest does for handlers.
package compare
