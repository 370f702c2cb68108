package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare/comparetest"
)

// serveEnv, set in a process's environment, makes this test binary run
// `ssevsws` with the arguments it holds (JSON), as the binary itself
// would: the two-instance tests run real server processes without building
// the binary, and under -race the servers are checked too.
const serveEnv = "SSEVSWS_TEST_SERVE_ARGS"

// init is not TestMain so that it runs before the testing flags are
// parsed (as the sweep client's init in compare_test.go).
func init() {
	spec := os.Getenv(serveEnv)
	if spec == "" {
		return
	}
	var args []string
	if err := json.Unmarshal([]byte(spec), &args); err != nil {
		fmt.Fprintln(os.Stderr, serveEnv+":", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// proc is an ssevsws server in a process of its own.
type proc struct {
	Addr   string // host:port it listens on
	cmd    *exec.Cmd
	log    *comparetest.LogBuffer // its standard error
	exited chan struct{}
	code   int
}

// startProc starts `ssevsws args...` in a process of its own, on a free
// loopback port, and returns once it has announced its address. It is
// stopped, with SIGTERM, when the test ends; its log is shown if the test
// failed, and a non-zero exit (a race report is one) fails the test.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(append([]string{"-addr", "127.0.0.1:0"}, args...))
	p := &proc{cmd: exec.Command(self), log: &comparetest.LogBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), serveEnv+"="+string(spec))
	p.cmd.Stderr = p.log
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	announced := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "ssevsws: open http://"); ok {
				announced <- strings.TrimSuffix(u, "/")
			}
		}
		p.cmd.Wait() // after the pipe is drained, as exec requires
		if p.cmd.ProcessState != nil {
			p.code = p.cmd.ProcessState.ExitCode()
		}
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	select {
	case p.Addr = <-announced:
	case <-p.exited:
		t.Fatalf("ssevsws %v exited with %d before it listened:\n%s", args, p.code, p.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("ssevsws %v did not announce its address within 30s:\n%s", args, p.log)
	}
	return p
}

// stop ends the process as a signal would and checks that it stopped
// cleanly.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("server process %s did not stop within 15s of SIGTERM", p.Addr)
		}
	}
	if p.code != 0 {
		t.Errorf("server process %s exited with %d:\n%s", p.Addr, p.code, p.log)
	} else if t.Failed() {
		t.Logf("server process %s log:\n%s", p.Addr, p.log)
	}
}

// URL is the process's address as an http URL with path.
func (p *proc) URL(path string) string { return "http://" + p.Addr + path }

// stats reads the process's /stats.
func (p *proc) stats(t *testing.T, client *http.Client) (st struct {
	Instance string
	Broker   *struct{ Up bool }
	SSE      struct{ Resumes, Chats int64 }
}) {
	t.Helper()
	resp, err := client.Get(p.URL("/stats"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
