package compare_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// POST /measure answers with the same report as `ssevsws compare -json`,
// measured on a second server: the page's own clients are not dropped.
func TestMeasure(t *testing.T) {
	cfg := comparetest.Fast()
	cfg.Measure = probe.Options{Clients: 20, Duration: 50 * time.Millisecond}.Measure
	ts := comparetest.Start(t, cfg, "127.0.0.1:0")
	viewer, _ := runSSE(t, ts)
	viewer.waitFor(t, "the viewer's first tick", atLeastTicks(1))
	client := newHTTPClient(t)

	resp, err := client.Post(ts.URL("http", "/measure"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /measure: %d", resp.StatusCode)
	}
	var rep probe.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	rows := map[string]probe.Row{}
	for _, r := range rep.Rows {
		rows[r.Key] = r
	}
	for _, key := range []string{"connect_p50", "round_trip_p50"} {
		r, ok := rows[key]
		if !ok || r.SSE == nil || r.WS == nil || *r.SSE <= 0 || *r.WS <= 0 {
			t.Errorf("row %s: %+v; want a measured value for both transports", key, r)
		}
	}
	if rep.Server != "in-process" {
		t.Errorf("measured %q; want a second, in-process server", rep.Server)
	}
	// Only the viewer ever connected here: it may have come back (a clock
	// loop late on a busy machine asks clients to resume), but no probe
	// opened a connection and nothing was dropped.
	if st := ts.Stats(); st.SSE.Dropped != 0 || st.SSE.Connects-st.SSE.Resumes != 1 || st.WS.Connects != 0 {
		t.Errorf("the measurement touched this server: sse %+v, ws %+v", st.SSE, st.WS)
	}
	seqs, _ := viewer.snapshot()
	comparetest.CheckNoLoss(t, "viewer", seqs)

	// One at a time, and not for foreign pages.
	ts.SetMeasuring(true)
	busy, err := client.Post(ts.URL("http", "/measure"), "", nil)
	ts.SetMeasuring(false)
	if err != nil {
		t.Fatal(err)
	}
	busy.Body.Close()
	if busy.StatusCode != http.StatusConflict {
		t.Errorf("while another runs: %d, want 409", busy.StatusCode)
	}
	req, _ := http.NewRequest("POST", ts.URL("http", "/measure"), nil)
	req.Header.Set("Origin", "http://evil.example")
	foreign, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	foreign.Body.Close()
	if foreign.StatusCode != http.StatusForbidden {
		t.Errorf("from a foreign page: %d, want 403", foreign.StatusCode)
	}
}

// A server with no measurement client wired in (a library user's, say)
// says so with 501 and a reason, instead of measuring nothing.
func TestMeasureNotWiredIn(t *testing.T) {
	ts := comparetest.Start(t, comparetest.Fast(), "127.0.0.1:0")
	resp, err := newHTTPClient(t).Post(ts.URL("http", "/measure"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Error string }
	if resp.StatusCode != http.StatusNotImplemented || json.Unmarshal(data, &e) != nil || e.Error == "" {
		t.Errorf("POST /measure without Config.Measure: %d %q; want 501 with {\"error\": \"<why>\"}", resp.StatusCode, data)
	}
}
