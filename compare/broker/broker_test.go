package broker_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/broker"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/ws"
)

// A chat POSTed to the instance that does not hold the stream reaches it
// through the broker: 202 naming both instances, the echo on the stream.
// POSTed to the holder it takes no hop. An id nobody holds is a 404, from
// NATS's "no responders", and an id that is not one (a NATS wildcard) never
// reaches the broker. Hellos and /stats name the instance.
func TestChatCrossesInstances(t *testing.T) {
	ns := embed(t)
	a, _ := instance(t, "A", ns.URL(), comparetest.Fast())
	b, _ := instance(t, "B", ns.URL(), comparetest.Fast())
	s := openStream(t, a)
	if s.hello.Instance != "A" {
		t.Errorf("hello names instance %q, want A", s.hello.Instance)
	}

	if got := postChat(t, a, s.hello.Client, "on A"); got.Status != 202 || got.Body.Via != "local" || got.Body.TakenBy != "A" || got.Body.DeliveredBy != "A" || !got.Body.Queued {
		t.Errorf("POST /chat to the holder: %+v; want 202 local, taken and delivered by A", got)
	}
	seqs := s.waitEcho(t, "on A")
	if got := postChat(t, b, s.hello.Client, "via B"); got.Status != 202 || got.Body.Via != "broker" || got.Body.TakenBy != "B" || got.Body.DeliveredBy != "A" {
		t.Errorf("POST /chat to the other instance: %+v; want 202 via broker, taken by B, delivered by A", got)
	}
	seqs = append(seqs, s.waitEcho(t, "via B")...)
	seqs = append(seqs, s.ticks(t, 2)...)
	comparetest.CheckNoLoss(t, "the stream", seqs)

	for _, client := range []string{"NOSUCHCLIENT0000", "*", "ssevsws.chat.>"} {
		if got := postChat(t, b, client, "lost"); got.Status != 404 || got.Body.Via != "broker" || got.Body.Error == "" {
			t.Errorf("POST /chat for %q: %+v; want 404 via broker with a reason", client, got)
		}
	}

	stA, stB := a.Stats(), b.Stats()
	if stA.Instance != "A" || stB.Instance != "B" {
		t.Errorf("/stats instances %q and %q, want A and B", stA.Instance, stB.Instance)
	}
	if stA.SSE.Chats != 2 || stB.SSE.Chats != 0 {
		t.Errorf("SSE chats echoed: A %d, B %d; want 2 and 0 (the holder counts the echo)", stA.SSE.Chats, stB.SSE.Chats)
	}
	want := compare.RoutedSnapshot{Delivered: 1, UnknownClient: 3}
	if stB.Broker == nil || !stB.Broker.Up || stB.Broker.Routed != want {
		t.Errorf("B's /stats broker %+v; want up, routed %+v", stB.Broker, want)
	}
}

// A refusal by the instance that holds the stream comes back through the
// broker as it is: 429 with Retry-After, naming the refusing instance.
func TestRoutedRefusalKeepsItsStatus(t *testing.T) {
	ns := embed(t)
	cfg := comparetest.Fast()
	cfg.ChatRate, cfg.ChatBurst = 1.0/3600, 1 // one chat, then none for an hour
	a, _ := instance(t, "A", ns.URL(), cfg)
	b, _ := instance(t, "B", ns.URL(), cfg)
	s := openStream(t, a)
	if got := postChat(t, b, s.hello.Client, "first"); got.Status != 202 {
		t.Fatalf("first chat: %+v", got)
	}
	got := postChat(t, b, s.hello.Client, "second")
	if got.Status != 429 || got.RetryAfter == "" || got.Body.RefusedBy != "A" || got.Body.TakenBy != "B" || got.Body.Via != "broker" {
		t.Errorf("second chat: %+v; want 429 with Retry-After, refused by A, taken by B, via broker", got)
	}
	if r := b.Stats().Broker.Routed; r.Delivered != 1 || r.Refused != 1 {
		t.Errorf("B routed %+v; want 1 delivered, 1 refused", r)
	}
	if st := a.Stats().SSE; st.Chats != 1 || st.ChatRefused != 1 {
		t.Errorf("A's SSE chats %d, refused %d; want 1 and 1", st.Chats, st.ChatRefused)
	}
}

