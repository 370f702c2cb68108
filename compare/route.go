package compare

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Several instances behind one address. The clock needs nothing from the
// others: a tick's seq is a function of wall time, so every instance makes
// the same ticks, and a client that reconnects to another one resumes with
// nothing lost. Chat does. A WebSocket's chat comes up the socket its echo
// goes down, so it never leaves the instance. SSE's back channel is a
// separate request, and behind a round-robin balancer POST /chat mostly
// lands on an instance that does not hold the client's stream. A Router
// (compare/broker does it with NATS request/reply) carries such a chat to
// the one that does, and brings its answer back. It is the only thing that
// crosses instances; ticks never do.

// A Router carries SSE chats to the instance that holds the client's
// stream. The server holds every SSE stream it opens while it is open, and
// routes a POST /chat for a client it does not hold. The binary wires in
// compare/broker, which this package does not import.
type Router interface {
	// Hold announces that this instance holds client's stream: chats for
	// it that other instances take come to deliver, until release is
	// called. Hold must not wait for long, and must not fail the stream:
	// if the broker is down, chats for it simply cannot come.
	Hold(client string, deliver func(Chat) ChatAnswer) (release func())
	// Route hands c to the instance that holds c.Client and returns its
	// answer. It returns an error that is ErrUnknownClient when no
	// instance holds the client, and one that is ErrBrokerDown when the
	// broker cannot be reached or no answer came before ctx ended.
	Route(ctx context.Context, c Chat) (ChatAnswer, error)
	// Up reports whether the broker is reachable now.
	Up() bool
}

// ErrBrokerDown is the Router's error when the broker is unreachable or
// did not answer in time: POST /chat answers 503 with Retry-After.
var ErrBrokerDown = errors.New("the chat broker is down or did not answer in time")

// Chat is one POST /chat on its way to the stream's instance.
type Chat struct {
	Client  string // the stream's client id, from its hello
	Text    string
	TakenBy string // the instance that took the POST
}

// ChatAnswer is what the instance holding a stream answers to a chat: the
// HTTP status of POST /chat and what goes with it.
type ChatAnswer struct {
	Status      int           // 202 delivered; 429 rate-limited; 503 queue full; 404 not held (any more)
	Error       string        // why, when Status is not 202
	RetryAfter  time.Duration // with 429 and 503: when to try again
	DeliveredBy string        // the instance that holds the stream and answered; "" with 404
}

// DefaultRouteTimeout is how long POST /chat waits for the broker and the
// other instance to answer before it says 503: long enough for a busy
// machine, short enough for a person at a chat box.
const DefaultRouteTimeout = 2 * time.Second

// brokerRetryAfter is what a 503 for a broken broker says: the router
// tries to reconnect every half second or so.
const brokerRetryAfter = 2 * time.Second

// Results of routed chats, the labels of ssevsws_chats_routed_total.
const (
	RoutedDelivered     = "delivered"      // 202 from the instance holding the stream
	RoutedRefused       = "refused"        // 429 or 503 from it
	RoutedUnknownClient = "unknown_client" // no instance holds the client: 404
	RoutedBrokerDown    = "broker_down"    // unreachable or no answer in time: 503
)

// routedCounters count the chats this instance handed to the router.
type routedCounters struct {
	delivered, refused, unknown, down atomic.Int64
}

// RoutedSnapshot is routedCounters at one moment, in GET /stats.
type RoutedSnapshot struct {
	Delivered     int64 `json:"delivered"`
	Refused       int64 `json:"refused"`
	UnknownClient int64 `json:"unknown_client"`
	BrokerDown    int64 `json:"broker_down"`
}

// BrokerSnapshot is the broker part of GET /stats: there only when the
// server has a Router.
type BrokerSnapshot struct {
	Up     bool           `json:"up"`
	Routed RoutedSnapshot `json:"routed"` // chats taken here for streams on other instances, by result
}

func (c *routedCounters) snapshot() RoutedSnapshot {
	return RoutedSnapshot{Delivered: c.delivered.Load(), Refused: c.refused.Load(), UnknownClient: c.unknown.Load(), BrokerDown: c.down.Load()}
}

// ByResult lists the counts with their ssevsws_chats_routed_total labels.
func (r RoutedSnapshot) ByResult() map[string]int64 {
	return map[string]int64{RoutedDelivered: r.Delivered, RoutedRefused: r.Refused,
		RoutedUnknownClient: r.UnknownClient, RoutedBrokerDown: r.BrokerDown}
}

