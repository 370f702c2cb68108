package probe

import (
	"fmt"
	"math"
)

// format writes a measure in its unit as every view shows it: the table of
// ssevsws compare, and the page's Measure table, which reads it from the
// report's *_text fields instead of formatting numbers its own way. nil is
// "n/a". Counts print as whole numbers when they are (0 lost ticks, 2
// goroutines), bytes always do.
func format(v *float64, unit string) string {
	if v == nil {
		return "n/a"
	}
	x := *v
	var s string
	switch unit {
	case "ms":
		if x < 10 {
			s = fmt.Sprintf("%.3f", x)
		} else {
			s = fmt.Sprintf("%.1f", x)
		}
	case "µs", "KiB":
		s = fmt.Sprintf("%.1f", x)
	case "B":
		s = fmt.Sprintf("%.0f", x)
	default:
		if x == math.Trunc(x) {
			s = fmt.Sprintf("%.0f", x)
		} else {
			s = fmt.Sprintf("%.2f", x)
		}
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

// formatRatio writes SSE ÷ WebSocket as the tables show it: "1.23×", or
// "—" where there is no ratio.
func formatRatio(r *float64) string {
	if r == nil {
		return "—"
	}
	return fmt.Sprintf("%.2f×", *r)
}
