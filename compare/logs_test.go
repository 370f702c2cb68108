package compare_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"

	"github.com/ssevsws/ssevsws/compare"
)

// A stream write that fails because the client left (closed tab, an
// EventSource closed over HTTP/2, a reset) is routine and logged at debug;
// anything else is a lost stream, logged at info.
func TestClientLeft(t *testing.T) {
	live := httptest.NewRequest("GET", "/sse", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := live.WithContext(ctx)
	for _, tt := range []struct {
		name string
		req  bool // the request's context still live
		err  error
		want bool
	}{
		{"HTTP/2 stream reset", true, errors.New("http2: stream closed"), true},
		{"broken pipe", true, fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"reset by peer", true, &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.ECONNRESET)}, true},
		{"closed connection", true, net.ErrClosed, true},
		{"request context ended", false, errors.New("any write error"), true},
		{"something else", true, errors.New("disk on fire"), false},
		{"write timeout", true, os.ErrDeadlineExceeded, false},
	} {
		r := live
		if !tt.req {
			r = gone
		}
		if got := compare.ClientLeft(r, tt.err); got != tt.want {
			t.Errorf("%s: clientLeft = %v, want %v", tt.name, got, tt.want)
		}
	}
}
