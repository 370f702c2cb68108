package benchmarks

import (
	"net"
	"syscall"
)

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h), which the
// syscall package does not name.
const ipBindAddressNoPort = 24

// bindNoPort makes d, which dials from a given source address, leave the
// choice of its source port to connect(2), which picks one free for that
// destination, instead of bind(2), which must find one free for every
// destination. With bind(2) choosing, a crowd of more than about 14,000
// connections from one address (half the ephemeral range: bind searches
// its half first) pays milliseconds per dial, measured here at 3.5 ms each
// past 14,000 (1 ms with this), against well under 0.1 ms before; and
// bind(2) fails with "address already in use" once TIME_WAIT sockets of
// earlier runs hold the rest of the range, where connect(2) may reuse them
// for a new destination. The 57,000-connection soak crawled, then lost
// load processes, for both reasons.
func bindNoPort(d *net.Dialer) {
	d.Control = func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		}); cerr != nil {
			return cerr
		}
		return err
	}
}