// hold makes s's stream reachable from other instances, if there is a
// Router and s is an SSE stream; the returned func undoes it.
func (h *hub) hold(s *subscription) (release func()) {
	if h.cfg.Router == nil || s.transport != SSE {
		return func() {}
	}
	return h.cfg.Router.Hold(s.id, h.chat)
}

// chat delivers c to a stream of this instance and says how it went, in
// the terms of POST /chat. The counters are this instance's: the one that
// holds the stream counts the echo or the refusal, whoever took the POST.
func (h *hub) chat(c Chat) ChatAnswer {
	err := h.deliverEcho(c.Client, sseEcho(c.Text))
	a := ChatAnswer{Status: http.StatusAccepted, DeliveredBy: h.cfg.Instance}
	var limited *RateLimitError
	switch {
	case err == nil:
		h.stats.sse.Chats.Add(1)
		return a
	case errors.Is(err, ErrUnknownClient):
		return ChatAnswer{Status: http.StatusNotFound, Error: err.Error()} // no one to refuse it to
	case errors.As(err, &limited):
		a.Status, a.Error, a.RetryAfter = http.StatusTooManyRequests, "chat rate limit exceeded", limited.RetryAfter
	case errors.Is(err, ErrQueueFull):
		a.Status, a.Error, a.RetryAfter = http.StatusServiceUnavailable, err.Error(), time.Second
	default:
		a.Status, a.Error = http.StatusInternalServerError, err.Error()
	}
	h.stats.sse.ChatRefused.Add(1)
	return a
}

// routeChat is POST /chat once the request is read: to the stream here if
// this instance holds it (no broker hop), else through the Router. via
// says which: "local" or "broker".
func (s *Server) routeChat(ctx context.Context, c Chat) (a ChatAnswer, via string) {
	a = s.hub.chat(c)
	if a.Status != http.StatusNotFound || s.cfg.Router == nil {
		return a, "local"
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RouteTimeout)
	defer cancel()
	a, err := s.cfg.Router.Route(ctx, c)
	routed := &s.stats.routed
	switch {
	case errors.Is(err, ErrUnknownClient):
		routed.unknown.Add(1)
		a = ChatAnswer{Status: http.StatusNotFound, Error: "no instance holds an open SSE stream with this client id"}
	case err != nil:
		routed.down.Add(1)
		s.log.Warn("chat not routed", "client", c.Client, "err", err)
		a = ChatAnswer{Status: http.StatusServiceUnavailable, RetryAfter: brokerRetryAfter,
			Error: "chat broker down: this instance cannot reach the one that holds the stream (" + err.Error() + ")"}
	case a.Status == http.StatusAccepted:
		routed.delivered.Add(1)
	case a.Status == http.StatusNotFound: // the stream ended on the way
		routed.unknown.Add(1)
	default:
		routed.refused.Add(1)
	}
	return a, "broker"
}

// chatReply is the body of every POST /chat answer once the request was
// read: the page shows the hop from it.
type chatReply struct {
	Queued      bool   `json:"queued,omitempty"`       // 202
	Error       string `json:"error,omitempty"`        // not 202
	TakenBy     string `json:"taken_by,omitempty"`     // the instance that took the POST
	DeliveredBy string `json:"delivered_by,omitempty"` // 202: the instance whose stream got the echo
	RefusedBy   string `json:"refused_by,omitempty"`   // 429, 503 queue full: the instance that holds the stream
	Via         string `json:"via"`                    // "local": no broker hop; "broker": through it
}

// writeChatAnswer answers POST /chat with a, which came via "local" or
// "broker".
func (s *Server) writeChatAnswer(w http.ResponseWriter, a ChatAnswer, via string) {
	body := chatReply{Error: a.Error, TakenBy: s.cfg.Instance, Via: via}
	if a.Status == http.StatusAccepted {
		body.Queued, body.DeliveredBy = true, a.DeliveredBy
	} else {
		body.RefusedBy = a.DeliveredBy
	}
	if a.RetryAfter > 0 {
		// Whole seconds (HTTP has no finer unit), rounded up; the body
		// does not repeat it in other words.
		secs := int64((a.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeJSON(w, a.Status, body)
}
