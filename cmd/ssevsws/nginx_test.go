package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
	"github.com/ssevsws/ssevsws/ws"
)

// These tests run the shipped nginx.conf, in a real nginx, in front of a
// real server: the proxy experiment of the README, checked. Only the ports
// and proxy_read_timeout are changed, so that a cut comes within seconds.

const nginxReadTimeout = 2 * time.Second

// startBehindNginx serves cfg on loopback and puts nginx in front of it. It
// returns nginx's address.
func startBehindNginx(t *testing.T, cfg compare.Config) (proxy string, srv *comparetest.Server) {
	t.Helper()
	cfg.Logger = comparetest.Logger()
	srv = comparetest.Start(t, cfg, "127.0.0.1:0")
	conf, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	proxy = comparetest.Nginx(t, string(conf), "127.0.0.1:8081",
		"server 127.0.0.1:8080;", "server "+srv.Addr+";",
		"proxy_read_timeout 60s;", fmt.Sprintf("proxy_read_timeout %ds;", int(nginxReadTimeout.Seconds())))
	return proxy, srv
}

// openStream sends GET /sse through addr and returns the reader of the body.
func openStream(t *testing.T, addr string, header http.Header) (*bufio.Reader, net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest("GET", "http://"+addr+"/sse", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Write(conn)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /sse through nginx: %s", resp.Status)
	}
	return bufio.NewReader(resp.Body), conn
}

// Ticks pass through nginx as they are written, not when a buffer fills.
func TestNginxDoesNotBufferTicks(t *testing.T) {
	const interval = 500 * time.Millisecond
	proxy, srv := startBehindNginx(t, compare.Config{Interval: interval})
	body, _ := openStream(t, proxy, nil)
	rd := sse.NewReader(body)
	for ticks := 0; ticks < 3; {
		ev, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != "tick" {
			continue
		}
		ticks++
		var tk struct{ Seq int64 }
		json.Unmarshal([]byte(ev.Data), &tk)
		if ticks == 1 {
			continue // the current tick, sent at connect: its time is in the past
		}
		// A live tick is published at its own time; through a proxy that
		// buffers the response it would wait for kilobytes of later ticks,
		// about 40 of them (20 s at this interval) per 4 KiB. The bound
		// leaves a busy machine room to be late and still tells the two
		// apart.
		if late := time.Since(srv.Clock().TimeOf(tk.Seq)); late > 5*interval {
			t.Errorf("tick %d arrived %v after its time; want under 5 intervals (%v): a buffering proxy holds about 40", tk.Seq, late, 5*interval)
		}
	}
}

// An idle stream outlives several proxy_read_timeout periods because the
// server's keep-alive comments reach nginx in time.
func TestNginxKeepsAnIdleStreamWithHeartbeats(t *testing.T) {
	proxy, _ := startBehindNginx(t, compare.Config{Interval: time.Hour, Heartbeat: nginxReadTimeout / 4})
	body, conn := openStream(t, proxy, nil)
	until := time.Now().Add(3 * nginxReadTimeout)
	conn.SetReadDeadline(until.Add(nginxReadTimeout))
	comments := 0
	for time.Now().Before(until) {
		line, err := body.ReadString('\n')
		if err != nil {
			t.Fatalf("stream cut after %d keep-alive comments: %v", comments, err)
		}
		if strings.HasPrefix(line, ":") {
			comments++
		}
	}
	if comments < 6 {
		t.Errorf("%d keep-alive comments in %v; want about one per %v", comments, 3*nginxReadTimeout, nginxReadTimeout/4)
	}
}

// Without heartbeats nginx cuts the idle stream at proxy_read_timeout; the
// Go SSE client comes back with Last-Event-ID and loses nothing. The
// header passes through nginx: the server counts the reconnects as resumes.
func TestNginxCutsSilentStreamAndClientResumes(t *testing.T) {
	// Ticks further apart than nginx's read timeout: every gap is a cut.
	proxy, srv := startBehindNginx(t, compare.Config{Interval: nginxReadTimeout + time.Second, Heartbeat: -1, Retry: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cuts, seqs := 0, []int64{}
	done := make(chan error, 1)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &sse.Client{
		URL:        "http://" + proxy + "/sse",
		HTTPClient: &http.Client{Transport: tr},
		OnError:    func(error) { cuts++ },
	}
	go func() {
		done <- c.Run(ctx, func(ev sse.Event) {
			if ev.Type != "tick" {
				return
			}
			var tk struct{ Seq int64 }
			json.Unmarshal([]byte(ev.Data), &tk)
			seqs = append(seqs, tk.Seq)
			// The first gap may be shorter than the timeout (the client
			// connects mid-interval); the next two are whole intervals.
			if len(seqs) == 4 {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatalf("4 ticks did not arrive in 30s: %v", seqs)
	}
	if cuts < 2 {
		t.Errorf("stream cut %d times; nginx should cut it at every silent gap", cuts)
	}
	comparetest.CheckNoLoss(t, "sse.Client across the cuts", seqs)
	if got := srv.Stats().SSE.Resumes; got != int64(cuts) {
		t.Errorf("server saw %d resumes for %d reconnects: Last-Event-ID did not pass through nginx", got, cuts)
	}
}

// WebSocket upgrade, ticks and chat echo work through nginx, and the origin
// check still sees the browser's host and port.
func TestNginxPassesWebSocket(t *testing.T) {
	proxy, _ := startBehindNginx(t, compare.Config{Interval: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := ws.Dial(ctx, "ws://"+proxy+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Chat(ctx, "through nginx"); err != nil {
		t.Fatal(err)
	}
	var ticks int
	for echoed := false; !echoed || ticks < 2; {
		m, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("after %d ticks: %v", ticks, err)
		}
		switch m.Type {
		case ws.TypeTick:
			ticks++
		case ws.TypeEcho:
			echoed = m.Text == "through nginx"
		}
	}
}
