//go:build !js

package comparetest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Nginx runs a real nginx until the test ends, with conf, one of the
// repository's shipped configurations, after these changes: each
// replacement pair (old, new) is made wherever old occurs, and listen, the
// address of conf's "listen" line, becomes a free port. It returns that
// port's address once nginx listens there. Every old must appear in conf: a
// shipped config that changed shape fails the test instead of running with
// the wrong addresses.
//
// Without nginx the test is skipped, or fails under CI=true, where every
// test must run.
func Nginx(tb testing.TB, conf, listen string, replacements ...string) (proxy string) {
	tb.Helper()
	nginx := RequireNginx(tb)
	if len(replacements)%2 != 0 {
		tb.Fatal("comparetest.Nginx: replacements come in pairs")
	}
	listenLine := "listen " + listen + ";"
	olds := []string{listenLine}
	for i := 0; i < len(replacements); i += 2 {
		olds = append(olds, replacements[i])
	}
	for _, old := range olds {
		if !strings.Contains(conf, old) {
			tb.Fatalf("the nginx config changed shape: no %q in it", old)
		}
	}
	// The port is free when freePort returns, but nothing holds it until
	// nginx binds it: a server of another test (another package's, run in
	// parallel) may take it first. nginx then exits, and Nginx tries
	// another port.
	for attempt := 1; ; attempt++ {
		proxy = freePort(tb)
		pairs := append([]string{listenLine, "listen " + proxy + ";"}, replacements...)
		replaced := strings.NewReplacer(pairs...).Replace(conf) // every occurrence
		err := startNginx(tb, nginx, replaced, proxy)
		if err == nil {
			return proxy
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			tb.Fatal(err)
		}
		tb.Log(err)
	}
}

// RequireNginx finds the nginx binary, or skips the test (fails it under
// CI=true). A test that starts other things before Nginx calls it first, to
// skip before it has started anything.
func RequireNginx(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	const msg = "nginx not found (apt-get install -y nginx); the proxy tests need it"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + ", and CI=true forbids skipping them")
	}
	tb.Skip(msg + "; skipping")
	return ""
}

// errPortTaken is startNginx's error when another process had taken the
// port meant for nginx.
var errPortTaken = errors.New("the proxy's port was taken before nginx could listen on it")

// startNginx runs conf in nginx until the test ends and returns once nginx
// listens on proxy.
func startNginx(tb testing.TB, nginx, conf, proxy string) error {
	tb.Helper()
	prefix := tb.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		os.Mkdir(filepath.Join(prefix, d), 0o755)
	}
	os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(conf), 0o644)
	cmd := exec.Command(nginx, "-p", prefix, "-c", filepath.Join(prefix, "nginx.conf"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	// exited is closed, not sent on, so that both the wait below and the
	// cleanup see it when nginx exits early.
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})

	// nginx says nothing when it is ready. A connection that is accepted
	// does not say it either: whoever took the port would accept it. nginx
	// writes its pid file (the shipped configs' "pid nginx.pid") once it
	// listens, and with "daemon off" the pid is the one started here.
	pidFile := filepath.Join(prefix, "nginx.pid")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(pidFile); strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid) {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(prefix, "logs", "error.log"))
			if strings.Contains(string(log), "Address already in use") {
				return fmt.Errorf("%w (%s)", errPortTaken, proxy)
			}
			return fmt.Errorf("nginx exited: %v\n%s\n%s", waitErr, out.String(), log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nginx did not listen on %s within 10s: %s", proxy, out.String())
		}
	}
}

func freePort(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
