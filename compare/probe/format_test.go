package probe

import "testing"

// Counts print as the whole numbers they are, the way a class reads them:
// "0" lost ticks, not "0.00".
func TestFormat(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	for _, tt := range []struct {
		v    *float64
		unit string
		want string
	}{
		{nil, "ms", "n/a"},
		{f(0), "", "0"},
		{f(2), "", "2"},
		{f(2.5), "", "2.50"},
		{f(78), "B", "78 B"},
		{f(77.6), "B", "78 B"},
		{f(0.4567), "ms", "0.457 ms"},
		{f(12.34), "ms", "12.3 ms"},
		{f(33.25), "KiB", "33.2 KiB"},
		{f(140.06), "µs", "140.1 µs"},
	} {
		if got := format(tt.v, tt.unit); got != tt.want {
			t.Errorf("format(%v, %q) = %q, want %q", deref(tt.v), tt.unit, got, tt.want)
		}
	}
	if got := formatRatio(nil); got != "—" {
		t.Errorf("formatRatio(nil) = %q", got)
	}
	if got := formatRatio(f(1.2345)); got != "1.23×" {
		t.Errorf("formatRatio(1.2345) = %q", got)
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}