// The broker goes away: a chat that must cross instances answers 503, with
// Retry-After and a body that says the broker is down, within the route
// timeout; ticks and WebSocket chat go on untouched. The broker comes back
// at the same address: the routers reconnect by themselves, the stream's
// subscription is restored, and chats cross again.
func TestBrokerDownAndBack(t *testing.T) {
	ns, err := broker.Embed("127.0.0.1:0", comparetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	addr := ns.Addr()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ns.Shutdown()
		}
	})
	a, ra := instance(t, "A", ns.URL(), comparetest.Fast())
	b, rb := instance(t, "B", ns.URL(), comparetest.Fast())
	s := openStream(t, a)
	if got := postChat(t, b, s.hello.Client, "before"); got.Status != 202 {
		t.Fatalf("chat before the broker stops: %+v", got)
	}
	seqs := s.waitEcho(t, "before")

	ns.Shutdown()
	stopped = true
	start := time.Now()
	got := postChat(t, b, s.hello.Client, "while down")
	took := time.Since(start)
	if got.Status != 503 || got.RetryAfter == "" || !strings.Contains(got.Body.Error, "broker down") || got.Body.Via != "broker" {
		t.Errorf("chat while the broker is down: %+v; want 503, Retry-After, an error that says the broker is down", got)
	}
	if limit := compare.DefaultRouteTimeout + time.Second; took > limit {
		t.Errorf("the 503 took %v; the stated route timeout is %v", took, compare.DefaultRouteTimeout)
	}
	seqs = append(seqs, s.ticks(t, 3)...) // ticks go on
	if got := postChat(t, a, s.hello.Client, "local while down"); got.Status != 202 || got.Body.Via != "local" {
		t.Errorf("chat to the holder while the broker is down: %+v; want 202 local", got)
	}
	seqs = append(seqs, s.waitEcho(t, "local while down")...)
	wsChat(t, b, "ws while down")

	// Back, on the same address.
	var ns2 *broker.Server
	for attempt := 0; ; attempt++ {
		if ns2, err = broker.Embed(addr, comparetest.Logger()); err == nil || attempt == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond) // the port is released by the kernel
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns2.Shutdown)
	waitUntil(t, "both routers reconnect", 15*time.Second, func() bool { return ra.Up() && rb.Up() })
	// Each router is up when its own connection is; A's restored
	// subscription can reach the broker just after B's request.
	waitUntil(t, "a chat crossing again", 10*time.Second, func() bool {
		return postChat(t, b, s.hello.Client, "after").Status == 202
	})
	seqs = append(seqs, s.waitEcho(t, "after")...)
	comparetest.CheckNoLoss(t, "the stream across the broker's outage", seqs)
	if r := b.Stats().Broker.Routed; r.BrokerDown < 1 || r.Delivered < 2 {
		t.Errorf("B routed %+v; want at least 1 broker_down and 2 delivered", r)
	}
}

// wsChat sends a chat over a WebSocket to srv and waits for its echo.
func wsChat(t *testing.T, srv *comparetest.Server, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, srv.URL("ws", "/ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Chat(ctx, text); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("WebSocket chat %q: %v", text, err)
		}
		if m.Type == ws.TypeHello && m.Instance != srv.Stats().Instance {
			t.Errorf("WebSocket hello names %q, want %q", m.Instance, srv.Stats().Instance)
		}
		if m.Type == ws.TypeEcho && m.Text == text {
			return
		}
	}
}

// waitUntil polls cond, which asks a server over the network, until it
// holds: there is no event to wait on for a reconnect in another
// connection.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A router whose broker is not there yet starts anyway, says it is down,
// and answers a routed chat with ErrBrokerDown at once. When the broker
// starts, it connects by itself and sends the subscription it took while
// it was down.
func TestRouterWithoutBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r, err := broker.Connect(broker.Config{URL: "nats://" + addr, ReconnectWait: 50 * time.Millisecond, Logger: comparetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Up() {
		t.Error("Up with no broker")
	}
	release := r.Hold("ABCDEF", func(compare.Chat) compare.ChatAnswer { return compare.ChatAnswer{Status: http.StatusAccepted} })
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = r.Route(ctx, compare.Chat{Client: "ABCDEF", Text: "hi"})
	if !errors.Is(err, compare.ErrBrokerDown) || time.Since(start) > time.Second {
		t.Errorf("Route without a broker: %v after %v; want ErrBrokerDown at once", err, time.Since(start))
	}

	ns, err := broker.Embed(addr, comparetest.Logger())
	if err != nil {
		t.Fatalf("the broker cannot start where the router waits for it: %v", err)
	}
	defer ns.Shutdown()
	waitUntil(t, "the router connects to the broker that started late", 15*time.Second, r.Up)
	a, err := r.Route(ctx, compare.Chat{Client: "ABCDEF", Text: "hi"})
	if err != nil || a.Status != http.StatusAccepted {
		t.Errorf("Route once the broker is up: %+v, %v; want the held client's 202", a, err)
	}
}

// Embed on a port that is taken says so, instead of exiting the process
// as nats-server's own logger would.
func TestEmbedPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ns, err := broker.Embed(ln.Addr().String(), comparetest.Logger())
	if err == nil {
		ns.Shutdown()
		t.Fatal("Embed on a taken port succeeded")
	}
	if !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("error %q does not name the address", err)
	}
}

// An instance that takes a chat but never answers (here a bare NATS
// subscriber on the client's subject) makes the chat a 503 once the route
// timeout has passed, not a request that hangs.
func TestNoAnswerInTime(t *testing.T) {
	ns := embed(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(broker.SubjectPrefix + "SILENT")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cfg := comparetest.Fast()
	cfg.RouteTimeout = 300 * time.Millisecond
	b, _ := instance(t, "B", ns.URL(), cfg)
	start := time.Now()
	got := postChat(t, b, "SILENT", "anyone?")
	took := time.Since(start)
	if got.Status != 503 || got.RetryAfter == "" || !strings.Contains(got.Body.Error, "broker down") {
		t.Errorf("unanswered chat: %+v; want 503 broker down with Retry-After", got)
	}
	if took < cfg.RouteTimeout || took > cfg.RouteTimeout+2*time.Second {
		t.Errorf("answered after %v; want just past the route timeout, %v", took, cfg.RouteTimeout)
	}
	if _, err := sub.NextMsg(time.Second); err != nil {
		t.Errorf("the chat did not reach the subscriber: %v", err)
	}
}
