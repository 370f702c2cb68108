package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
)

// A zero that compare.Config would read as "the default" is refused as
// clearly as a negative, with the default in the message.
func TestZeroFlagValuesAreRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-queue", "0"},
		{"-queue", "-3"},
		{"-read-limit", "0"},
		{"-write-timeout", "0s"},
		{"-interval", "0"},
		{"-retry", "0s"},
		{"-replay", "0s"},
	} {
		var stderr strings.Builder
		code := run(context.Background(), args, noEnv, io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "-"+strings.TrimPrefix(args[0], "-")+" ") ||
			!strings.Contains(stderr.String(), "must be more than 0 (default ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message naming the flag and its default", args, code, stderr.String())
		}
	}
	// -heartbeat 0 keeps its documented meaning: off.
	o, err := parseFlags([]string{"-heartbeat", "0"}, noEnv, io.Discard)
	if err != nil || o.cfg.Heartbeat >= 0 {
		t.Errorf("-heartbeat 0: %v, heartbeat %v; want it accepted as off", err, o.cfg.Heartbeat)
	}
}

// A port in use says what to do about it, not only the kernel's words.
func TestPortInUseSuggestsAnother(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr strings.Builder
	code := run(context.Background(), []string{"-addr", ln.Addr().String()}, noEnv, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "address already in use") ||
		!strings.Contains(stderr.String(), "-addr 127.0.0.1:0") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1, the kernel's reason and a hint to use -addr 127.0.0.1:0", code, stderr.String())
	}
}

// On loopback no other machine can connect, so the log must not offer a
// token "to drop from other machines". (Tests listen on loopback only, so
// the other branch is checked through onLoopback.)
func TestLoopbackLogSaysThisMachine(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve, log, and stop at once: only the log matters here
	var stderr strings.Builder
	if code := run(ctx, []string{"-addr", "127.0.0.1:0"}, noEnv, io.Discard, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	if log := stderr.String(); !strings.Contains(log, "reachable from this machine only") || strings.Contains(log, "other machines") {
		t.Errorf("log\n%s\nwant \"reachable from this machine only\" and no offer to other machines", log)
	}
	for _, tt := range []struct {
		ip   net.IP
		want bool
	}{
		{net.IPv4(127, 0, 0, 1), true},
		{net.IPv6loopback, true},
		{net.IPv4zero, false},
		{net.IPv4(192, 0, 2, 1), false},
	} {
		if got := onLoopback(&net.TCPAddr{IP: tt.ip}); got != tt.want {
			t.Errorf("onLoopback(%v) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}
