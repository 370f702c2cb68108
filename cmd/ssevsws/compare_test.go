package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// ssevsws compare -json runs every probe against an in-process server and
// prints a report that parses, with every row and no lost tick. Progress
// goes to stderr as plain lines, since stderr is not a terminal here.
func TestCompareJSON(t *testing.T) {
	defer goleak.VerifyNone(t)
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"compare", "-duration", "50ms", "-clients", "20", "-json"}, noEnv, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var rep probe.Report
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("output is not the report as JSON: %v\n%s", err, stdout.String())
	}
	if rep.Server != "in-process" || rep.Clients != 20 || rep.Go == "" || rep.IntervalMS <= 0 {
		t.Errorf("report header %+v", rep)
	}
	rows := map[string]probe.Row{}
	for _, r := range rep.Rows {
		rows[r.Key] = r
	}
	for _, key := range []string{"connect_p50", "connect_p99", "handshake_bytes", "first_tick_p50", "tick_wire_bytes",
		"idle_rss", "idle_heap", "idle_goroutines", "round_trip_p50", "round_trip_p99", "round_trip_bytes",
		"reconnect_wait_p50", "resume_p50", "lost_ticks"} {
		r, ok := rows[key]
		if !ok {
			t.Errorf("no row %q", key)
			continue
		}
		if r.SSE == nil || r.WS == nil {
			t.Errorf("row %q: a value is missing: %+v", key, r)
		}
	}
	if r := rows["lost_ticks"]; r.SSE == nil || *r.SSE != 0 || r.WS == nil || *r.WS != 0 {
		t.Errorf("lost ticks: %+v", r)
	}
	if r := rows["tick_wire_bytes"]; r.SSE != nil && r.WS != nil && *r.SSE <= *r.WS {
		t.Errorf("an SSE tick (%v B) should be larger than a WebSocket one (%v B)", *r.SSE, *r.WS)
	}
	if rep.Results[compare.WS] == nil || rep.Results[compare.WS].Idle == nil {
		t.Error("no detailed results")
	}
	if !strings.Contains(stderr.String(), "ssevsws compare: 1/8 connect SSE") || strings.Contains(stderr.String(), "\r") {
		t.Errorf("progress on a non-terminal should be plain lines:\n%q", stderr.String())
	}
}

// Against -url it prints the table; idle memory cannot be measured there
// and says so.
func TestCompareTableAgainstURL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every probe for a few seconds")
	}
	defer goleak.VerifyNone(t)
	srv := comparetest.Start(t, compare.Config{Interval: 50 * time.Millisecond, Retry: 20 * time.Millisecond,
		ChatRate: -1, Logger: comparetest.Logger()}, "127.0.0.1:0")
	// Stopped before goleak looks (deferred calls run before t.Cleanup);
	// the cleanup still reports a failed stop.
	defer srv.Stop()

	var stdout, stderr strings.Builder
	code := runCompare(context.Background(), []string{"-url", srv.Addr, "-duration", "50ms", "-pace", "0"}, noEnv, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"SSE", "WebSocket", "SSE ÷ WS", "connect p50", "handshake bytes", "first tick latency p50",
		"wire bytes per tick", "idle memory per connection", "n/a", "round trip p50", "resume time p50", "lost ticks", srv.URL("http", "")} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestCompareBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-clients", "0"},
		{"-duration", "-1s"},
		{"-url", "ftp://x"},
		{"extra"},
		{"-nope"},
		{"-sweep", "-url", "127.0.0.1:1"},
		{"-sweep", "-clients", "10"},
		{"-sweep", "-sweep-clients", "0"},
		{"-sweep", "-sweep-clients", "10,,20"},
		{"-sweep-clients", "10"},
		{"-svg", "cost.svg"},
	} {
		var stderr strings.Builder
		if code := runCompare(context.Background(), args, noEnv, io.Discard, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a reason", args, code, stderr.String())
		}
	}
	var stderr strings.Builder
	if code := run(context.Background(), []string{"compare", "-h"}, noEnv, io.Discard, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "-url") || !strings.Contains(stderr.String(), "-json") || !strings.Contains(stderr.String(), "-sweep-clients") {
		t.Errorf("compare -h: exit %d\n%s", code, stderr.String())
	}
}

// init makes this test binary the client process of ssevsws compare
// -sweep, as the ssevsws binary is for itself: started with
// probe.SweepClientEnv set, it runs `ssevsws compare` with that
// environment, the path the binary takes. It is init and not TestMain so
// that it runs before the testing flags are parsed.
func init() {
	if os.Getenv(probe.SweepClientEnv) != "" {
		os.Exit(run(context.Background(), []string{"compare"}, os.Getenv, os.Stdout, os.Stderr))
	}
}

// ssevsws compare -sweep -json, with tiny counts and windows, end to end:
// a row per count and transport with the server's and the floor's figures,
// the chart written as SVG with every series in it, and the same report
// as a table.
func TestCompareSweep(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the sweep is Linux only")
	}
	defer goleak.VerifyNone(t)
	svg := filepath.Join(t.TempDir(), "cost.svg")
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"compare", "-sweep", "-sweep-clients", "10,20", "-duration", "10ms", "-json", "-svg", svg},
		noEnv, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var rep probe.SweepReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("output is not the sweep report as JSON: %v\n%s", err, stdout.String())
	}
	if len(rep.Clients) != 2 || rep.Clients[0] != 10 || rep.Clients[1] != 20 || rep.Window != "10ms" || len(rep.Rows) != 4 {
		t.Fatalf("report %+v", rep)
	}
	for i, r := range rep.Rows {
		if r.Clients != rep.Clients[i/2] || r.Transport != compare.Transports[i%2] || r.CPU <= 0 || r.FloorCPU <= 0 ||
			r.XFloor <= 0 || r.Rounds < 5 || r.FloorRounds < 5 {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	for _, want := range []string{"1/8 SSE, 10 clients", "8/8 floor (WebSocket bytes), 20 clients", "chart written to " + svg} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	chart, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	// The chart's content is probe's to test (TestSweep); here: the CLI
	// wrote a whole SVG document that names every series.
	if err := xml.Unmarshal(chart, new(struct{})); err != nil {
		t.Fatalf("the chart is not XML: %v", err)
	}
	for _, s := range probe.SweepSeries {
		if !bytes.Contains(chart, []byte(">"+s+"<")) {
			t.Errorf("the chart does not name %q", s)
		}
	}

	var table strings.Builder
	printSweep(&table, &rep)
	for _, want := range []string{"clients", "CPU ns/tick", "floor ns/tick", "× floor", "RSS KiB/conn", "floor KiB/conn",
		"\n10 ", "\n20 ", "WebSocket", "SSE", "×"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}
