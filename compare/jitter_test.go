package compare_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
)

// Streams the server ends get each a retry field of their own, spread over
// RetryJitter: after /drop the usual retry plus up to the jitter, at a
// shutdown "come back soon" plus up to the jitter. Without the spread every
// EventSource of a restarting server would come back in the same instant.
func TestEndedStreamsGetJitteredRetries(t *testing.T) {
	const n = 20
	for _, end := range []string{"drop", "shutdown"} {
		t.Run(end, func(t *testing.T) {
			cfg := comparetest.Fast()
			cfg.Retry = 2 * time.Second
			cfg.ShutdownRetry = 100 * time.Millisecond
			cfg.RetryJitter = time.Second
			ts := comparetest.Start(t, cfg, "127.0.0.1:0")
			retries := make(chan time.Duration, n)
			var wg sync.WaitGroup
			client := newHTTPClient(t)
			for range n {
				resp, err := client.Get(ts.URL("http", "/sse"))
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					defer resp.Body.Close()
					rd := sse.NewReader(resp.Body)
					for {
						if _, err := rd.Next(); err != nil {
							break
						}
					}
					d, _ := rd.Retry()
					retries <- d
				})
			}
			if err := ts.WaitOpen(context.Background(), compare.SSE, n); err != nil {
				t.Fatal(err)
			}
			base := cfg.Retry
			if end == "drop" {
				resp, err := http.Post(ts.URL("http", "/drop?transport=sse"), "", nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			} else {
				base = cfg.ShutdownRetry
				ts.StopChecked(t)
			}
			wg.Wait()
			close(retries)
			seen := map[time.Duration]bool{}
			for d := range retries {
				if d < base || d >= base+cfg.RetryJitter {
					t.Errorf("retry %v, want within [%v, %v)", d, base, base+cfg.RetryJitter)
				}
				seen[d] = true
			}
			// 20 draws from 1000 ms: all equal would be a broken spread.
			if len(seen) < n/2 {
				t.Errorf("%d different retries among %d streams: not spread", len(seen), n)
			}
		})
	}
}
