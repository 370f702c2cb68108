package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ssevsws/ssevsws/compare/probe"
)

// ssevsws compare -storm -json restarts its server under a small crowd of
// each transport, with and without jitter, and prints a report with every
// run and row, in which nobody lost or repeated a tick; without -json the
// same as a table with a column per run.
func TestCompareStorm(t *testing.T) {
	defer goleak.VerifyNone(t)
	var stdout, stderr strings.Builder
	args := []string{"compare", "-storm", "-storm-clients", "20", "-storm-jitter", "300ms", "-json"}
	if code := run(context.Background(), args, noEnv, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var rep probe.StormReport
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("output is not the storm report as JSON: %v\n%s", err, stdout.String())
	}
	if rep.Clients != 20 || rep.JitterMS != 300 || rep.Go == "" || len(rep.Results) != len(probe.StormCases) {
		t.Errorf("report header %+v", rep)
	}
	rows := map[string]probe.StormRow{}
	for _, r := range rep.Rows {
		rows[r.Key] = r
	}
	for _, key := range []string{"first_wait", "spread", "shutdown", "down", "resume_p50", "resume_all", "peak_accepts", "failed_dials", "lost_ticks", "dup_ticks"} {
		r, ok := rows[key]
		if !ok || len(r.Values) != len(rep.Results) {
			t.Errorf("row %q: %+v", key, r)
			continue
		}
		for i, v := range r.Values {
			switch {
			case v == nil:
				t.Errorf("row %q: no value for %s", key, rep.Results[i].Name())
			case (key == "lost_ticks" || key == "dup_ticks") && *v != 0:
				t.Errorf("%s: %s %v, want 0", rep.Results[i].Name(), key, *v)
			case (key == "resume_all" || key == "peak_accepts") && *v <= 0:
				t.Errorf("%s: %s %v, want more than 0", rep.Results[i].Name(), key, *v)
			}
		}
	}
	if !strings.Contains(stderr.String(), "ssevsws compare: 1/4 storm SSE, jitter off") {
		t.Errorf("progress:\n%s", stderr.String())
	}

	stdout.Reset()
	printStorm(&stdout, &rep)
	for _, want := range []string{"SSE, jitter off", "WebSocket, jitter on", "all resumed", "peak accepts", "failed dials", "lost ticks"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table has no %q:\n%s", want, stdout.String())
		}
	}
}

// -storm is a mode of its own: the probes' flags do not go with it, and its
// own flags need it.
func TestCompareStormFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-storm", "-url", "127.0.0.1:1"},
		{"-storm", "-sweep"},
		{"-storm", "-duration", "1s"},
		{"-storm", "-storm-clients", "0"},
		{"-storm", "-storm-jitter", "0s"},
		{"-storm-clients", "10"},
		{"-storm-jitter", "1s"},
		{"-storm", "-storm-pause", "-1s"},
		{"-storm-pause", "1s"},
	} {
		var stderr strings.Builder
		if code := runCompare(context.Background(), args, noEnv, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), "storm") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a word about -storm", args, code, stderr.String())
		}
	}
}
