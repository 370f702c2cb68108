//go:build js && wasm

package browser_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/web/browser"
)

// record is one thing a client saw: an EventSource event, a WebSocket
// message, or a ws.Client open/error/closed notice.
type record struct {
	kind  string // open, error, hello, tick, echo, gap, closed...
	data  string // event data, echo text, error text
	id    string // EventSource: lastEventId
	state browser.ReadyState
	seq   int64  // ticks
	time  string // ticks
	at    time.Time
}

// recorder collects records from one client and wakes waiters.
type recorder struct {
	name    string
	mu      sync.Mutex
	recs    []record
	changed chan struct{}
}

func newRecorder(name string) *recorder {
	return &recorder{name: name, changed: make(chan struct{}, 1)}
}

func (r *recorder) add(rec record) {
	if rec.at.IsZero() {
		rec.at = time.Now()
	}
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.recs...)
}

// waitFor waits until cond holds for everything recorded so far and returns
// that, or fails the test saying what it waited for and what came.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]record) bool) []record {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		recs := r.snapshot()
		if cond(recs) {
			return recs
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("%s: timed out after %v waiting for %s; got %s", r.name, waitTimeout, what, describe(recs))
		}
	}
}

func (r *recorder) ticks() []int64 { return ticksOf(r.snapshot()) }

func (r *recorder) lastSeq() int64 {
	s := r.ticks()
	if len(s) == 0 {
		return -1
	}
	return s[len(s)-1]
}

func atLeastTicks(n int) func([]record) bool {
	return func(recs []record) bool { return len(ticksOf(recs)) >= n }
}

func pastSeq(seq int64) func([]record) bool {
	return func(recs []record) bool { s := ticksOf(recs); return len(s) > 0 && s[len(s)-1] > seq }
}

func ticksOf(recs []record) []int64 {
	var s []int64
	for _, r := range recs {
		if r.kind == "tick" {
			s = append(s, r.seq)
		}
	}
	return s
}

func ticksBySeq(recs []record) map[int64]record {
	m := map[int64]record{}
	for _, r := range recs {
		if r.kind == "tick" {
			m[r.seq] = r
		}
	}
	return m
}

// indexOf is the index of the first record of kind at or after from, or -1.
func indexOf(recs []record, from int, kind string) int {
	for i := max(from, 0); i < len(recs); i++ {
		if recs[i].kind == kind {
			return i
		}
	}
	return -1
}

func count(recs []record, kind string) int {
	n := 0
	for _, r := range recs {
		if r.kind == kind {
			n++
		}
	}
	return n
}

func lastTickBefore(recs []record, i int) *record {
	for j := i - 1; j >= 0; j-- {
		if recs[j].kind == "tick" {
			return &recs[j]
		}
	}
	return nil
}

func firstTickAfter(recs []record, i int) *record {
	for j := i + 1; j < len(recs); j++ {
		if recs[j].kind == "tick" {
			return &recs[j]
		}
	}
	return nil
}

// describe prints records compactly: runs of ticks as a..b.
func describe(recs []record) string {
	var parts []string
	for i := 0; i < len(recs); {
		r := recs[i]
		if r.kind == "tick" {
			j := i
			for j+1 < len(recs) && recs[j+1].kind == "tick" {
				j++
			}
			parts = append(parts, "ticks "+comparetest.Seqs(ticksOf(recs[i:j+1])))
			i = j + 1
			continue
		}
		s := r.kind
		if r.kind == "open" || r.kind == "error" {
			if r.state != 0 || r.kind == "error" {
				s += "(" + r.state.String() + ")"
			}
		}
		if r.data != "" {
			s += " " + strconv.Quote(truncate(r.data, 80))
		}
		parts = append(parts, s)
		i++
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
