package sse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// within returns the next value from ch, failing the test if it takes
// longer than a generous bound. The bound only turns a hang into a
// failure; it is never what makes a test pass.
func within[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

// get requests url from srv, failing the test unless it answers 200. The
// body is closed at the end of the test.
func get(t *testing.T, srv *httptest.Server, url string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	return resp
}

// runServer serves streams that write what the test sends on frames and
// report Run's result on done.
func runServer(t *testing.T, cfg Config, frames <-chan []byte) (srv *httptest.Server, done <-chan error) {
	errc := make(chan error, 1)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := Open(w, r, cfg)
		if err != nil {
			errc <- err
			return
		}
		errc <- s.Run(r.Context(), frames)
	}))
	t.Cleanup(srv.Close)
	return srv, errc
}

func TestOpenHeaders(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			handlerSaw := make(chan http.Header, 1)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := Open(w, r, Config{Retry: 1500 * time.Millisecond}); err != nil {
					t.Error(err)
				}
				handlerSaw <- w.Header().Clone()
			}))
			if proto == "HTTP/2" {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close) // after the response bodies are closed

			resp := get(t, srv, srv.URL)
			if resp.ProtoMajor != int(proto[5]-'0') {
				t.Fatalf("served over %s, want %s", resp.Proto, proto)
			}
			for name, want := range map[string]string{
				"Content-Type":      "text/event-stream",
				"Cache-Control":     "no-cache",
				"X-Accel-Buffering": "no",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			wantConn := "keep-alive"
			if proto == "HTTP/2" {
				wantConn = "" // a connection-specific header is illegal in HTTP/2
			}
			if got := resp.Header.Get("Connection"); got != wantConn {
				t.Errorf("Connection: %q, want %q", got, wantConn)
			}
			if got := within(t, handlerSaw).Get("Connection"); got != wantConn {
				t.Errorf("handler set Connection: %q, want %q", got, wantConn)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != "retry: 1500\n\n" {
				t.Errorf("body %q, want only the retry field", body)
			}
		})
	}
}

