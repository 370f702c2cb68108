package broker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/broker"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/sse"
)

// embed starts an embedded NATS server on a free port until the test ends.
func embed(t *testing.T) *broker.Server {
	t.Helper()
	ns, err := broker.Embed("127.0.0.1:0", comparetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// instance starts an ssevsws server named name, routing chats through the
// broker at url, until the test ends; the server stops before its router
// closes, as in the binary.
func instance(t *testing.T, name, url string, cfg compare.Config) (*comparetest.Server, *broker.Router) {
	t.Helper()
	r, err := broker.Connect(broker.Config{URL: url, Instance: name, ReconnectWait: 50 * time.Millisecond, Logger: comparetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close) // after the server's own cleanup, which is registered later and so runs first
	cfg.Instance, cfg.Router = name, r
	if cfg.Logger == nil {
		cfg.Logger = comparetest.Logger()
	}
	return comparetest.Start(t, cfg, "127.0.0.1:0"), r
}

// stream is one SSE stream read in the background.
type stream struct {
	hello  struct{ Client, Instance string }
	events chan sse.Event
}

// openStream opens GET /sse on srv, reads its hello and goes on reading in
// the background until the test ends.
func openStream(t *testing.T, srv *comparetest.Server) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL("http", "/sse"), nil)
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &stream{events: make(chan sse.Event, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		rd := sse.NewReader(resp.Body)
		for {
			ev, err := rd.Next()
			if err != nil {
				return
			}
			select {
			case s.events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
		tr.CloseIdleConnections()
	})
	ev := s.next(t)
	if ev.Type != compare.EventHello || json.Unmarshal([]byte(ev.Data), &s.hello) != nil || s.hello.Client == "" {
		t.Fatalf("first event %+v; want the hello", ev)
	}
	return s
}

// next returns the stream's next event, failing the test after 10 s.
func (s *stream) next(t *testing.T) sse.Event {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event for 10s")
	}
	panic("unreachable")
}

// waitEcho reads the stream up to the echo of text and returns the tick
// seqs it read meanwhile.
func (s *stream) waitEcho(t *testing.T, text string) []int64 {
	t.Helper()
	want, _ := json.Marshal(map[string]string{"text": text})
	var seqs []int64
	for {
		ev := s.next(t)
		switch ev.Type {
		case compare.EventTick:
			seq, _ := strconv.ParseInt(ev.ID, 10, 64)
			seqs = append(seqs, seq)
		case compare.EventEcho:
			if ev.Data == string(want) {
				return seqs
			}
		}
	}
}

// ticks reads n ticks from the stream and returns their seqs.
func (s *stream) ticks(t *testing.T, n int) []int64 {
	t.Helper()
	var seqs []int64
	for len(seqs) < n {
		if ev := s.next(t); ev.Type == compare.EventTick {
			seq, _ := strconv.ParseInt(ev.ID, 10, 64)
			seqs = append(seqs, seq)
		}
	}
	return seqs
}

// chatAnswer is POST /chat's answer.
type chatAnswer struct {
	Status     int
	RetryAfter string
	Body       struct {
		Queued      bool   `json:"queued"`
		Error       string `json:"error"`
		TakenBy     string `json:"taken_by"`
		DeliveredBy string `json:"delivered_by"`
		RefusedBy   string `json:"refused_by"`
		Via         string `json:"via"`
	}
}

// postChat sends POST /chat to srv for client.
func postChat(t *testing.T, srv *comparetest.Server, client, text string) chatAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"client": client, "text": text})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(srv.URL("http", "/chat"), "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := chatAnswer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	if err := json.NewDecoder(resp.Body).Decode(&a.Body); err != nil {
		t.Fatalf("POST /chat: %d, body not JSON: %v", resp.StatusCode, err)
	}
	return a
}
