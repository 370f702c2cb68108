package probe_test

import (
	"context"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// A small storm on each transport, with and without jitter: every client
// comes back on the new server, none loses or repeats a tick, and the
// report's figures are the ones the restart must produce. The waits are
// short so that it runs in a few seconds, and nothing depends on how fast
// the machine is: only on every client coming back.
func TestStorm(t *testing.T) {
	const n = 20
	opts := probe.StormOptions{Clients: n, Jitter: 200 * time.Millisecond, ShutdownRetry: 50 * time.Millisecond,
		WSBackoff: 50 * time.Millisecond, Interval: 50 * time.Millisecond, Pause: 300 * time.Millisecond, Timeout: 30 * time.Second}
	var steps []string
	opts.Progress = func(s probe.Step) { steps = append(steps, s.Name) }
	rep, err := probe.Storm(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 || steps[0] != "storm SSE, jitter off" {
		t.Errorf("progress steps %q", steps)
	}
	if rep.Clients != n || rep.IntervalMS != 50 || rep.JitterMS != 200 || rep.Wall == "" || len(rep.Results) != 4 {
		t.Errorf("report header %+v", rep)
	}
	for i, r := range rep.Results {
		if r.StormCase != probe.StormCases[i] {
			t.Errorf("result %d is %v, want %v", i, r.StormCase, probe.StormCases[i])
		}
		if r.Lost != 0 || r.Duplicated != 0 {
			t.Errorf("%s: %d lost, %d duplicated ticks", r.Name(), r.Lost, r.Duplicated)
		}
		if r.Resume.N != n || r.Resume.Max < r.Resume.P50 || r.Resume.Max < r.Down {
			t.Errorf("%s: resume %+v, down %v", r.Name(), r.Resume, r.Down)
		}
		// Every client's first wait (at most 250ms) ends while no server
		// listens (for 300ms after the shutdown): the redials fail, and
		// are counted, until the new server is there.
		if r.Down < opts.Pause || r.PeakAccepts <= 0 || r.Errors < n || r.FailedDials == 0 || r.FailedDials > r.Errors-n {
			t.Errorf("%s: peak accepts %v/s, %d errors, %d failed dials", r.Name(), r.PeakAccepts, r.Errors, r.FailedDials)
		}
		accepted := 0
		for _, a := range r.Accepts {
			accepted += a
		}
		if accepted < n {
			t.Errorf("%s: the new server accepted %d connections before all %d were back", r.Name(), accepted, n)
		}
		wantSpread := map[probe.StormCase]time.Duration{
			{Transport: compare.SSE, Jitter: true}: 200 * time.Millisecond,
			{Transport: compare.WS, Jitter: true}:  25 * time.Millisecond,
		}[r.StormCase]
		if r.Spread != wantSpread {
			t.Errorf("%s: spread %v, want %v", r.Name(), r.Spread, wantSpread)
		}
		// Nobody redials before the first wait's fixed part, which the
		// new server's clients all waited after the shutdown began.
		if r.Resume.Min < r.FirstWait-r.Spread {
			t.Errorf("%s: a client was back after %v, before its first wait (%v) was over", r.Name(), r.Resume.Min, r.FirstWait-r.Spread)
		}
	}
	keys := map[string]bool{}
	for _, row := range rep.Rows {
		keys[row.Key] = true
		if len(row.Values) != 4 || len(row.Texts) != 4 {
			t.Errorf("row %s: %d values, %d texts", row.Key, len(row.Values), len(row.Texts))
		}
	}
	for _, k := range []string{"resume_all", "resume_p50", "peak_accepts", "failed_dials", "lost_ticks", "dup_ticks", "spread"} {
		if !keys[k] {
			t.Errorf("no row %q", k)
		}
	}
}
