package main

import (
	"context"
	"net"
	"time"
)

// listen listens on addr with TCP keep-alive set deliberately on every
// accepted connection: after idle with nothing exchanged, the kernel probes
// the peer every idle/3 (at least a second), three times, and then gives
// the connection up, so a client that vanished (power off, cable cut, a NAT
// entry gone) is freed within about twice idle, if nothing is being sent. While the server is
// sending (ticks), unacknowledged data suspends keep-alive: then it is the
// write timeout, the queue limit or the WebSocket ping that frees it. idle
// <= 0 turns keep-alive off.
func listen(addr string, idle time.Duration) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	if idle > 0 {
		interval := max(idle/3, time.Second)
		lc.KeepAliveConfig = net.KeepAliveConfig{Enable: true, Idle: idle, Interval: interval, Count: 3}
	}
	return lc.Listen(context.Background(), "tcp", addr)
}
