package main

import (
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// The README's per-tick byte figures are the server's own definition
// (tick_wire_bytes in GET /stats, which the probes' byte count is held to),
// so they cannot drift from what the page and ssevsws compare show: the
// experiment's figures at the default 1 s tick, and the Numbers table's
// row, measured by ssevsws compare at its in-process server's 100 ms tick.
func TestReadmeTickBytesAreTheServers(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		what     string
		interval time.Duration
		re       *regexp.Regexp
	}{
		{"experiment 1", time.Second, regexp.MustCompile(`one tick on the wire\*\*: (\d+) B for SSE and (\d+) B for WebSocket`)},
		{"the compare table", probe.InProcessConfig().Interval, regexp.MustCompile(`wire bytes per tick\s+(\d+) B\s+(\d+) B`)},
	} {
		m := tt.re.FindSubmatch(readme)
		if m == nil {
			t.Errorf("README: %s: no per-tick byte figures found (%s)", tt.what, tt.re)
			continue
		}
		cfg := comparetest.Fast()
		cfg.Interval = tt.interval
		st := comparetest.Start(t, cfg, "127.0.0.1:0").Stats()
		sse, _ := strconv.Atoi(string(m[1]))
		ws, _ := strconv.Atoi(string(m[2]))
		if sse != st.TickWireBytes.SSE || ws != st.TickWireBytes.WS {
			t.Errorf("README: %s says %d B SSE, %d B WebSocket per tick; the server (tick %v) says %d and %d",
				tt.what, sse, ws, tt.interval, st.TickWireBytes.SSE, st.TickWireBytes.WS)
		}
	}
}
