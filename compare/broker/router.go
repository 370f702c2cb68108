package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ssevsws/ssevsws/compare"
)

// SubjectPrefix begins the subject of every routed chat: the instance that
// holds client K's stream subscribes to "ssevsws.chat.K" while it is open.
const SubjectPrefix = "ssevsws.chat."

// DefaultReconnectWait is how long the router waits between two attempts
// to reach a broker that has gone: short, because chats to other
// instances fail until it is back.
const DefaultReconnectWait = 500 * time.Millisecond

// holdFlush bounds how long Hold waits for the broker to confirm a new
// subscription (see Hold). A broker that takes longer is in trouble, and
// the stream must not wait for it.
const holdFlush = 250 * time.Millisecond

// Config is what Connect needs.
type Config struct {
	URL           string        // the broker: nats://host:port
	Instance      string        // this instance's name, given to NATS as the connection's name
	ReconnectWait time.Duration // between reconnect attempts; 0: DefaultReconnectWait
	Logger        *slog.Logger  // nil: slog.Default()
}

// Router is a compare.Router on NATS. Each instance subscribes to
// SubjectPrefix+client for every SSE stream it holds; a chat for a client
// is a NATS request on that subject, answered by the one instance that
// holds it. No subscriber means no instance holds it: NATS says "no
// responders" at once, and the chat is a 404.
//
// Every subscription feeds one channel, read by one goroutine: a thousand
// streams do not cost a thousand goroutines (nats.go gives each callback
// subscription its own).
type Router struct {
	nc   *nats.Conn
	url  string
	log  *slog.Logger
	msgs chan *nats.Msg

	mu   sync.Mutex
	held map[string]func(compare.Chat) compare.ChatAnswer

	stop chan struct{}
	done chan struct{}
}

var _ compare.Router = (*Router)(nil)

// Connect returns a Router on the broker at cfg.URL. It returns at once
// even when the broker cannot be reached yet: the router keeps trying in
// the background, for as long as it lives, and so it does whenever the
// broker goes away later. Until it is reached, routed chats answer 503.
// nats.go restores every subscription when it reconnects. Call Close to
// let go of the connection.
func Connect(cfg Config) (*Router, error) {
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = DefaultReconnectWait
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Router{
		url:  cfg.URL,
		log:  log.With("broker", cfg.URL),
		msgs: make(chan *nats.Msg, 1024),
		held: make(map[string]func(compare.Chat) compare.ChatAnswer),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	nc, err := nats.Connect(cfg.URL,
		nats.Name("ssevsws "+cfg.Instance),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.RetryOnFailedConnect(true),
		// No buffering while disconnected: a chat must fail now with
		// "broker down", not be sent seconds later to a stream that may
		// have moved.
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) { r.log.Info("broker connected") }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // Close: nothing was lost
			}
			r.log.Warn("broker connection lost; SSE chats to other instances answer 503 until it is back", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) { r.log.Info("broker connection restored") }),
	)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", cfg.URL, err)
	}
	r.nc = nc
	go r.serve()
	return r, nil
}

// Up reports whether the broker is reachable now.
func (r *Router) Up() bool { return r.nc.IsConnected() }

// URL is the broker's address, as given to Connect.
func (r *Router) URL() string { return r.url }

// Close lets go of the broker. Release everything held first (the server's
// Shutdown does, as its streams end); a release after Close does nothing.
func (r *Router) Close() {
	r.nc.Close()
	close(r.stop)
	<-r.done
}

// Hold subscribes to client's subject, so that chats other instances take
// for it come to deliver. It waits, up to a quarter of a second, for the
// broker to confirm the subscription: the client gets its id in the hello
// right after, and its first chat through another instance must find the
// subscription there. release waits the same for the unsubscription: a
// chat sent after it must find no one (404) rather than be sent here and
// dropped (no answer: 503 after the route timeout). If the broker is down,
// neither waits; nats.go sends the subscriptions it holds when the broker
// is back.
func (r *Router) Hold(client string, deliver func(compare.Chat) compare.ChatAnswer) (release func()) {
	if !validClient(client) {
		return func() {}
	}
	r.mu.Lock()
	r.held[client] = deliver
	r.mu.Unlock()
	sub, err := r.nc.ChanSubscribe(SubjectPrefix+client, r.msgs)
	if err != nil {
		r.log.Warn("cannot take chats from other instances for this stream", "client", client, "err", err)
		r.forget(client)
		return func() {}
	}
	r.confirm(client)
	var once sync.Once
	return func() {
		once.Do(func() {
			if sub.Unsubscribe() == nil { // fails only once closed, when it no longer matters
				r.confirm(client)
			}
			r.forget(client)
		})
	}
}

