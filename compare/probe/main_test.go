package probe

import (
	"testing"

	"go.uber.org/goleak"
)

// Every probe closes what it opens: no test or example may leave a
// goroutine behind (a client, a server, an HTTP transport).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
