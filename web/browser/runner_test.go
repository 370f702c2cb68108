//go:build !js

package browser_test

// This is the native half of the browser tests, the only part `go test ./...`
// runs directly. It
//
//  1. serves a small control endpoint on 127.0.0.1 (see control below);
//  2. runs this package's wasm tests (browser_test.go and the js-only files
//     beside it) as a child:
//     GOOS=js GOARCH=wasm go test -v -exec="env -u GOOS -u GOARCH go tool wasmbrowsertest" .
//     wasmbrowsertest serves the test binary to headless Chromium from
//     http://127.0.0.1:<a port of its own> and copies our environment into
//     the page, which is how the page learns the control URL;
//  3. fails with the child's whole output (and the servers' log) when the
//     child fails, or when any expected wasm test did not run and pass;
//     otherwise reports every wasm test as a subtest of TestBrowser, so
//     `go test -v` lists them by name.
//
// The page's origin is not known in advance (wasmbrowsertest picks its
// port and has no option to fix it), yet the allowing server must list it in
// Config.Origins, checked exactly. So the servers start only when the page
// asks for them: its first request to the control endpoint carries the
// Origin header, set by the browser itself, and the allowing server is
// configured with exactly that origin.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/comparetest"
	"github.com/ssevsws/ssevsws/web/browsertest"
)

// wasmTests are the tests browser_test.go must run and pass. The runner
// fails if one is missing, so a child that silently ran nothing (a build
// tag gone wrong, a -run that matches nothing) cannot look like a pass. A
// new wasm test must be added here too; the runner says so if it is not.
var wasmTests = []string{
	"TestEventSourceTicksMatchWebSocket",
	"TestEventSourceReconnectsAfterDropWithLastEventID",
	"TestRestartOnSamePortLosesNoTick",
	"TestWebSocketTicksEchoAndTooBigClose",
	"TestSSEBackChannelWithFetch",
	"TestOriginAllowedAndRefused",
	"TestWSClientReconnectsAfterDropWithBackoff",
	"TestEventSourceWatchdogReopensWithLastEventID",
	"TestWSClientWatchdogAfterSilentDrop",
}

// Environment variables the runner passes to the wasm tests.
const (
	envControl = "SSEVSWS_BROWSER_CONTROL" // base URL of the control endpoint
	envRun     = "SSEVSWS_BROWSER_RUN"     // optional: the child's -run pattern, to run a few wasm tests while working on them
)

// serverConfig is what every ssevsws server in the browser tests runs with:
// short enough for quick tests, long enough for a browser's timers.
func serverConfig(log *slog.Logger) compare.Config {
	return compare.Config{
		Interval:      100 * time.Millisecond,
		Retry:         300 * time.Millisecond,
		ShutdownRetry: 100 * time.Millisecond,
		// A silent drop (POST /drop?mode=silent) stays silent for 3
		// heartbeats: 1.5 s, against watchdogs of 2 heartbeats.
		Heartbeat: 500 * time.Millisecond,
		Logger:    log,
	}
}

