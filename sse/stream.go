package sse

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Config tunes a Stream. The zero value is a plain stream with no retry
// hint, no heartbeat and no write deadline.
type Config struct {
	// Retry, if > 0, is sent first as a "retry:" field: how long clients
	// wait before reconnecting after the stream ends.
	Retry time.Duration

	// Heartbeat, if > 0, is how long the stream may stay silent before a
	// keep-alive comment, so that proxies and load balancers with a read
	// timeout do not cut an idle stream. Run sends it by itself; a writer
	// loop of its own selects on HeartbeatDue and calls Heartbeat.
	Heartbeat time.Duration

	// WriteTimeout, if > 0, bounds every write and flush. A client that
	// stops reading eventually fills the socket buffers; the deadline turns
	// the write that would then block forever into an error, which is how a
	// stuck client gets dropped instead of holding its goroutine.
	WriteTimeout time.Duration
}

// heartbeatFrame is the comment Heartbeat writes when the stream is idle.
var heartbeatFrame = AppendComment(nil, "keep-alive")

// LastEventID returns the ID a reconnecting client wants to resume after:
// the Last-Event-ID header (sent by EventSource), else the lastEventId query
// parameter (for clients that cannot set headers), else "".
func LastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	return r.URL.Query().Get("lastEventId")
}

// Stream is one open text/event-stream response. Every write is flushed at
// once, so each frame reaches the client when it is written.
//
// A Stream is not safe for concurrent use: one goroutine (normally the
// handler's) does all the writing, for example by calling Run. Other
// goroutines hand it frames through a channel.
type Stream struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	cfg   Config
	buf   []byte // scratch space for Send, Comment and SetRetry
	bytes int64
	err   error // sticky: after a failed write the response is unusable

	// idle fires when nothing was written for cfg.Heartbeat; every write
	// resets it. nil without a heartbeat.
	idle *time.Timer
}