// confirm waits, if the broker is reachable, until it has taken what was
// sent so far, for at most holdFlush.
func (r *Router) confirm(client string) {
	if !r.nc.IsConnected() {
		return
	}
	if err := r.nc.FlushTimeout(holdFlush); err != nil {
		r.log.Debug("broker slow to confirm a (un)subscription", "client", client, "err", err)
	}
}

func (r *Router) forget(client string) {
	r.mu.Lock()
	delete(r.held, client)
	r.mu.Unlock()
}

// Route sends c to the instance that holds c.Client's stream and returns
// its answer, or an error: compare.ErrUnknownClient when no instance holds
// it, compare.ErrBrokerDown when the broker cannot be reached or ctx ends
// first.
func (r *Router) Route(ctx context.Context, c compare.Chat) (compare.ChatAnswer, error) {
	if !validClient(c.Client) {
		return compare.ChatAnswer{}, compare.ErrUnknownClient // no stream has such an id
	}
	if !r.nc.IsConnected() {
		return compare.ChatAnswer{}, fmt.Errorf("%w: not connected to %s (%s)", compare.ErrBrokerDown, r.url, r.nc.Status())
	}
	data, _ := json.Marshal(request{Text: c.Text, TakenBy: c.TakenBy})
	msg, err := r.nc.RequestWithContext(ctx, SubjectPrefix+c.Client, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return compare.ChatAnswer{}, compare.ErrUnknownClient
	case errors.Is(err, context.DeadlineExceeded):
		return compare.ChatAnswer{}, fmt.Errorf("%w: no answer within the route timeout", compare.ErrBrokerDown)
	case err != nil:
		return compare.ChatAnswer{}, fmt.Errorf("%w: %v", compare.ErrBrokerDown, err)
	}
	var rep reply
	if err := json.Unmarshal(msg.Data, &rep); err != nil || rep.Status == 0 {
		return compare.ChatAnswer{}, fmt.Errorf("%w: a malformed answer from the other instance: %q", compare.ErrBrokerDown, msg.Data)
	}
	return compare.ChatAnswer{Status: rep.Status, Error: rep.Error,
		RetryAfter: time.Duration(rep.RetryAfterMS) * time.Millisecond, DeliveredBy: rep.DeliveredBy}, nil
}

// serve answers the chats that come for the streams held here, one at a
// time: delivering one only queues the echo, it never waits for a client.
func (r *Router) serve() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			return
		case m := <-r.msgs:
			r.answer(m)
		}
	}
}

func (r *Router) answer(m *nats.Msg) {
	client := m.Subject[len(SubjectPrefix):]
	r.mu.Lock()
	deliver := r.held[client]
	r.mu.Unlock()
	a := compare.ChatAnswer{Status: http.StatusNotFound, Error: compare.ErrUnknownClient.Error()} // released meanwhile
	var req request
	switch err := json.Unmarshal(m.Data, &req); {
	case err != nil:
		a = compare.ChatAnswer{Status: http.StatusBadRequest, Error: "malformed routed chat"}
	case deliver != nil:
		a = deliver(compare.Chat{Client: client, Text: req.Text, TakenBy: req.TakenBy})
	}
	data, _ := json.Marshal(reply{Status: a.Status, Error: a.Error, RetryAfterMS: a.RetryAfter.Milliseconds(), DeliveredBy: a.DeliveredBy})
	if err := m.Respond(data); err != nil {
		r.log.Debug("cannot answer a routed chat", "client", client, "err", err)
	}
}

// request and reply are the routed chat on the broker, as JSON.
type request struct {
	Text    string `json:"text"`
	TakenBy string `json:"taken_by"`
}

type reply struct {
	Status       int    `json:"status"`
	Error        string `json:"error,omitempty"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	DeliveredBy  string `json:"delivered_by,omitempty"`
}

// validClient accepts what a hello's client id can be (letters and digits,
// not too long), so that a POSTed id cannot be a NATS wildcard (*, >) or
// reach into other subjects (a dot).
func validClient(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
