package compare

import (
	"errors"
	"net"
	"net/http"

	"github.com/ssevsws/ssevsws/fanout"
	"github.com/ssevsws/ssevsws/sse"
)

// The direct path of an SSE stream: over HTTP/1.1 without TLS, once the
// header (and the retry field) is out, the handler hijacks the connection
// and hands it to the fan-out engine, which from then on writes its ticks,
// as chunks of the still-open chunked body, with no goroutine of the
// stream's own. The handler writes the hello and the backlog through the
// engine too (so that they stay in order with echoes), then returns. One
// small goroutine, the watcher, waits for the client to hang up; that is
// the least any server must spend to notice, and it is where the
// connection's cleanup happens, whoever ended it.
//
// HTTP/2 and TLS streams have no socket of their own to write to: they
// stay on the handler path (serveSSE), and /stats counts the two apart.

// sseOnDirectPath reports whether r's stream can take the direct path.
func sseOnDirectPath(r *http.Request) bool {
	// HTTP/1.0 has no chunked bodies: its stream stays on the handler path.
	return r.ProtoMajor == 1 && r.ProtoMinor >= 1 && r.TLS == nil
}

// sseDirect is one stream on the direct path.
type sseDirect struct {
	s      *Server
	out    *fanout.Conn
	nc     net.Conn
	sub    *subscription
	remote string
	done   func() // ends the detach
}

// sseKeepAliveChunk is the keep-alive comment, as a chunk.
var sseKeepAliveChunk = sseChunk(sse.AppendComment(nil, "keep-alive"))

// sseEndChunks ends a stream the server ends for reason: the retry field
// retryAfter gives it, if any, then the end of the chunked body.
func (s *Server) sseEndChunks(reason error) []byte {
	d, ok := s.retryAfter(reason)
	if !ok {
		return sseLastChunk
	}
	return append(sseChunk(sse.AppendRetry(nil, d)), sseLastChunk...)
}

// serveSSEDirect runs a stream that stream.Open has started on the direct
// path. It returns false, having written nothing, if the connection cannot
// be hijacked; the caller then goes on with the handler path.
func (s *Server) serveSSEDirect(w http.ResponseWriter, r *http.Request, stream *sse.Stream) bool {
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.log.Debug("sse: no direct path, the handler writes", "remote", r.RemoteAddr, "err", err)
		return false
	}
	st := s.stats.of(SSE)
	st.Bytes.Add(stream.BytesWritten()) // the retry field Open wrote
	out, err := s.engine.Add(nc, kindSSE)
	if err != nil { // the engine has stopped: the server is shutting down
		nc.Close()
		return true
	}
	c := &sseDirect{s: s, out: out, nc: nc, remote: r.RemoteAddr}
	sub, err := s.hub.subscribe(SSE, sse.LastEventID(r), out, c.finish)
	if err != nil { // shutting down: a stream that only says "come back soon"
		out.Finish(s.sseEndChunks(ErrShuttingDown))
		return true
	}
	c.sub, c.done = sub, s.detach(r)
	s.hijacked.Add(nc)
	st.Direct.Add(1)
	s.log.Debug("stream open", "transport", "sse", "remote", c.remote, "client", sub.id, "path", "direct",
		"resumed", sub.resume.Resumed, "from", sub.resume.From, "to", sub.resume.To)
	out.KeepAlive(s.cfg.Heartbeat, sseKeepAliveChunk)
	go c.watch()

	hello, _ := sse.AppendEvent(nil, sseHello(sub.id, s.cfg.Instance, s.cfg.Heartbeat))
	if c.write(hello, false) != nil {
		return true
	}
	for frame := range sub.backlog(sseGap, sseTick) {
		if c.write(frame, isSSETick(frame)) != nil {
			return true
		}
	}
	return true
}

// write writes one frame of the stream's own (hello, backlog) and waits
// until the socket has taken it: a replay of thousands of ticks must not
// pile up in the queue.
func (c *sseDirect) write(frame []byte, tick bool) error {
	if err := c.out.Write(sseChunk(frame)); err != nil {
		return err
	}
	if err := c.out.Flush(); err != nil {
		return err
	}
	st := c.s.stats.of(SSE)
	st.Bytes.Add(int64(len(frame)))
	if tick {
		st.Ticks.Add(1)
	}
	return nil
}

// finish ends the stream when the hub ends the subscription: the end of
// the chunked body, after a retry field of its own (see retryAfter).
// Called under the hub's lock; the engine does not block.
func (c *sseDirect) finish(reason error) {
	c.out.Finish(c.s.sseEndChunks(reason))
}

// watch waits for the connection to end: the client hangs up (a read says
// EOF or reset), or the engine closes it (finished, or too slow). An SSE
// client sends nothing after its request; anything it does send is read
// and dropped. Then it cleans up.
func (c *sseDirect) watch() {
	buf := make([]byte, 64)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			break
		}
	}
	c.out.Close(errClientGone)
	if why := c.out.Err(); errors.Is(why, fanout.ErrTooSlow) {
		c.sub.tooSlow(why)
	}
	c.s.hijacked.Remove(c.nc)
	c.s.stats.of(SSE).Direct.Add(-1)
	c.sub.close()
	c.done()

	log := c.s.log.With("transport", "sse", "remote", c.remote, "client", c.sub.id)
	switch reason := c.sub.err; {
	case reason == nil:
		log.Debug("client went away")
	case errors.Is(reason, ErrShuttingDown), errors.Is(reason, ErrBehind):
		log.Debug("stream ended", "reason", reason)
	default:
		log.Info("stream ended", "reason", reason)
	}
}
