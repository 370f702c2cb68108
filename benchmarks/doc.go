// Package benchmarks holds the go test -bench suites that contrast the SSE
// and WebSocket transports: connection cost, reconnect behaviour,
// directionality and fan-out. It contains no product code.
//
// Run them all, and compare runs with benchstat:
//
//	go test -run='^$' -bench=. -benchmem -count=6 ./benchmarks/ | tee new.txt
//	go run golang.org/x/perf/cmd/benchstat@latest new.txt
//
// or one family, for example -bench=Fanout/transport=ws. README.md in this
// folder has the figures measured on this project's kind of machine, with
// their dates and commands. Plain go test
// ./benchmarks/ runs only the tests: they pin down byte for byte what a tick
// is on the wire (wire_test.go), and check the benchmarks' own machinery
// (the load processes, the latency histogram, the fan-out's allocations).
//
// Every benchmark has a sub-benchmark per transport (transport=sse,
// transport=ws, and where it helps transport=tcp, a bare TCP floor) and
// reports its own metrics next to ns/op, in units that say what they count:
//
//	BenchmarkConnect    dial to first tick: ns/op, p50-ns, handshake-B,
//	                    first-tick-B, server-allocs/op
//	BenchmarkIdleConn   1000 idle connections: heap-B/conn, stack-B/conn,
//	                    goroutines/conn, rss-B/conn (tcp: the floor)
//	BenchmarkFanout     one tick to N clients (clients=1, 100, 1000, 2000,
//	                    5000): server-ns/event/client,
//	                    floor-ns/event/client, x-floor, ns/event/client,
//	                    allocs/event/client, wire-B/event
//	BenchmarkSteady     5000 clients of one transport at a 100 ms tick,
//	                    and 5000 more on the raw floor, connected at once;
//	                    0.5 s windows of server ticks and of floor ticks in
//	                    turn, $SSEVSWS_STEADY (10s) of each:
//	                    server-ns/event, floor-ns/event, x-floor (median
//	                    over adjacent windows), p50-ms, p99-ms,
//	                    p99-x-floor, lost-ticks
//	BenchmarkRoundTrip  chat up, echo down: ns/op, p50-ns, up-B/op,
//	                    down-B/op
//	BenchmarkChatHop    the same across two instances and NATS: SSE with
//	                    the POST on the stream's instance, SSE through the
//	                    broker, WebSocket; ns/op, p50-ns
//	BenchmarkReconnect  drop, then the first resumed tick: ns/op,
//	                    wait-ns/op, lost-ticks, dup-ticks
//	BenchmarkSlowConsumer  1000 SSE + 1000 WS clients, then one stuck client
//	                    of each: delivery p99 before and after, how soon the
//	                    stuck ones are dropped and counted
//	BenchmarkSoak       10,000 connections held at 1 tick/s for
//	                    $SSEVSWS_SOAK (20s), then the same against the raw
//	                    floor: delivery p50/p99 and their ratios to the
//	                    floor's, drops, RSS and goroutines at start and end;
//	                    SSEVSWS_SOAK_SERVERS=3 spreads the server over
//	                    processes, past one process's file limit
//
// The raw floor, wherever there is one, is a plain loop that write(2)s the
// same pre-encoded bytes to every socket: no goroutine, queue or deadline
// per connection. On loopback most of a tick's cost is that write, which
// also runs the receiver's TCP path; so read the CPU figures as x-floor, a
// ratio to a floor measured in the same run.
//
// The last three run once per count and take 15-90 s each; leave them out
// of a benchstat run with
// -bench='Connect|IdleConn|Fanout|RoundTrip|ChatHop|Reconnect'.
//
// Each benchmark's comment says what it measures and what to notice. They
// measure with the probes of package compare/probe, the same code behind
// `ssevsws compare`, so the benchmarks and the command agree, and start
// their servers with compare/comparetest, as every other test layer does.
//
// Everything runs on loopback (127.0.0.1) with the server in the test
// process, because the server's memory, goroutines and allocations can only
// be seen from inside it. BenchmarkFanout starts its clients in a second
// process (this test binary again), so that the CPU time it reports is the
// server's alone; BenchmarkSteady, BenchmarkSoak and BenchmarkSlowConsumer
// do the same with their load processes, and BenchmarkSoak can run the
// server itself as several processes. The benchmarks raise the soft limit
// on open files to the hard limit; BenchmarkFanout/clients=5000 needs about
// 10,100, BenchmarkSteady 10,200 and BenchmarkIdleConn about 2100, and they
// skip when the limit is lower. On a
// shared or small machine, bound the heavy ones with -benchtime, e.g.
// -bench=Fanout -benchtime=20x.
//
// The files, one job each:
//
//	helpers_test.go      the server a benchmark measures (comparetest's, with
//	                     its probe.Target), quietConfig, small helpers
//	main_test.go         TestMain: the leak check, or a helper process
//	connect_test.go      BenchmarkConnect, and the client's own allocations
//	idle_test.go         BenchmarkIdleConn, and its bare TCP floor
//	fanout_test.go       BenchmarkFanout and its raw TCP floor (probe.WireTick: the bytes)
//	fanoutclient_test.go the fan-out's client process (probe.Sink reads)
//	steady_test.go       BenchmarkSteady, and its alternating schedule
//	floor_test.go        rawFloor, the raw floor server of Steady and Soak
//	phase_test.go        openPhase, runPhase: one steady load opened and
//	                     held against one fleet
//	serverproc_test.go   fleets: the server or floor in this process, or in
//	                     server processes
//	floorproc_test.go    the floor and the server processes work (tests)
//	allocs_test.go       the fan-out allocates nothing per client (no -race)
//	roundtrip_test.go    BenchmarkRoundTrip
//	broker_test.go       BenchmarkChatHop, its two instances and embedded NATS
//	reconnect_test.go    BenchmarkReconnect
//	slow_test.go         BenchmarkSlowConsumer and its stuck clients
//	soak_test.go         BenchmarkSoak
//	loadproc_test.go     starting and driving the load processes of the
//	                     steady, soak and slow-consumer benchmarks
//	loadclient_test.go   inside a load process: its clients and what they saw
//	bindport_*_test.go   crowds from one source address: the port is
//	                     chosen at connect, not at bind
//	histogram_test.go    the latency histogram the load processes fill
//	wire_test.go         a tick on the wire, byte for byte
//	cputime_*_test.go    the process's CPU time, where the system tells it
package benchmarks
