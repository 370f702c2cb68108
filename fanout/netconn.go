package fanout

import (
	"bytes"
	"net"
)

// NetConn is the connection as a net.Conn for a library that writes to it
// itself, such as coder/websocket writing control frames (pong, close):
// reads go to the socket, writes go through the Conn, in order with the
// broadcasts, and never block, even after Seal; Close finishes the Conn (what is queued is
// written first).
func (c *Conn) NetConn() net.Conn { return netConn{Conn: c.nc, c: c} }

type netConn struct {
	net.Conn
	c *Conn
}

// Write copies p (a library reuses its buffer) and writes it through c.
func (n netConn) Write(p []byte) (int, error) {
	if err := n.c.writeAtAs(bytes.Clone(p), now(), false, true); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n netConn) Close() error {
	n.c.Finish(nil)
	return nil
}
