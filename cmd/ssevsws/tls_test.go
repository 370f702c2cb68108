package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// -tls serves HTTP/2 with a self-signed certificate: the SSE stream is an
// HTTP/2 stream without the Connection header (illegal there), and
// WebSocket still works over its own HTTP/1.1 connection.
func TestTLSServesHTTP2(t *testing.T) {
	url, _ := startRun(t, "-tls", "-addr", "127.0.0.1:0", "-interval", "100ms")
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("announced %q, want an https URL", url)
	}
	insecure := &tls.Config{InsecureSkipVerify: true} // the test trusts its own self-signed certificate
	tr := &http.Transport{TLSClientConfig: insecure, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	req, _ := http.NewRequestWithContext(ctx, "GET", url+"sse", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	if c, ok := resp.Header["Connection"]; ok {
		t.Errorf("Connection header %q on HTTP/2; it is illegal there", c)
	}
	rd := sse.NewReader(resp.Body)
	for _, want := range []string{"hello", "tick", "tick"} {
		if ev, err := rd.Next(); err != nil || ev.Type != want {
			t.Fatalf("got %+v, %v; want a %s event", ev, err, want)
		}
	}

	wsTr := &http.Transport{TLSClientConfig: insecure}
	defer wsTr.CloseIdleConnections()
	conn, err := ws.Dial(ctx, "wss"+strings.TrimPrefix(url, "https")+"ws", &websocket.DialOptions{HTTPClient: &http.Client{Transport: wsTr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	for _, want := range []string{ws.TypeHello, ws.TypeTick} {
		if m, err := conn.Read(ctx); err != nil || m.Type != want {
			t.Fatalf("got %+v, %v; want %s", m, err, want)
		}
	}
}

func TestCertWithoutKeyIsAUsageError(t *testing.T) {
	var stderr strings.Builder
	code := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-cert", "x.pem"}, noEnv, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "-cert and -key go together") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
