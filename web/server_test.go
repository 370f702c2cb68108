//go:build !js

package web_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// testServer is the real server on a loopback port. stop and start restart
// it on the same address, as a teacher does with Ctrl-C: the page must not
// notice more than an outage.
type testServer struct {
	t    *testing.T
	addr string
	logs *testLog
	srv  *comparetest.Server   // the one running now; replaced by start
	tune func(*compare.Config) // changes to the page tests' configuration, or nil
}

// startServerWith runs the real server on a loopback port until the test
// ends, with tune (if not nil) applied to the page tests' configuration.
func startServerWith(t *testing.T, tune func(*compare.Config)) *testServer {
	t.Helper()
	ts := &testServer{t: t, addr: "127.0.0.1:0", logs: &testLog{t: t}, tune: tune}
	ts.start()
	t.Cleanup(func() {
		ts.stop()
		ts.logs.close()
	})
	return ts
}

// start starts a new server on the address of the last one (any free port
// the first time).
func (ts *testServer) start() {
	ts.t.Helper()
	cfg := compare.Config{
		Interval: tickInterval,
		Retry:    sseRetry,
		// Short probes: the Measure subtest checks the table, not numbers.
		Measure: probe.Options{Clients: 20, Duration: 50 * time.Millisecond}.Measure,
		Logger:  slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if ts.tune != nil {
		ts.tune(&cfg)
	}
	srv, err := comparetest.Run(cfg, ts.addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.srv, ts.addr = srv, srv.Addr
}

// stop shuts the running server down, as Ctrl-C does.
func (ts *testServer) stop() {
	ts.t.Helper()
	ts.srv.StopChecked(ts.t)
}

func (ts *testServer) stats() compare.StatsSnapshot { return ts.srv.Stats() }

func (ts *testServer) url() string { return ts.srv.URL("http", "") }

// testLog sends the server's warnings to t.Log until the server is down.
type testLog struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf("server: %s", bytes.TrimSpace(b))
	}
	return len(b), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}
