package benchmarks

import (
	"sync/atomic"
	"testing"
	"time"
)

// hist counts durations in buckets: 10µs wide below 1ms, 100µs wide below
// 100ms, 1ms wide below 1s, 10ms wide below 10s, and one for everything
// longer. A quantile is read as its bucket's upper bound: at most 10% high
// (at 100µs, 1ms... up to 10s), never low. Adding is one atomic increment,
// so every reader goroutine can add to one shared hist.
type hist struct {
	counts [histBuckets]atomic.Int64
	max    atomic.Int64
}

// histTiers are the bucket widths: each tier is 900 or so buckets wide and
// ends where the next, ten times coarser, begins.
var histTiers = []struct{ end, width int64 }{ // microseconds
	{1_000, 10}, {100_000, 100}, {1_000_000, 1_000}, {10_000_000, 10_000},
}

const histBuckets = 100 + 990 + 900 + 900 + 1

func histBucket(d time.Duration) int {
	us := max(d.Microseconds(), 0)
	i, start := 0, int64(0)
	for _, t := range histTiers {
		if us < t.end {
			return i + int((us-start)/t.width)
		}
		i += int((t.end - start) / t.width)
		start = t.end
	}
	return histBuckets - 1
}

// histUpper is the upper bound of bucket i.
func histUpper(i int) time.Duration {
	start := int64(0)
	for _, t := range histTiers {
		n := int((t.end - start) / t.width)
		if i < n {
			return time.Duration(start+int64(i+1)*t.width) * time.Microsecond
		}
		i -= n
		start = t.end
	}
	return time.Duration(1<<63 - 1)
}

func (h *hist) add(d time.Duration) {
	h.counts[histBucket(d)].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *hist) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.max.Store(0)
}

// snapshot copies the counts, for the report to the benchmark.
func (h *hist) snapshot() histCounts {
	c := histCounts{Max: time.Duration(h.max.Load())}
	for i := range h.counts {
		if v := h.counts[i].Load(); v != 0 {
			c.Buckets = append(c.Buckets, [2]int64{int64(i), v})
		}
	}
	return c
}

// histCounts is a hist as the client process reports it: the buckets that
// are not empty, as (index, count) pairs, and the largest sample.
type histCounts struct {
	Buckets [][2]int64    `json:"buckets"`
	Max     time.Duration `json:"max_ns"`
}

// merge adds o's counts to c's.
func (c histCounts) merge(o histCounts) histCounts {
	sum := map[int64]int64{}
	for _, b := range c.Buckets {
		sum[b[0]] += b[1]
	}
	for _, b := range o.Buckets {
		sum[b[0]] += b[1]
	}
	out := histCounts{Max: max(c.Max, o.Max)}
	for i := range int64(histBuckets) {
		if v := sum[i]; v != 0 {
			out.Buckets = append(out.Buckets, [2]int64{i, v})
		}
	}
	return out
}

// N is the number of samples.
func (c histCounts) N() int64 {
	var n int64
	for _, b := range c.Buckets {
		n += b[1]
	}
	return n
}

// Quantile is the upper bound of the bucket holding the q-quantile
// (nearest rank), capped at the largest sample; 0 with no samples.
func (c histCounts) Quantile(q float64) time.Duration {
	n := c.N()
	if n == 0 {
		return 0
	}
	rank := max(int64(q*float64(n)+0.999999999), 1)
	var seen int64
	for _, b := range c.Buckets {
		if seen += b[1]; seen >= rank {
			return min(histUpper(int(b[0])), c.Max)
		}
	}
	return c.Max
}

// The histogram reads a quantile as its bucket's upper bound, capped at the
// largest sample; every bucket ends where the next begins; merging adds
// counts. (The load processes' numbers are only as good as this.)
func TestHistogram(t *testing.T) {
	var h hist
	for _, d := range []time.Duration{5 * time.Microsecond, 1500 * time.Microsecond, 1550 * time.Microsecond, 250 * time.Millisecond, time.Minute} {
		h.add(d)
	}
	c := h.snapshot()
	for q, want := range map[float64]time.Duration{0: 10 * time.Microsecond, 0.2: 10 * time.Microsecond, 0.4: 1600 * time.Microsecond,
		0.6: 1600 * time.Microsecond, 0.8: 251 * time.Millisecond, 1: time.Minute} {
		if got := c.Quantile(q); got != want {
			t.Errorf("quantile %v: %v, want %v", q, got, want)
		}
	}
	for i := range histBuckets - 1 {
		if up := histUpper(i); histBucket(up-time.Microsecond) != i || histBucket(up) != i+1 {
			t.Fatalf("bucket %d ends at %v, but holds %v in %d and %v in %d", i, up,
				up-time.Microsecond, histBucket(up-time.Microsecond), up, histBucket(up))
		}
	}
	if m := c.merge(c); m.N() != 10 || m.Quantile(0.5) != 1600*time.Microsecond || m.Max != time.Minute {
		t.Errorf("merged: %d samples, p50 %v, max %v", m.N(), m.Quantile(0.5), m.Max)
	}
}