// Open starts an event stream on w. It sets the headers
//
//	Content-Type: text/event-stream
//	Cache-Control: no-cache
//	X-Accel-Buffering: no        (tells nginx not to buffer the response)
//	Connection: keep-alive       (HTTP/1.x only: HTTP/2 forbids the header)
//
// then writes status 200, the retry field if cfg.Retry > 0, and flushes, so
// the client sees the stream open right away.
//
// Flushing goes through http.ResponseController, so middleware that wraps
// the ResponseWriter still streams if it implements Unwrap. When the writer
// cannot flush (or cannot set deadlines while cfg.WriteTimeout > 0), Open
// returns an error wrapping http.ErrNotSupported before writing anything,
// so the caller can still answer with an error status.
//
// Open also lifts http.Server.WriteTimeout for this response, where the
// writer allows it: that timeout is meant for ordinary responses and would
// cut every stream after that long. cfg.WriteTimeout replaces it.
// (http.Server.ReadTimeout needs no such care: it stops applying once the
// request has been read.)
func Open(w http.ResponseWriter, r *http.Request, cfg Config) (*Stream, error) {
	if !canFlush(w) {
		return nil, fmt.Errorf("sse: response writer cannot flush: %w", http.ErrNotSupported)
	}
	s := &Stream{w: w, rc: http.NewResponseController(w), cfg: cfg}
	// Clear the server's deadline: from now on, write sets one around each
	// write when cfg.WriteTimeout asks for it, and none otherwise.
	if err := s.rc.SetWriteDeadline(time.Time{}); err != nil && cfg.WriteTimeout > 0 {
		return nil, fmt.Errorf("sse: response writer cannot set write deadlines: %w", err)
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if r.ProtoMajor == 1 {
		h.Set("Connection", "keep-alive")
	}
	w.WriteHeader(http.StatusOK)

	var first []byte
	if cfg.Retry > 0 {
		first = AppendRetry(nil, cfg.Retry)
	}
	if cfg.Heartbeat > 0 {
		s.idle = time.NewTimer(cfg.Heartbeat)
	}
	if err := s.write(first); err != nil { // flushes the header even without retry
		return nil, err
	}
	return s, nil
}

// canFlush reports whether http.ResponseController.Flush would find a
// flusher. It follows the same Unwrap chain, but without calling Flush,
// which would commit the status and headers as a side effect.
func canFlush(w http.ResponseWriter) bool {
	for {
		switch t := w.(type) {
		case interface{ FlushError() error }, http.Flusher:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// Send encodes ev, writes it and flushes. A refused event (ErrInvalidID,
// ErrInvalidEventType) writes nothing and leaves the stream usable.
func (s *Stream) Send(ev Event) error {
	b, err := AppendEvent(s.buf[:0], ev)
	if err != nil {
		return err
	}
	s.buf = b
	return s.write(b)
}

// WriteFrame writes pre-encoded bytes (from AppendEvent, AppendComment or
// AppendRetry) and flushes. It only reads frame, so one encoded event can
// be shared by every stream. frame should hold whole frames: a partial one
// would merge with whatever is written next.
func (s *Stream) WriteFrame(frame []byte) error {
	return s.write(frame)
}

// Comment writes a comment and flushes.
func (s *Stream) Comment(text string) error {
	s.buf = AppendComment(s.buf[:0], text)
	return s.write(s.buf)
}

// SetRetry writes a retry field and flushes. Servers call it just before
// ending streams on shutdown, with a short duration, so that clients come
// back as soon as the server is up again.
func (s *Stream) SetRetry(d time.Duration) error {
	s.buf = AppendRetry(s.buf[:0], d)
	return s.write(s.buf)
}

// HeartbeatDue returns a channel that receives once the stream has been
// silent for Config.Heartbeat; every write starts the wait again. It is nil,
// and so never ready in a select, when Config.Heartbeat is not set. A
// writer loop that waits on more than Run's one channel selects on it and
// calls Heartbeat, so that it needs no timer of its own.
func (s *Stream) HeartbeatDue() <-chan time.Time {
	if s.idle == nil {
		return nil
	}
	return s.idle.C
}

// Heartbeat writes the keep-alive comment and flushes.
func (s *Stream) Heartbeat() error {
	return s.write(heartbeatFrame)
}

// BytesWritten returns the number of body bytes written so far.
func (s *Stream) BytesWritten() int64 {
	return s.bytes
}

// write writes p and flushes, within cfg.WriteTimeout if set.
//
// The deadline is cleared again afterwards: the stream is idle most of the
// time, and over HTTP/2 a write deadline is a timer that resets the stream
// when it fires, even if nothing is being written.
func (s *Stream) write(p []byte) error {
	if s.err != nil {
		return s.err
	}
	if s.cfg.WriteTimeout > 0 {
		if err := s.rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
			s.err = err
			return err
		}
		defer s.rc.SetWriteDeadline(time.Time{})
	}
	if len(p) > 0 {
		n, err := s.w.Write(p)
		s.bytes += int64(n)
		if err != nil {
			s.err = err
			return err
		}
	}
	if err := s.rc.Flush(); err != nil {
		s.err = err
		return err
	}
	if s.idle != nil {
		s.idle.Reset(s.cfg.Heartbeat) // since Go 1.23 Reset needs no draining
	}
	return nil
}

// Run writes the frames it receives until one of three things happens:
// ctx is done (it returns context.Cause(ctx)), frames is closed (it returns
// nil) or a write fails (it returns that error). Pass the request's context
// so that Run also ends when the client goes away.
//
// When cfg.Heartbeat > 0, Run writes a comment each time the stream has
// been idle that long (see HeartbeatDue). Run starts no goroutine; it runs
// in the caller's.
func (s *Stream) Run(ctx context.Context, frames <-chan []byte) error {
	for {
		var err error
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case frame, ok := <-frames:
			if !ok {
				return nil
			}
			err = s.WriteFrame(frame)
		case <-s.HeartbeatDue():
			err = s.Heartbeat()
		}
		if err != nil {
			return err
		}
	}
}
