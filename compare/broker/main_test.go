package broker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: every
// router's NATS connection, every embedded NATS server and every ssevsws
// server must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
