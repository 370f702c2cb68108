//go:build !race

package benchmarks

import (
	"context"
	"runtime"
	"testing"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// This file is left out of -race builds, where the race detector changes
// what allocates; .ci/run runs it in a build without -race.

// The fan-out allocates nothing per client: a tick is encoded once (three
// allocations: its time and one buffer per transport) and the same bytes go
// to every connection. A regression here, such as a context per WebSocket
// write, costs allocations per client per tick and shows at once.
func TestFanoutAllocatesNothingPerClient(t *testing.T) {
	const clients, ticks = 50, 20
	s := startServer(t, quietConfig())
	for _, tr := range compare.Transports {
		t.Run(name(tr), func(t *testing.T) {
			crowd, err := probe.OpenCrowd(context.Background(), s.tg, tr, clients)
			if err != nil {
				t.Fatal(err)
			}
			sk := probe.NewSink(clients)
			for _, c := range crowd.Conns {
				nc, err := c.NetConn()
				if err != nil {
					t.Fatal(err)
				}
				sk.Add(nc)
			}
			defer sk.Close()
			var allocs uint64
			var m0, m1 runtime.MemStats
			for i := range ticks + 1 {
				frame := probe.WireTick(tr, s.Clock().Tick(s.Stats().Seq+1))
				sk.Expect(len(frame))
				runtime.ReadMemStats(&m0)
				s.PublishNext()
				if err := sk.Wait(sinkTimeout); err != nil {
					t.Fatal(err)
				}
				runtime.ReadMemStats(&m1)
				if i > 0 { // the first tick warms up
					allocs += m1.Mallocs - m0.Mallocs
				}
			}
			if perTick := float64(allocs) / ticks; perTick > 3+clients/10 {
				t.Errorf("%.1f allocations per tick to %d clients: the fan-out allocates per client", perTick, clients)
			}
		})
	}
}
