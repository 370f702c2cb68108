package sse

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: a stream
// that never ends, a client that never stops, a response body never closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
