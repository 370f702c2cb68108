// Package compare is the ssevsws demo: one clock carried over both
// transports, side by side, on one router.
//
// Read the files in this order:
//
//   - clock.go:  what a tick is; seq is a pure function of wall time, so any
//     tick can be re-created for a client that comes back.
//   - hub.go:    the fan-out: one ticker, a bounded queue per client, slow
//     clients dropped instead of waited for.
//   - sse.go:    GET /sse and its back channel POST /chat.
//   - ws.go:     GET /ws, the hub seen as a ws.Feed.
//   - router.go: every endpoint on gorilla/mux, CORS with rs/cors.
//   - server.go: Config, start, graceful shutdown.
//   - hijack.go: the WebSockets http.Server forgets, kept so that a
//     shutdown can cut a stuck one.
//   - stats.go:  the counters behind GET /stats.
//   - limit.go:  optional caps on open connections.
//   - probe*.go: the measurements that ssevsws compare and the benchmarks
//     share, so both measure the transports the same way (probe.go first).
package compare
