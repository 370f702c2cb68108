package probe

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of duration samples.
type Summary struct {
	N   int           `json:"n"`
	Min time.Duration `json:"min_ns"`
	P50 time.Duration `json:"p50_ns"`
	P90 time.Duration `json:"p90_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// Summarize computes the percentiles of samples (nearest rank). It does not
// change samples.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Summary{N: len(s), Min: s[0], P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: s[len(s)-1]}
}

// Budget bounds a probe that repeats a measurement: it runs at least Min
// times and then stops when Duration is over or Max samples are taken,
// whichever comes first.
type Budget struct {
	Duration time.Duration // 0: no time limit, only Min
	Min, Max int           // Min 0 means 1; Max 0 means no limit
}

// more reports whether a probe that has n samples and started at start
// should take another.
func (b Budget) more(n int, start time.Time) bool {
	if n < max(b.Min, 1) {
		return true
	}
	if b.Max > 0 && n >= b.Max {
		return false
	}
	return b.Duration > 0 && time.Since(start) < b.Duration
}
