package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func noEnv(string) string { return "" }

func TestHelpListsEveryFlag(t *testing.T) {
	var stderr strings.Builder
	if code := run(context.Background(), []string{"-h"}, noEnv, io.Discard, &stderr); code != 0 {
		t.Fatalf("-h exited %d", code)
	}
	for _, flag := range []string{"-addr", "-interval", "-heartbeat", "-retry", "-replay", "-origins", "-log", "PORT"} {
		if !strings.Contains(stderr.String(), flag) {
			t.Errorf("help does not mention %s:\n%s", flag, stderr.String())
		}
	}
}

func TestBadUsageExitsTwoWithAReason(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-interval", "1500us"}, "whole number of milliseconds"},
		{[]string{"-replay", "10s"}, "at least 1m0s"},
		{[]string{"-origins", "localhost:3000"}, "scheme://host"},
		{[]string{"-retry", "abc"}, "invalid value"},
		{[]string{"-log", "loud"}, "want debug, info, warn or error"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"-nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		var stderr strings.Builder
		code := run(context.Background(), tt.args, noEnv, io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

func TestPortSetsTheDefaultAddress(t *testing.T) {
	o, err := parseFlags(nil, func(k string) string {
		if k == "PORT" {
			return "9999"
		}
		return ""
	}, io.Discard)
	if err != nil || o.addr != ":9999" {
		t.Errorf("addr %q, %v; want :9999", o.addr, err)
	}
	o, _ = parseFlags([]string{"-addr", "127.0.0.1:1"}, func(string) string { return "9999" }, io.Discard)
	if o.addr != "127.0.0.1:1" {
		t.Errorf("-addr did not win over PORT: %q", o.addr)
	}
}

// startRun runs the binary's logic with args until the test ends and
// returns the page URL it announces.
func startRun(t *testing.T, args ...string) (url string, stop func() int) {
	t.Helper()
	return startRunLogging(t, io.Discard, args...)
}

// startRunLogging is startRun with the binary's log (its standard error)
// written to stderr.
func startRunLogging(t *testing.T, stderr io.Writer, args ...string) (url string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, w := io.Pipe()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, args, noEnv, w, stderr)
		w.Close()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no page URL announced: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "ssevsws: open ")
	if !ok || strings.HasSuffix(url, ":0/") {
		cancel()
		t.Fatalf("first line %q: want the page URL with the real port", line)
	}
	stopped := false
	code := 0
	stop = func() int {
		if !stopped {
			stopped = true
			cancel()
			select {
			case code = <-exit:
			case <-time.After(10 * time.Second):
				t.Fatal("server did not stop within 10s of the signal")
			}
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return url, stop
}

// The binary serves, announces the real address of port 0, and stops
// cleanly when its context ends (as on SIGINT/SIGTERM).
func TestServeUntilSignalled(t *testing.T) {
	defer goleak.VerifyNone(t)
	url, stop := startRun(t, "serve", "-addr", "127.0.0.1:0", "-interval", "100ms")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d after a signal, want 0", code)
	}
}
