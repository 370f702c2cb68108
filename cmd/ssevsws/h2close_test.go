package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
)

// Closing an EventSource over HTTP/2 resets its stream; the server's next
// write then fails with "stream closed". That is a client leaving, which
// happens every time a tab closes or the connection-limit experiment ends:
// it is logged at debug, not as a lost stream at info. (Which of the two
// the server sees first, the reset or the failed write, is a race; the
// classification itself is unit-tested in compare: TestClientLeft.)
func TestHTTP2StreamCloseIsNotLoggedAsLost(t *testing.T) {
	var log comparetest.LogBuffer
	url, _ := startRunLogging(t, &log, "-tls", "-addr", "127.0.0.1:0", "-interval", "20ms", "-log", "info")
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true} // its own self-signed certificate
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"sse", nil)
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
		}
		rd := sse.NewReader(resp.Body)
		for _, want := range []string{"hello", "tick"} {
			if ev, err := rd.Next(); err != nil || ev.Type != want {
				t.Fatalf("stream %d: got %+v, %v; want a %s event", i, ev, err, want)
			}
		}
		cancel() // resets the stream, as EventSource.close() does; the connection stays
		resp.Body.Close()
		waitSSEOpen(t, client, url, 0)
	}
	if strings.Contains(log.String(), "stream lost") {
		t.Errorf("a closed HTTP/2 stream was logged as lost:\n%s", log.String())
	}
}

// waitSSEOpen polls GET /stats until the server holds want SSE streams.
func waitSSEOpen(t *testing.T, client *http.Client, url string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url + "stats")
		if err != nil {
			t.Fatal(err)
		}
		var st compare.StatsSnapshot
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.SSE.Open == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d SSE streams open, want %d", st.SSE.Open, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
