package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/broker"
	"github.com/ssevsws/ssevsws/compare/comparetest"
)

func TestBrokerFlagsAreChecked(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-broker", "nats://127.0.0.1:4222", "-broker-embed", "127.0.0.1:4222"}, "give one"},
		{[]string{"-broker", "http://127.0.0.1:4222"}, "want nats://host:port"},
		{[]string{"-broker", "nats://127.0.0.1"}, "want nats://host:port"},
		{[]string{"-broker-embed", "4222"}, "want host:port"},
		{[]string{"-broker-timeout", "0s"}, "must be more than 0"},
	} {
		var stderr strings.Builder
		if code := run(context.Background(), tt.args, noEnv, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
	var stderr strings.Builder
	run(context.Background(), []string{"-h"}, noEnv, io.Discard, &stderr)
	for _, flag := range []string{"-instance", "-broker", "-broker-embed", "-broker-timeout"} {
		if !strings.Contains(stderr.String(), flag+" ") {
			t.Errorf("help does not mention %s", flag)
		}
	}
}

// The binary's own wiring, in this process: instance A embeds the broker
// (on a free port), instance B connects to it, a chat that B takes for A's
// stream is delivered by A; both stop cleanly on their signal, and leave
// no goroutine behind: the NATS connections and the embedded server
// included.
func TestServeWithEmbeddedBroker(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first: runs after the servers' cleanups
	logA := &comparetest.LogBuffer{}
	urlA, stopA := startRunLogging(t, logA, "-addr", "127.0.0.1:0", "-instance", "A", "-interval", "100ms", "-broker-embed", "127.0.0.1:0")
	m := embeddedURL.FindStringSubmatch(logA.String())
	if m == nil {
		t.Fatalf("no embedded broker URL in the log:\n%s", logA)
	}
	urlB, stopB := startRun(t, "-addr", "127.0.0.1:0", "-instance", "B", "-interval", "100ms", "-broker", m[1])

	addrA := strings.TrimSuffix(strings.TrimPrefix(urlA, "http://"), "/")
	s := openRawStream(t, addrA)
	if s.hello.Instance != "A" {
		t.Errorf("hello names %q, want A", s.hello.Instance)
	}
	client := httpClient(t)
	if r := postChat(t, client, urlB+"chat", s.hello.Client, "via B"); r.Status != 202 || r.TakenBy != "B" || r.Delivered != "A" || r.Via != "broker" {
		t.Errorf("chat to B for A's stream: %+v; want 202 taken by B, delivered by A, via broker", r)
	}
	s.echoes(t, map[string]bool{"via B": true})
	s.conn.Close()
	client.CloseIdleConnections()
	if code := stopB(); code != 0 {
		t.Errorf("B exited %d", code)
	}
	if code := stopA(); code != 0 {
		t.Errorf("A exited %d", code)
	}
}

// ssevsws compare -url against an instance with a broker says so: its
// round trips are local, and a chat that lands elsewhere adds a broker hop.
func TestCompareShowsTheBrokerHop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every probe for a few seconds")
	}
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first: runs after the servers' cleanups
	ns, err := broker.Embed("127.0.0.1:0", comparetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	r, err := broker.Connect(broker.Config{URL: ns.URL(), Instance: "A", Logger: comparetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	srv := comparetest.Start(t, compare.Config{Interval: 50 * time.Millisecond, Retry: 20 * time.Millisecond,
		ChatRate: -1, Instance: "A", Router: r, Logger: comparetest.Logger()}, "127.0.0.1:0")
	var stdout, stderr strings.Builder
	if code := runCompare(context.Background(), []string{"-url", srv.Addr, "-duration", "50ms", "-pace", "0"}, noEnv, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "instance A routes SSE chat through a broker (up;") {
		t.Errorf("the table does not show the broker:\n%s", stdout.String())
	}
}