// Each frame must reach the client before the next one is even handed to
// the stream: the test only sends frame i+1 after reading event i.
func TestStreamFlushesEachFrame(t *testing.T) {
	frames := make(chan []byte)
	srv, done := runServer(t, Config{}, frames)
	r := NewReader(get(t, srv, srv.URL).Body)
	for i := range 3 {
		frame, _ := AppendEvent(nil, Event{ID: fmt.Sprint(i), Data: "tick"})
		frames <- frame
		ev, err := r.Next() // would block until the timeout if frame sat in a buffer
		if err != nil || ev.ID != fmt.Sprint(i) {
			t.Fatalf("event %d: got %q, %v", i, ev, err)
		}
	}
	close(frames)
	if err := within(t, done); err != nil {
		t.Errorf("Run returned %v after frames was closed, want nil", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after Run returned: %v, want io.EOF", err)
	}
}

func TestStreamHeartbeat(t *testing.T) {
	srv, done := runServer(t, Config{Heartbeat: 20 * time.Millisecond}, nil)
	resp := get(t, srv, srv.URL)
	lines := bufio.NewScanner(resp.Body)
	for range 2 {
		if !lines.Scan() {
			t.Fatalf("stream ended: %v", lines.Err())
		}
		if lines.Text() != ": keep-alive" {
			t.Fatalf("got line %q, want the heartbeat comment", lines.Text())
		}
	}
	resp.Body.Close() // the client leaves: the request context ends Run
	if err := within(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

func TestStreamRunStopsOnCancelCause(t *testing.T) {
	shutdown := errors.New("server shutting down")
	cancel := make(chan context.CancelCauseFunc, 1)
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := Open(w, r, Config{})
		if err != nil {
			t.Error(err)
			return
		}
		ctx, stop := context.WithCancelCause(r.Context())
		cancel <- stop
		err = s.Run(ctx, make(chan []byte))
		done <- err
		s.SetRetry(100 * time.Millisecond) // "come back soon"
	}))
	t.Cleanup(srv.Close) // after the response bodies are closed

	r := NewReader(get(t, srv, srv.URL).Body)
	within(t, cancel)(shutdown)
	if err := within(t, done); !errors.Is(err, shutdown) {
		t.Errorf("Run returned %v, want the cancel cause", err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
	if d, ok := r.Retry(); !ok || d != 100*time.Millisecond {
		t.Errorf("retry after shutdown = %v, %v; want 100ms", d, ok)
	}
}

func TestLastEventID(t *testing.T) {
	tests := []struct {
		header, url, want string
	}{
		{"", "/sse", ""},
		{"17", "/sse", "17"},
		{"", "/sse?lastEventId=18", "18"},
		{"17", "/sse?lastEventId=18", "17"}, // the header is what EventSource sends
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, tt.url, nil)
		if tt.header != "" {
			r.Header.Set("Last-Event-ID", tt.header)
		}
		if got := LastEventID(r); got != tt.want {
			t.Errorf("header %q, url %q: got %q, want %q", tt.header, tt.url, got, tt.want)
		}
	}
}

// middleware wraps a ResponseWriter the usual way. Embedding the interface
// hides the Flush method of the writer inside, but Unwrap is enough for
// http.ResponseController to find it.
type middleware struct {
	http.ResponseWriter
	status int
}

func (m *middleware) WriteHeader(code int)        { m.status = code; m.ResponseWriter.WriteHeader(code) }
func (m *middleware) Unwrap() http.ResponseWriter { return m.ResponseWriter }

func TestOpenThroughMiddleware(t *testing.T) {
	rec := httptest.NewRecorder()
	mw := &middleware{ResponseWriter: rec}
	s, err := Open(mw, httptest.NewRequest(http.MethodGet, "/", nil), Config{Retry: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(Event{Data: "x"}); err != nil {
		t.Fatal(err)
	}
	want := "retry: 2000\n\ndata: x\n\n"
	if mw.status != http.StatusOK || !rec.Flushed || rec.Body.String() != want {
		t.Errorf("status %d, flushed %v, body %q; want 200, true, %q", mw.status, rec.Flushed, rec.Body, want)
	}
	if n := s.BytesWritten(); n != int64(len(want)) {
		t.Errorf("BytesWritten() = %d, want %d", n, len(want))
	}
}

// plainWriter can neither flush nor unwrap.
type plainWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *plainWriter) Header() http.Header         { return w.header }
func (w *plainWriter) WriteHeader(code int)        { w.status = code }
func (w *plainWriter) Write(p []byte) (int, error) { return w.body.Write(p) }

func TestOpenNotSupported(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)

	w := &plainWriter{header: http.Header{}}
	if _, err := Open(w, r, Config{Retry: time.Second}); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("without Flush: got %v, want http.ErrNotSupported", err)
	}
	if w.status != 0 || w.body.Len() != 0 || len(w.header) != 0 {
		t.Errorf("Open wrote before failing: status %d, body %q, header %v", w.status, w.body.String(), w.header)
	}

	// A recorder flushes but has no deadlines, which WriteTimeout needs.
	rec := httptest.NewRecorder()
	if _, err := Open(rec, r, Config{WriteTimeout: time.Second}); !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("without deadlines: got %v, want http.ErrNotSupported", err)
	}
	if rec.Flushed || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("Open wrote before failing")
	}
}

// brokenWriter fails every write, like a connection the client has left.
type brokenWriter struct {
	httptest.ResponseRecorder
	err error
}

func (w *brokenWriter) Write([]byte) (int, error) { return 0, w.err }

