//go:build !unix

package fanout

import (
	"errors"
	"net"
)

// rawWriter: off Unix every connection takes the slow path.
type rawWriter struct{}

func newRawWriter(net.Conn) *rawWriter { return nil }

func (*rawWriter) writeNow([]byte) (int, error) {
	return 0, errors.New("fanout: no direct writes on this system")
}
