package probe

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// StormReport is the result of Storm: the four runs side by side (Rows,
// one value per run in Results' order) and each run in full. Its JSON is
// what `ssevsws compare -storm -json` prints.
type StormReport struct {
	Date            time.Time     `json:"date"`
	Go              string        `json:"go"`
	OS              string        `json:"os"`
	Arch            string        `json:"arch"`
	CPUs            int           `json:"cpus"`
	Clients         int           `json:"clients"` // per transport
	IntervalMS      int64         `json:"interval_ms"`
	ShutdownRetryMS int64         `json:"shutdown_retry_ms"`
	JitterMS        int64         `json:"jitter_ms"`
	WSBackoffMS     int64         `json:"ws_backoff_ms"`
	PauseMS         int64         `json:"pause_ms"`
	Wall            string        `json:"wall"` // the whole storm, setup included
	Results         []StormResult `json:"results"`
	Rows            []StormRow    `json:"rows"`
	Notes           []string      `json:"notes,omitempty"`
}

// StormRow is one line of the table: a value per run, nil where there is
// none, and the same values as text (format), as Row has them.
type StormRow struct {
	Key    string     `json:"key"` // stable name for scripts: "resume_all"
	Label  string     `json:"label"`
	Unit   string     `json:"unit"`
	Note   string     `json:"note,omitempty"`
	Values []*float64 `json:"values"`
	Texts  []string   `json:"texts"`
}

// Storm runs StormRun for each of StormCases, one after the other: the
// same crowd, the same restart, with and without jitter, on each
// transport.
func Storm(ctx context.Context, opts StormOptions) (*StormReport, error) {
	opts = opts.WithDefaults()
	began := time.Now()
	rep := &StormReport{
		Date: began.UTC(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Clients: opts.Clients, IntervalMS: opts.Interval.Milliseconds(), ShutdownRetryMS: opts.ShutdownRetry.Milliseconds(),
		JitterMS: opts.Jitter.Milliseconds(), WSBackoffMS: opts.WSBackoff.Milliseconds(), PauseMS: opts.Pause.Milliseconds(),
	}
	for i, c := range StormCases {
		if opts.Progress != nil {
			opts.Progress(Step{N: i + 1, Of: len(StormCases), Name: "storm " + c.Name(),
				Expected: time.Duration(opts.Clients)*2*time.Millisecond + 3*time.Second + opts.Pause})
		}
		res, err := StormRun(ctx, c, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name(), err)
		}
		rep.Results = append(rep.Results, res)
	}
	rep.Wall = time.Since(began).Round(100 * time.Millisecond).String()
	rep.Rows = stormRows(rep.Results)
	rep.Notes = []string{
		fmt.Sprintf("SSE: the shutdown sends each stream retry: %v, plus with jitter a random part of up to %v of its own (compare.Config.RetryJitter, -retry-jitter)",
			opts.ShutdownRetry, opts.Jitter),
		fmt.Sprintf("WebSocket: the shutdown closes with 1001; ws.Client waits a random point in the upper half of its backoff (%v, doubling after each failure). "+
			"It always jitters: \"jitter off\" holds each redial until the full backoff has passed, as a fixed setTimeout(connect, %d) would",
			opts.WSBackoff, opts.WSBackoff.Milliseconds()),
		fmt.Sprintf("the old server's Shutdown runs to its end, and %v more pass, before the new one listens on the same address: redials in between find no server (failed dials)", opts.Pause),
		"the clients run in the server's process and share its CPUs: on a small machine the crowd's own work slows the server's",
	}
	return rep, nil
}

// stormRows builds the table from the runs.
func stormRows(res []StormResult) []StormRow {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	defs := []struct {
		key, label, unit, note string
		v                      func(r StormResult) float64
	}{
		{"first_wait", "first wait", "ms", "end of the connection to the redial: SSE retry:, WS backoff (at most)", func(r StormResult) float64 { return ms(r.FirstWait) }},
		{"spread", "jitter spread", "ms", "the random part of the first wait", func(r StormResult) float64 { return ms(r.Spread) }},
		{"shutdown", "old server's shutdown", "ms", "SSE streams end with their retry:, WebSockets with a close handshake", func(r StormResult) float64 { return ms(r.Shutdown) }},
		{"down", "server down", "ms", "shutdown begins to the new server listening", func(r StormResult) float64 { return ms(r.Down) }},
		{"resume_p50", "half resumed", "ms", "shutdown begins to a client's first tick on its new connection", func(r StormResult) float64 { return ms(r.Resume.P50) }},
		{"resume_all", "all resumed", "ms", "... to the last client's", func(r StormResult) float64 { return ms(r.Resume.Max) }},
		{"peak_accepts", "peak accepts", "/s", "the new server's busiest 100 ms of accept(), ×10", func(r StormResult) float64 { return r.PeakAccepts }},
		{"failed_dials", "failed dials", "", "redials that found no server listening", func(r StormResult) float64 { return float64(r.FailedDials) }},
		{"lost_ticks", "lost ticks", "", "must be 0", func(r StormResult) float64 { return float64(r.Lost) }},
		{"dup_ticks", "duplicated ticks", "", "must be 0", func(r StormResult) float64 { return float64(r.Duplicated) }},
	}
	var rows []StormRow
	for _, d := range defs {
		row := StormRow{Key: d.key, Label: d.label, Unit: d.unit, Note: d.note}
		for _, r := range res {
			v := d.v(r)
			row.Values = append(row.Values, &v)
			row.Texts = append(row.Texts, format(&v, d.unit))
		}
		rows = append(rows, row)
	}
	return rows
}