func TestStreamWriteErrorIsSticky(t *testing.T) {
	gone := errors.New("connection reset by peer")
	w := &brokenWriter{ResponseRecorder: *httptest.NewRecorder(), err: gone}
	s, err := Open(w, httptest.NewRequest(http.MethodGet, "/", nil), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(Event{Data: "x"}); !errors.Is(err, gone) {
		t.Fatalf("Send: got %v, want %v", err, gone)
	}
	w.err = nil // even if the writer recovered, the stream stays failed
	if err := s.Comment("still there?"); !errors.Is(err, gone) {
		t.Errorf("Comment after a failure: got %v, want %v", err, gone)
	}
	frames := make(chan []byte, 1)
	frames <- []byte("data: y\n\n")
	if err := s.Run(t.Context(), frames); !errors.Is(err, gone) {
		t.Errorf("Run: got %v, want %v", err, gone)
	}
	if err := s.Send(Event{ID: "a\nb"}); !errors.Is(err, ErrInvalidID) {
		t.Errorf("a refused event reports why: got %v", err)
	}
}

// A client that stops reading must not hold the server forever: once the
// socket buffers are full, the write deadline turns the blocked write into
// an error.
func TestStreamDropsStuckClient(t *testing.T) {
	done := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := Open(w, r, Config{WriteTimeout: 100 * time.Millisecond})
		if err != nil {
			done <- err
			return
		}
		frame := AppendComment(nil, strings.Repeat("x", 64<<10))
		for {
			if err := s.WriteFrame(frame); err != nil {
				done <- err
				return
			}
		}
	}))
	t.Cleanup(srv.Close) // after the response bodies are closed

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: test\r\n\r\n") // and never read
	if err := within(t, done); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Errorf("got %v, want a timeout", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// http.Server.WriteTimeout is for ordinary responses; a stream must
// outlive it. Over HTTP/2 a write deadline is a timer that kills the stream
// even while idle, so the stream's own WriteTimeout must not linger between
// writes either. Heartbeats further apart than both timeouts prove it.
// (The server timeout must leave room for the TLS handshake, which it also
// bounds.)
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	const serverTimeout = time.Second // also bounds the TLS handshake, slow under -race on a busy machine
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		for _, writeTimeout := range []time.Duration{0, 50 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s/WriteTimeout=%v", proto, writeTimeout), func(t *testing.T) {
				t.Parallel()
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s, err := Open(w, r, Config{Heartbeat: 2 * serverTimeout, WriteTimeout: writeTimeout})
					if err != nil {
						t.Error(err)
						return
					}
					s.Run(r.Context(), nil)
				}))
				srv.Config.WriteTimeout = serverTimeout
				if proto == "HTTP/2" {
					srv.EnableHTTP2 = true
					srv.StartTLS()
				} else {
					srv.Start()
				}
				t.Cleanup(srv.Close) // after the response bodies are closed

				resp := get(t, srv, srv.URL)
				lines := bufio.NewScanner(resp.Body)
				for range 2 {
					if !lines.Scan() || lines.Text() != ": keep-alive" {
						t.Fatalf("stream cut: line %q, error %v", lines.Text(), lines.Err())
					}
				}
			})
		}
	}
}

// HeartbeatDue, for a writer loop of its own: nil without a heartbeat; not
// ready right after a write, however often writes come; ready only once a
// whole Heartbeat has passed since the last write (a timer never fires
// early); and Heartbeat writes the keep-alive comment, which starts the
// wait again.
func TestHeartbeatDueOnlyAfterSilence(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	off, err := Open(httptest.NewRecorder(), req, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if off.HeartbeatDue() != nil {
		t.Error("HeartbeatDue is not nil without a heartbeat")
	}

	const heartbeat = 300 * time.Millisecond // a write and the check after it must fit in it
	rec := httptest.NewRecorder()
	s, err := Open(rec, req, Config{Heartbeat: heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := AppendEvent(nil, Event{Data: "x"})
	var last time.Time // taken before each write, which restarts the wait when it ends
	for range 10 {
		// Writes spread over several heartbeats: a wait that writes did
		// not restart would come due between them. (Had one come due
		// late on a busy machine, the write's restart discards it.)
		time.Sleep(heartbeat / 3)
		last = time.Now()
		if err := s.WriteFrame(frame); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.HeartbeatDue():
			t.Fatal("heartbeat due right after a write")
		default:
		}
	}
	for range 2 {
		<-s.HeartbeatDue()
		if silent := time.Since(last); silent < heartbeat {
			t.Fatalf("heartbeat due after %v of silence, want at least %v", silent, heartbeat)
		}
		last = time.Now()
		if err := s.Heartbeat(); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(rec.Body.String(), ": keep-alive\n"); got != 2 {
		t.Errorf("%d keep-alive comments in %q, want 2", got, rec.Body.String())
	}
}
