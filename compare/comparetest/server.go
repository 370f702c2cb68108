//go:build !js

package comparetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// Server is a compare.Server serving on a loopback listener.
type Server struct {
	*compare.Server
	// Addr is the listener's host:port, with the real port when the server
	// was started on port 0.
	Addr string

	served   chan error
	stopOnce sync.Once
	stopErr  error
}

// relistenFor bounds how long Listen retries an address that is still
// taken: a server restarted on the port of one that has just stopped can
// race with the kernel releasing it.
const relistenFor = 5 * time.Second

// shutdownWithin bounds Stop's graceful shutdown. A busy machine can make
// a shutdown slow; ten seconds is far above what a healthy one needs.
const shutdownWithin = 10 * time.Second

// Listen listens on addr ("127.0.0.1:0" for any free port), retrying for a
// few seconds while the address is still in use; any other error is
// returned at once.
func Listen(addr string) (net.Listener, error) {
	deadline := time.Now().Add(relistenFor)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run starts a server for cfg on addr and returns at once; the caller must
// Stop it. Tests use Start instead; Run is for code that cannot fail a test
// directly (a control server's handler, a helper process).
func Run(cfg compare.Config, addr string) (*Server, error) {
	ln, err := Listen(addr)
	if err != nil {
		return nil, err
	}
	srv, err := compare.New(named(cfg, ln))
	if err != nil {
		ln.Close()
		return nil, err
	}
	return serve(srv, ln), nil
}

// named gives cfg the listener's address as its instance name unless it
// has one, as the binary does.
func named(cfg compare.Config, ln net.Listener) compare.Config {
	if cfg.Instance == "" {
		cfg.Instance = ln.Addr().String()
	}
	return cfg
}

// Start serves cfg on addr until tb ends, then stops the server and fails
// tb if it did not stop cleanly.
func Start(tb testing.TB, cfg compare.Config, addr string) *Server {
	tb.Helper()
	s, err := Run(cfg, addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.StopChecked(tb) })
	return s
}

// Serve serves cfg on ln until tb ends, like Start. Tests use it when the
// listener is special: one that shrinks socket buffers, or counts where
// connections come from. ln is closed if cfg is refused.
func Serve(tb testing.TB, cfg compare.Config, ln net.Listener) *Server {
	tb.Helper()
	srv, err := compare.New(named(cfg, ln))
	if err != nil {
		ln.Close()
		tb.Fatal(err)
	}
	s := serve(srv, ln)
	tb.Cleanup(func() { s.StopChecked(tb) })
	return s
}

func serve(srv *compare.Server, ln net.Listener) *Server {
	s := &Server{Server: srv, Addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { s.served <- srv.Serve(ln) }()
	return s
}

// URL is the server's root URL with the given scheme ("http", "ws") and
// path ("/sse").
func (s *Server) URL(scheme, path string) string { return scheme + "://" + s.Addr + path }

// Stop shuts the server down gracefully, as SIGTERM would, and waits for
// Serve to return. It reports a failed shutdown or an unexpected Serve
// error. Calling it again returns the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownWithin)
		defer cancel()
		var errs []error
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
		if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// StopChecked is Stop, failing tb (without ending it) if the server did not
// stop cleanly: for a test that stops a server itself, to restart it.
func (s *Server) StopChecked(tb testing.TB) {
	tb.Helper()
	if err := s.Stop(); err != nil {
		tb.Errorf("server on %s: %v", s.Addr, err)
	}
}

// Fast is a server configuration for tests: a tick every 20 ms, so that a
// test sees many in little time, clients told to come back 30 ms after a
// drop or a shutdown, and a quiet log. Its queues hold 10 s of ticks: the
// clock loop asks every client to resume when it wakes more than half a
// queue late, and a busy machine must not make that happen by chance.
func Fast() compare.Config {
	return compare.Config{
		Interval:      20 * time.Millisecond,
		Retry:         30 * time.Millisecond,
		RetryJitter:   -1, // tests that time a reconnect want it exact; the storm tests turn it on
		ShutdownRetry: 30 * time.Millisecond,
		QueueSize:     500,
		Logger:        Logger(),
	}
}

// WaitOpen waits, up to timeout, until srv holds want open connections of
// transport t (compare.Server.WaitOpen with a timeout).
func WaitOpen(srv *compare.Server, t compare.Transport, want int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return srv.WaitOpen(ctx, t, want)
}

// Logger is a logger for test servers: silent, unless SSEVSWS_TEST_LOG is
// set, then everything at debug level on stderr.
func Logger() *slog.Logger {
	if os.Getenv("SSEVSWS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
