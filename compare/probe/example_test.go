package probe_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// startServer runs a server for an example, which has no *testing.T to
// hand to comparetest.Start. A fast clock and retry keep the examples
// short.
func startServer() *comparetest.Server {
	s, err := comparetest.Run(compare.Config{
		Interval: 20 * time.Millisecond,
		Retry:    30 * time.Millisecond,
		ChatRate: -1,
		Logger:   comparetest.Logger(),
	}, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return s
}

// Compare measures a running server on both transports. Against a server
// in another process it cannot see memory, so the idle rows are empty;
// with a nil Target it starts a server of its own and fills them too.
func ExampleCompare() {
	s := startServer()
	defer s.Stop()
	tg, err := probe.NewTarget(s.URL("http", "/"))
	if err != nil {
		log.Fatal(err)
	}
	rep, err := probe.Compare(context.Background(), probe.Options{
		Target:    tg,
		Duration:  10 * time.Millisecond, // each probe takes its minimum of samples
		ChatPace:  -1,                    // this server has no chat rate limit
		Reconnect: probe.ReconnectOptions{WSBackoff: 20 * time.Millisecond},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range rep.Rows {
		if row.Key == "lost_ticks" {
			fmt.Printf("%s: SSE %v, WebSocket %v\n", row.Label, *row.SSE, *row.WS)
		}
		if row.Key == "idle_rss" {
			fmt.Printf("%s: %s\n", row.Label, row.Note)
		}
	}
	fmt.Println(rep.Results[compare.SSE].Reconnect.Drops, "drops")
	// Output:
	// idle memory per connection (RSS): n/a: needs the in-process server
	// lost ticks: SSE 0, WebSocket 0
	// 3 drops
}

// NewTarget takes the server's root URL, with a path prefix when a proxy
// serves the demo under one; it refuses anything that is not an http:// or
// https:// root.
func ExampleNewTarget() {
	tg, err := probe.NewTarget("https://example.org/demo")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tg.Base)

	_, err = probe.NewTarget("localhost:8080")
	fmt.Println(err)

	s := startServer()
	defer s.Stop()
	tg, err = probe.NewTarget(s.URL("http", "/"))
	if err != nil {
		log.Fatal(err)
	}
	defer tg.Close()
	st, err := tg.Stats(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("interval", time.Duration(st.IntervalMS)*time.Millisecond)
	// Output:
	// https://example.org/demo/
	// probe: target "localhost:8080": want http://host:port or https://host:port
	// interval 20ms
}

// DialRaw opens a connection and reads up to its first tick; Next reads
// the messages that follow, and RoundTrip sends a chat message and waits
// for its echo, counting the bytes both ways.
func ExampleDialRaw() {
	s := startServer()
	defer s.Stop()
	tg, err := probe.NewTarget(s.URL("http", "/"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, t := range compare.Transports {
		c, err := probe.DialRaw(ctx, tg, t, "")
		if err != nil {
			log.Fatal(err)
		}
		hs := c.Handshake()
		m, err := c.Next(ctx)
		for err == nil && m.Kind != probe.MsgTick {
			m, err = c.Next(ctx)
		}
		if err != nil {
			log.Fatal(err)
		}
		rt, err := c.RoundTrip(ctx, "hello")
		if err != nil {
			log.Fatal(err)
		}
		c.Close()
		fmt.Printf("%s: named %t, next tick %t, round trip counted %t\n",
			t.Name(), c.Client() != "", m.Seq == hs.Seq+1, rt.Up > 0 && rt.Down > 0)
	}
	// Output:
	// SSE: named true, next tick true, round trip counted true
	// WebSocket: named true, next tick true, round trip counted true
}

// A server answers POST /measure with what Config.Measure returns; the
// binary wires in the probes, as the server package does not import them.
func ExampleOptions_Measure() {
	cfg := compare.DefaultConfig()
	cfg.Measure = probe.Options{Clients: 200, Duration: 500 * time.Millisecond}.Measure
	srv, err := compare.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	// srv.Serve(listener) now answers POST /measure with a probe.Report.
}

// A Sink's clients only read and count: a round is over when every client
// has read the bytes the round was to bring.
func ExampleSink() {
	sk := probe.NewSink(2)
	var servers []net.Conn
	for range 2 {
		server, client := net.Pipe()
		servers = append(servers, server)
		sk.Add(client)
	}
	sk.Expect(len("tick"))
	for _, s := range servers {
		go s.Write([]byte("tick")) // a pipe's write waits for its reader
	}
	if err := sk.Wait(10 * time.Second); err != nil {
		fmt.Println(err)
	}
	fmt.Println(sk.Total(), "bytes")
	sk.Close()
	// Output: 8 bytes
}
