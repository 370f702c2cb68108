//go:build !linux

package benchmarks

import "net"

// bindNoPort does nothing where IP_BIND_ADDRESS_NO_PORT does not exist.
func bindNoPort(*net.Dialer) {}