func TestBrowser(t *testing.T) {
	browsertest.Require(t)

	logs := &comparetest.LogBuffer{}
	ctl := newControl(t, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	ctx := context.Background()
	timeout := 5 * time.Minute
	if d, ok := t.Deadline(); ok {
		left := time.Until(d)
		timeout = max(left-15*time.Second, left/2) // leave time to report
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	args := []string{"test", "-count=1", "-v",
		"-exec=env -u GOOS -u GOARCH go tool wasmbrowsertest",
		"-timeout=" + (timeout - 5*time.Second).Round(time.Second).String()}
	if run := os.Getenv(envRun); run != "" {
		args = append(args, "-run="+run)
	}
	args = append(args, ".")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", envControl+"="+ctl.url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	killGroupOnCancel(cmd) // the child starts go tool wasmbrowsertest, which starts Chromium
	cmd.WaitDelay = 10 * time.Second

	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start).Round(time.Millisecond)
	order, results := parseResults(out.String())

	report := func(format string, a ...any) {
		t.Helper()
		t.Fatalf("%s\n\n=== wasm test output (GOOS=js GOARCH=wasm go %s, %v) ===\n%s\n=== server log ===\n%s",
			fmt.Sprintf(format, a...), strings.Join(args, " "), elapsed, out.String(), logs.String())
	}
	switch {
	case ctx.Err() != nil:
		report("the browser tests did not finish within %v", timeout)
	case err != nil:
		report("the browser tests failed: %v", err)
	}
	var problems []string
	if os.Getenv(envRun) == "" {
		for _, name := range wasmTests {
			if results[name] != "PASS" {
				problems = append(problems, fmt.Sprintf("%s: %s", name, orNone(results[name])))
			}
		}
	}
	for name, res := range results {
		if !strings.Contains(name, "/") && !slices.Contains(wasmTests, name) {
			problems = append(problems, fmt.Sprintf("%s ran (%s) but is not listed in wasmTests in runner_test.go: add it", name, res))
		}
	}
	if len(results) == 0 {
		problems = append(problems, "no wasm test ran")
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		report("the child exited 0, but not every expected wasm test passed:\n\t%s", strings.Join(problems, "\n\t"))
	}

	t.Logf("wasm tests in headless Chromium, %v:\n%s", elapsed, out.String())
	// One subtest per wasm test, in the order they ran, so that `go test -v`
	// (and -json) name each of them as having passed in the browser.
	for _, name := range order {
		if !strings.Contains(name, "/") {
			t.Run(name, func(t *testing.T) { t.Logf("%s in headless Chromium", results[name]) })
		}
	}
}

func orNone(res string) string {
	if res == "" {
		return "did not run"
	}
	return res
}

// resultLine matches the "--- PASS: TestX (0.12s)" lines of go test -v,
// indented for subtests.
var resultLine = regexp.MustCompile(`(?m)^\s*--- (PASS|FAIL|SKIP): (\S+) `)

// parseResults maps every test and subtest name the child reported to PASS,
// FAIL or SKIP; order lists the names as they were reported.
func parseResults(out string) (order []string, res map[string]string) {
	res = map[string]string{}
	for _, m := range resultLine.FindAllStringSubmatch(out, -1) {
		if _, dup := res[m[2]]; !dup {
			order = append(order, m[2])
		}
		res[m[2]] = m[1]
	}
	return order, res
}

// control is the endpoint the wasm tests use to ask the native side for
// what a page cannot do itself. Every request from the page is cross-origin,
// so each answer carries Access-Control-Allow-Origin for the page's origin;
// the requests are CORS "simple" ones (POST without a body), so there is no
// preflight. Requests are handled one at a time.
//
//	POST /setup              start the servers, configured for the Origin of
//	                         this request (the page's); answer their URLs and
//	                         settings (setup below). Later calls answer the same.
//	POST /drop?transport=T[&mode=M]
//	                         POST /drop?transport=T&mode=M to the allowing server from
//	                         loopback and answer its status and body (the
//	                         server's /drop sends no CORS headers, so the page
//	                         could not read that answer itself).
//	POST /restart            stop the allowing server, stay down for
//	                         restartDownTicks ticks, start a new one on the
//	                         same port; answer when it listens (restart below).
//	GET  /stats?server=S     Stats() of server "allow", "deny" or "deny_default".
type control struct {
	t   *testing.T
	log *slog.Logger
	url string

	mu     sync.Mutex // one request at a time
	origin string     // the page's origin, from the first /setup
	allow  *comparetest.Server
	deny   *comparetest.Server // allows another origin, not the page's
	denyD  *comparetest.Server // the default configuration: no extra origins
	setup  setup
}

// setup is the answer to POST /setup: everything the wasm tests need to
// know about the servers.
type setup struct {
	Origin    string `json:"origin"`       // the page's origin, as the browser sent it
	Allow     string `json:"allow"`        // http://host:port of the server that allows Origin
	Deny      string `json:"deny"`         // http://host:port of a server that allows another origin, not the page's
	DenyOther string `json:"deny_other"`   // the origin that server allows
	Default   string `json:"deny_default"` // http://host:port of a server with the default configuration (no extra origins)
	Interval  int64  `json:"interval_ms"`
	Retry     int64  `json:"retry_ms"`
	Heartbeat int64  `json:"heartbeat_ms"`
	ReadLimit int64  `json:"read_limit"` // largest WebSocket message the servers take, bytes
}

// restart is the answer to POST /restart.
type restart struct {
	LastBefore int64 `json:"last_before"` // newest tick the old server published
	FirstAfter int64 `json:"first_after"` // tick current when the new server started
}

// restartDownTicks is how long a restart keeps the server down, in ticks,
// so that clients have missed ticks to get back.
const restartDownTicks = 4

func newControl(t *testing.T, log *slog.Logger) *control {
	c := &control{t: t, log: log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /setup", c.serveSetup)
	mux.HandleFunc("POST /drop", c.serveDrop)
	mux.HandleFunc("POST /restart", c.serveRestart)
	mux.HandleFunc("GET /stats", c.serveStats)
	hs := &http.Server{Handler: c.cors(mux), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range []*comparetest.Server{c.allow, c.deny, c.denyD} {
			if s != nil {
				s.StopChecked(t)
			}
		}
	})
	return c
}

// cors lets the page read the answers, and serializes the requests.
func (c *control) cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *control) serveSetup(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	switch {
	case origin == "":
		http.Error(w, "no Origin header: /setup must be called from the test page", http.StatusBadRequest)
		return
	case c.origin != "" && origin != c.origin:
		http.Error(w, fmt.Sprintf("servers already set up for origin %s, not %s", c.origin, origin), http.StatusConflict)
		return
	case c.origin != "":
		writeJSON(w, c.setup)
		return
	}
	allowCfg := serverConfig(c.log.With("server", "allow"))
	allowCfg.Origins = []string{origin}
	allow, err := comparetest.Run(allowCfg, "127.0.0.1:0")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// Two servers must refuse the page: one that allows another origin, and
	// one with the default configuration, as `ssevsws` starts without flags.
	denyCfg := serverConfig(c.log.With("server", "deny"))
	denyCfg.Origins = []string{"http://elsewhere.invalid:3000"}
	deny, err := comparetest.Run(denyCfg, "127.0.0.1:0")
	if err != nil {
		allow.StopChecked(c.t)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	denyD, err := comparetest.Run(serverConfig(c.log.With("server", "deny_default")), "127.0.0.1:0")
	if err != nil {
		allow.StopChecked(c.t)
		deny.StopChecked(c.t)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	c.origin, c.allow, c.deny, c.denyD = origin, allow, deny, denyD
	cfg := allow.Config()
	c.setup = setup{
		Origin:    origin,
		Allow:     allow.URL("http", ""),
		Deny:      deny.URL("http", ""),
		DenyOther: denyCfg.Origins[0],
		Default:   denyD.URL("http", ""),
		Interval:  cfg.Interval.Milliseconds(),
		Retry:     cfg.Retry.Milliseconds(),
		Heartbeat: cfg.Heartbeat.Milliseconds(),
		ReadLimit: cfg.ReadLimit,
	}
	c.log.Info("servers started for the test page", "origin", origin, "allow", allow.Addr, "deny", deny.Addr, "deny_default", denyD.Addr)
	writeJSON(w, c.setup)
}

func (c *control) serveDrop(w http.ResponseWriter, r *http.Request) {
	if c.allow == nil {
		http.Error(w, "call /setup first", http.StatusConflict)
		return
	}
	// From loopback and without an Origin header: allowed without a token.
	q := url.Values{"transport": {r.URL.Query().Get("transport")}}
	if m := r.URL.Query().Get("mode"); m != "" {
		q.Set("mode", m)
	}
	resp, err := http.Post(c.allow.URL("http", "/drop?"+q.Encode()), "", nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func (c *control) serveRestart(w http.ResponseWriter, _ *http.Request) {
	if c.allow == nil {
		http.Error(w, "call /setup first", http.StatusConflict)
		return
	}
	old := c.allow
	old.StopChecked(c.t)
	last := old.Stats().Seq
	// Stay down until restartDownTicks more ticks have started: a
	// deliberate outage (nothing to wait for), so that the clients miss
	// ticks the new server has to re-create.
	clock := old.Clock()
	time.Sleep(time.Until(clock.TimeOf(last + restartDownTicks + 1)))

	cfg := old.Config()
	cfg.DropToken = "" // a new process gets a new token
	s, err := comparetest.Run(cfg, old.Addr)
	if err != nil {
		http.Error(w, "restart on "+old.Addr+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	c.allow = s
	c.log.Info("allowing server restarted on the same port", "addr", s.Addr, "last_before", last, "first_after", s.Stats().Seq)
	writeJSON(w, restart{LastBefore: last, FirstAfter: s.Stats().Seq})
}

func (c *control) serveStats(w http.ResponseWriter, r *http.Request) {
	var s *comparetest.Server
	switch r.URL.Query().Get("server") {
	case "allow":
		s = c.allow
	case "deny":
		s = c.deny
	case "deny_default":
		s = c.denyD
	default:
		http.Error(w, "server must be allow, deny or deny_default", http.StatusBadRequest)
		return
	}
	if s == nil {
		http.Error(w, "call /setup first", http.StatusConflict)
		return
	}
	writeJSON(w, s.Stats())
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
