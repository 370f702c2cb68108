package benchmarks

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/ssevsws/ssevsws/compare/probe"
)

// stormEnv sets BenchmarkStorm's crowd per transport (default 2000).
const stormEnv = "SSEVSWS_STORM"

// BenchmarkStorm restarts a server under a crowd of reconnecting clients
// (probe.StormRun, the code behind `ssevsws compare -storm`): 2000 clients
// of one transport ($SSEVSWS_STORM), all ticking at 100 ms, then Shutdown
// and a new server on the same address. Each op is one restart; ns/op
// includes connecting the crowd, so read the metrics below instead.
//
//   - resume-all-ms: from the start of the shutdown until the last client
//     has a tick on its new connection; resume-p50-ms the median client.
//   - peak-accepts/s: the new server's busiest 100 ms of accept(), ×10.
//   - failed-dials: redials that found no server listening.
//   - lost-ticks, dup-ticks: over the whole run; both must be 0.
//
// jitter=off: every SSE stream gets the same retry: (250 ms) at the
// shutdown, and every WebSocket client waits its full backoff (250 ms;
// ws.Client itself always jitters, so the probe holds its redial for the
// rest). jitter=on: SSE gets 250 ms plus up to 1 s of its own
// (compare.Config.RetryJitter), WebSocket ws.Client's own 125–250 ms.
//
// What to notice: without jitter the whole crowd arrives within
// milliseconds, the accept rate spikes and the median client waits behind
// the others; with jitter the peak falls with the spread, and the last
// client comes back later (about the spread) though none waits in a queue.
// Neither loses a tick: the new server replays what the crowd missed.
func BenchmarkStorm(b *testing.B) {
	clients := 2000
	if s := os.Getenv(stormEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a number of clients", stormEnv, s)
		}
		clients = n
	}
	for _, c := range probe.StormCases {
		b.Run(name(c.Transport)+"/jitter="+map[bool]string{false: "off", true: "on"}[c.Jitter], func(b *testing.B) {
			var all, p50, peak, failed, lost, dup float64
			for b.Loop() {
				r, err := probe.StormRun(context.Background(), c, probe.StormOptions{Clients: clients})
				if err != nil {
					b.Fatal(err)
				}
				all += ms(r.Resume.Max)
				p50 += ms(r.Resume.P50)
				peak += r.PeakAccepts
				failed += float64(r.FailedDials)
				lost += float64(r.Lost)
				dup += float64(r.Duplicated)
			}
			n := float64(b.N)
			b.ReportMetric(all/n, "resume-all-ms")
			b.ReportMetric(p50/n, "resume-p50-ms")
			b.ReportMetric(peak/n, "peak-accepts/s")
			b.ReportMetric(failed/n, "failed-dials")
			b.ReportMetric(lost, "lost-ticks")
			b.ReportMetric(dup, "dup-ticks")
		})
	}
}
