package comparetest

import (
	"fmt"
	"strings"
	"testing"
)

// Seqs prints a list of tick seqs compactly, runs of consecutive seqs as
// a..b, so that a failure message shows at a glance where ticks went
// missing or came twice: [1..5 7..9] lost 6.
func Seqs(seqs []int64) string {
	var b strings.Builder
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		if i == j {
			fmt.Fprint(&b, seqs[i])
		} else {
			fmt.Fprintf(&b, "%d..%d", seqs[i], seqs[j])
		}
		i = j + 1
	}
	return "[" + b.String() + "]"
}

// CheckNoLoss fails tb unless seqs (the ticks one client received, in
// order) are consecutive: none lost, none twice, none out of order. who
// names the client in the message.
func CheckNoLoss(tb testing.TB, who string, seqs []int64) {
	tb.Helper()
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			tb.Errorf("%s: tick %d followed by %d (lost or repeated ticks); all: %v", who, seqs[i-1], seqs[i], Seqs(seqs))
			return
		}
	}
}
