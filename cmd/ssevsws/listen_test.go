//go:build linux

package main

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// -tcp-keepalive is set on every accepted connection, as the kernel sees
// it: SO_KEEPALIVE on, the idle time, the probe interval and count; and 0
// turns it off.
func TestListenSetsTCPKeepAlive(t *testing.T) {
	for _, idle := range []time.Duration{30 * time.Second, 0} {
		ln, err := listen("127.0.0.1:0", idle)
		if err != nil {
			t.Fatal(err)
		}
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := conn.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var on, keepIdle, intvl, cnt int
		rc.Control(func(fd uintptr) {
			on, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			keepIdle, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
			intvl, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
			cnt, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
		})
		switch {
		case idle == 0 && on != 0:
			t.Errorf("-tcp-keepalive 0: SO_KEEPALIVE is on")
		case idle > 0 && (on == 0 || keepIdle != 30 || intvl != 10 || cnt != 3):
			t.Errorf("-tcp-keepalive %v: on=%d idle=%ds interval=%ds count=%d; want on, 30s, 10s, 3", idle, on, keepIdle, intvl, cnt)
		}
		client.Close()
		conn.Close()
		ln.Close()
	}
}
