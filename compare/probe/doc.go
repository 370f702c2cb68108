// Package probe measures SSE and WebSocket the same way, against a running
// ssevsws server: what a connection costs to open, a chat message's round
// trip, how a dropped client comes back and whether it lost a tick, and
// what an idle connection costs the server.
//
// It is the measurement client behind three things, so that a number in one
// of them and the matching number in another come from the same code:
//
//   - `ssevsws compare`, which prints Compare's Report as a table or, with
//     -json, as the Report's JSON;
//   - POST /measure, the page's measure button: the server package cannot
//     import this one, so cmd/ssevsws wires Options.Measure into
//     compare.Config.Measure, and the handler answers with the same JSON;
//   - the go test -bench suites in benchmarks/, which call the probes and
//     RawConn directly.
//
// Package probe imports compare (for Transport, the server's Config and
// Server, GET /stats's snapshot and the SSE event names) and never the
// reverse: the server builds and reads without its measurement client, and
// `go list -deps ./compare | grep probe` prints nothing.
//
// Two kinds of client do the measuring. RawConn is hand-written, sends the
// fewest bytes a valid client may send and counts every byte it reads, so
// that the byte figures are the transports' and not a library's; Connect,
// RoundTrip and Idle use it. Reconnect uses the repository's own
// reconnecting clients (sse.Client and ws.Client) instead, because what it
// measures is their policy: how long they wait, and whether they resume
// without losing a tick.
//
// Read the files in this order:
//
//   - target.go: Target, the server to measure, with GET /stats and
//     POST /drop.
//   - sample.go: Budget, how many samples a probe takes, and Summary, what
//     they say (percentiles).
//   - raw.go: RawConn and the messages it reads.
//   - rawdial.go: DialRaw, from the request to the first tick, and the
//     Handshake it records.
//   - rawsse.go, rawws.go: one message of each transport off the wire.
//   - rawchat.go: RawConn.RoundTrip, a chat message up and its echo down
//     (SSE's back channel is POST /chat on a second connection).
//   - internal/wire: the byte-level parsing and framing under RawConn.
//   - connect.go: Connect, dial to first tick.
//   - roundtrip.go: RoundTrip, chat up, echo down.
//   - reconnect.go: Reconnect, drop, resume, lost ticks.
//   - idle.go: Idle, what an idle connection costs the server, measured
//     from inside its process.
//   - compare.go: Compare, every probe on both transports, one Report;
//     format.go: how each value of the Report is written, once for the CLI
//     and the page.
//   - sweep.go: Sweep, the cost curve behind `ssevsws compare -sweep`: CPU
//     per tick and RSS per connection from 100 to 10,000 clients, against
//     a raw write(2) floor (sweepfloor.go), with the clients in a second
//     process (sweepclient.go, whose readers are sink.go's Sink, which the
//     fan-out benchmarks use too) and the chart drawn by sweepsvg.go;
//     sweep_unix.go and sweep_other.go: what only Linux can measure.
//   - storm.go: StormRun, a server restarted under thousands of reconnecting
//     clients of one transport, with or without jitter: how long until all
//     are back, the peak accept rate, failed dials, lost ticks;
//     stormfleet.go: the crowd; stormreport.go: Storm, the four runs side
//     by side behind `ssevsws compare -storm`.
//   - rlimit_unix.go, rlimit_other.go: RaiseFileLimit, for thousands of
//     connections in one process.
package probe
