package compare

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ssevsws/ssevsws/sse"
)

// serveSSE is GET /sse: hello, the resume backlog, then live ticks and chat
// echoes, with a keep-alive comment whenever the stream is idle.
//
// Over HTTP/1.1 without TLS the stream takes the direct path
// (ssedirect.go): the fan-out engine writes to its socket. Otherwise (the
// handler path) the handler's goroutine is the stream's only writer. It
// waits on the subscription's queues, never on the clock or on other
// clients, so a slow client only ever delays itself.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	log := s.log.With("transport", "sse", "remote", r.RemoteAddr)
	stream, err := sse.Open(w, r, sse.Config{Retry: s.cfg.Retry, Heartbeat: s.cfg.Heartbeat, WriteTimeout: s.cfg.WriteTimeout})
	switch {
	case errors.Is(err, http.ErrNotSupported): // a wrapping middleware hides Flush or deadlines
		log.Error("cannot stream", "err", err)
		httpError(w, http.StatusInternalServerError, "this server cannot stream responses")
		return
	case err != nil: // the first write failed: the client has gone, the 200 is out
		log.Debug("client went away before the first event", "err", err)
		return
	}
	if sseOnDirectPath(r) && s.serveSSEDirect(w, r, stream) {
		return
	}
	sub, err := s.hub.subscribe(SSE, sse.LastEventID(r), nil, nil)
	if err != nil {
		// Shutting down. Any status but 200 would make a browser give up for
		// good, so the answer is a stream that only says "come back soon".
		d, _ := s.retryAfter(ErrShuttingDown)
		stream.SetRetry(d)
		return
	}
	defer sub.close()
	log = log.With("client", sub.id)
	log.Debug("stream open", "resumed", sub.resume.Resumed, "from", sub.resume.From, "to", sub.resume.To)

	out := sseOut{stream: stream, stats: s.stats.of(SSE)}
	err = out.pump(r, sub)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		sub.writeTimedOut()
	}
	if d, ok := s.retryAfter(err); ok {
		stream.SetRetry(d)
	}
	switch {
	case errors.Is(err, ErrShuttingDown), errors.Is(err, ErrBehind):
		log.Debug("stream ended", "reason", err)
	case errors.Is(err, ErrDropped), errors.Is(err, ErrTooSlow):
		log.Info("stream ended", "reason", err)
	case errors.Is(err, errClientGone), clientLeft(r, err):
		log.Debug("client went away", "err", err)
	default:
		log.Info("stream lost", "err", err)
	}
}

var errClientGone = errors.New("client went away")

// retryAfter is the retry field for a stream the server ends for reason,
// if it gets one: "come back soon" (ShutdownRetry) after a shutdown or a
// resync, the usual Retry after /drop (only to spread it), each with its own
// random part of up to RetryJitter, so that the clients of a restarting
// server do not all come back at the same moment.
func (s *Server) retryAfter(reason error) (time.Duration, bool) {
	var d time.Duration
	switch {
	case errors.Is(reason, ErrShuttingDown), errors.Is(reason, ErrBehind):
		d = s.cfg.ShutdownRetry
	case errors.Is(reason, ErrDropped) && s.cfg.RetryJitter > 0:
		d = s.cfg.Retry
	default:
		return 0, false
	}
	if s.cfg.RetryJitter > 0 {
		d += rand.N(s.cfg.RetryJitter)
	}
	return d, true
}

// clientLeft reports whether a failed write only means that the client
// closed its end, which is routine: a tab closed, an EventSource closed
// over HTTP/2 (its stream is reset, and the next write says "stream
// closed"). Those are logged at debug, not as a lost stream.
func clientLeft(r *http.Request, err error) bool {
	return r.Context().Err() != nil ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		strings.HasSuffix(err.Error(), "stream closed") // net/http's HTTP/2 errStreamClosed is not exported
}

// sseOut writes one subscription to one stream and keeps the stats.
type sseOut struct {
	stream  *sse.Stream
	stats   *Counters
	counted int64 // stream bytes already added to stats
}

// pump writes hello, the backlog, then live frames until the subscription
// ends (it returns the hub's reason), the client goes away (errClientGone)
// or a write fails (that error). The stream's own heartbeat (sse.Config)
// fills the silences: a keep-alive comment only after a whole heartbeat
// with nothing written.
func (o *sseOut) pump(r *http.Request, sub *subscription) error {
	o.count(false) // the retry field Open wrote
	if err := o.stream.Send(sseHello(sub.id, sub.h.cfg.Instance, sub.h.cfg.Heartbeat)); err != nil {
		return err
	}
	o.count(false)
	for frame := range sub.backlog(sseGap, sseTick) {
		if err := o.write(frame, isSSETick(frame)); err != nil {
			return err
		}
	}
	for {
		var err error
		select {
		case frame := <-sub.ticks:
			err = o.write(frame, true)
		case frame := <-sub.echoes:
			err = o.write(frame, false)
		case <-o.stream.HeartbeatDue():
			if sub.silent.Load() {
				continue // silenced: not even a keep-alive
			}
			err = o.stream.Heartbeat()
			o.count(false)
		case <-sub.done:
			return sub.err
		case <-r.Context().Done():
			return errClientGone
		}
		if err != nil {
			return err
		}
	}
}

func (o *sseOut) write(frame []byte, tick bool) error {
	err := o.stream.WriteFrame(frame)
	o.count(tick && err == nil)
	return err
}

// count adds the bytes written since the last call, and one tick if asked.
func (o *sseOut) count(tick bool) {
	n := o.stream.BytesWritten()
	o.stats.Bytes.Add(n - o.counted)
	o.counted = n
	if tick {
		o.stats.Ticks.Add(1)
	}
}

// chatRequest is the body of POST /chat.
type chatRequest struct {
	Client string `json:"client"`
	Text   string `json:"text"`
}

// serveChat is POST /chat, the back channel SSE needs because its stream
// only goes one way. The answer is 202: the echo itself arrives on the
// client's stream, which is the point the demo makes.
func (s *Server) serveChat(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		httpError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	// The server has no ReadTimeout (it would stay on hijacked WebSockets),
	// so the body gets a deadline here: a client that announces a body and
	// never sends it must not hold a goroutine, or a shutdown, for ever.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	var req chatRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.ChatBodyLimit))
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "body over "+strconv.FormatInt(s.cfg.ChatBodyLimit, 10)+" bytes")
			return
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			httpError(w, http.StatusRequestTimeout, "body not sent within "+s.cfg.HeaderTimeout.String())
			return
		}
		httpError(w, http.StatusBadRequest, "malformed JSON: want {\"client\":\"<id from hello>\",\"text\":\"...\"}")
		return
	}
	if dec.More() {
		httpError(w, http.StatusBadRequest, "malformed JSON: one object expected")
		return
	}
	if req.Text == "" {
		httpError(w, http.StatusBadRequest, "text is empty")
		return
	}
	if req.Client == "" {
		httpError(w, http.StatusBadRequest, "client is empty: send the id from the stream's hello event")
		return
	}

	// The stream here if this instance holds it, else through the broker
	// (route.go); the answer is the same either way.
	a, via := s.routeChat(r.Context(), Chat{Client: req.Client, Text: req.Text, TakenBy: s.cfg.Instance})
	s.writeChatAnswer(w, a, via)
}
