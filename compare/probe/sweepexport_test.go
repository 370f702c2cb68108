package probe

import "gonum.org/v1/plot"

// RoundTicks is the chart's y-axis ticker, for sweep_test.go.
func RoundTicks(lo, hi float64) []plot.Tick { return roundTicks{}.Ticks(lo, hi) }
