package fanout

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind: a shard
// worker, a catch-up goroutine, a keep-alive write or a test's reader.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
