package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// shutdownGrace is how long a stopping server waits for connections to end.
const shutdownGrace = 5 * time.Second

// run parses args and serves until ctx is done. It returns the exit code:
// 0 after a clean shutdown, 1 when serving failed, 2 for bad usage.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "compare" {
		return runCompare(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	opts, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ssevsws:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: opts.logLevel}))
	opts.cfg.Logger = log
	opts.cfg.Measure = pageMeasurement.Measure

	// Checked before anything is started; New, below, cannot refuse it then.
	if err := opts.cfg.Check(); err != nil {
		fmt.Fprintln(stderr, "ssevsws: bad configuration:\n"+err.Error())
		return 2
	}
	ln, err := listen(opts.addr, opts.tcpKeepAlive)
	if err != nil {
		log.Error("cannot listen", "addr", opts.addr, "err", err)
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintf(stderr, "ssevsws: %s is taken: another program (another ssevsws?) listens there.\n"+
				"Stop it, or pick another port: -addr 127.0.0.1:0 takes any free one (the log says which), -addr localhost:8081 that one.\n", opts.addr)
		}
		return 1
	}
	if opts.cfg.Instance == "" {
		opts.cfg.Instance = ln.Addr().String() // the real port, with -addr :0
	}
	// The broker, if any, outlives the server: streams that end in the
	// server's Shutdown release their routes through it.
	b, err := startBroker(opts, log)
	if err != nil {
		fmt.Fprintln(stderr, "ssevsws:", err)
		ln.Close()
		return 1
	}
	defer b.stop()
	if b.router != nil {
		opts.cfg.Router = b.router
	}
	srv, err := compare.New(opts.cfg)
	if err != nil {
		fmt.Fprintln(stderr, "ssevsws: bad configuration:\n"+err.Error())
		ln.Close()
		return 2
	}
	scheme := "http"
	if opts.tls {
		cfg, selfSigned, err := tlsConfig(opts.certFile, opts.keyFile)
		if err != nil {
			fmt.Fprintln(stderr, "ssevsws:", err)
			ln.Close()
			srv.Shutdown(context.Background())
			return 2
		}
		if selfSigned {
			log.Info("serving HTTP/2 over TLS with a self-signed certificate for localhost; the browser will warn once")
		} else {
			log.Info("serving HTTP/2 over TLS", "cert", opts.certFile)
		}
		ln = tls.NewListener(ln, cfg)
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String() + "/"
	log.Info("listening", "addr", ln.Addr().String(), "instance", opts.cfg.Instance, "interval", srv.Config().Interval, "retry", srv.Config().Retry,
		"heartbeat", srv.Config().Heartbeat, "replay", srv.Config().Replay, "broker", b.url)
	if onLoopback(ln.Addr()) {
		// No other machine can reach a loopback listener; the token still
		// matters to a proxy on this machine, whose requests carry its Host.
		log.Info("listening on loopback: reachable from this machine only; /drop and /measure need no token here, "+
			"or this token through a proxy", "header", "Authorization: Bearer "+srv.DropToken(), "page", url+"?token="+srv.DropToken())
	} else {
		log.Info("drop from other machines with this token", "header", "Authorization: Bearer "+srv.DropToken(),
			"page", url+"?token="+srv.DropToken())
	}
	fmt.Fprintf(stdout, "ssevsws: open %s\n", url)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("server failed", "err", err)
		srv.Shutdown(context.Background())
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown incomplete", "err", err)
		return 1
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("server ended", "err", err)
	}
	log.Info("stopped")
	return 0
}

type options struct {
	addr         string
	tcpKeepAlive time.Duration
	tls          bool
	certFile     string
	keyFile      string
	broker       string // -broker: a NATS URL
	brokerEmbed  string // -broker-embed: host:port for an in-process NATS server
	cfg          compare.Config
	logLevel     slog.Level
}

// parseFlags reads the command line. Environment variables give defaults
// where that is the convention: PORT (listen on all interfaces, as platforms
// that set it expect) and SSEVSWS_DROP_TOKEN.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	def := compare.DefaultConfig()
	o := options{addr: "localhost:8080"}
	if p := getenv("PORT"); p != "" {
		o.addr = ":" + p
	}
	fs := flag.NewFlagSet("ssevsws", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: ssevsws [serve] [flags]
       ssevsws compare [flags]   (measure both transports; see ssevsws compare -h)

Serves one clock over /sse (Server-Sent Events) and /ws (WebSocket), and a
page at / that shows both side by side.

Several instances behind one address: give each an -instance name; start
the first with -broker-embed host:port and the others with -broker
nats://host:port, so that an SSE chat reaches the instance holding the
stream (cmd/ssevsws/nginx-two.conf puts nginx in front of two).

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Durations are Go durations: 200ms, 15s, 5m.
Environment: PORT sets the default -addr to ":$PORT";
SSEVSWS_DROP_TOKEN sets the token that allows POST /drop from non-loopback addresses.
`)
	}
	fs.StringVar(&o.addr, "addr", o.addr, "`host:port` to listen on (port 0 picks a free port; the log says which)")
	fs.DurationVar(&o.cfg.Interval, "interval", def.Interval, "time between clock ticks (whole milliseconds)")
	fs.DurationVar(&o.cfg.Heartbeat, "heartbeat", def.Heartbeat, "SSE keep-alive comment after this much silence (0 or negative: off)")
	fs.DurationVar(&o.cfg.Retry, "retry", def.Retry, "SSE retry: how long browsers wait before reconnecting")
	fs.DurationVar(&o.cfg.Replay, "replay", def.Replay, "replay window for returning clients (at least 1m)")
	origins := fs.String("origins", "", "comma-separated extra `origins` allowed, as browsers send them (e.g. http://localhost:3000)")
	fs.Int64Var(&o.cfg.ReadLimit, "read-limit", def.ReadLimit, "largest WebSocket message from a client, in bytes")
	fs.DurationVar(&o.cfg.WriteTimeout, "write-timeout", def.WriteTimeout, "a client that cannot take one message in this long is dropped")
	fs.IntVar(&o.cfg.QueueSize, "queue", def.QueueSize, "messages queued per client before it counts as too slow and is dropped")
	fs.IntVar(&o.cfg.MaxConns, "max-conns", 0, "cap on open SSE and WebSocket connections; more get 503 + Retry-After (0: no cap)")
	fs.IntVar(&o.cfg.MaxConnsPerIP, "max-conns-per-ip", 0, "the same cap per client IP (0: no cap)")
	fs.DurationVar(&o.cfg.PingInterval, "ping", def.PingInterval, "WebSocket keep-alive ping every this long")
	fs.DurationVar(&o.cfg.PongTimeout, "pong-timeout", def.PongTimeout, "a WebSocket client that does not answer a ping within this is closed")
	fs.DurationVar(&o.cfg.RetryJitter, "retry-jitter", def.RetryJitter, "SSE streams the server ends get retry: plus a random part up to this, so that they do not all come back at once (0: off)")
	fs.DurationVar(&o.tcpKeepAlive, "tcp-keepalive", 15*time.Second, "TCP keep-alive: probe an idle connection after this long, every this long, 3 times, then close it (0: off)")
	fs.BoolVar(&o.tls, "tls", false, "serve HTTP/2 over TLS (self-signed certificate for localhost unless -cert and -key are given)")
	fs.StringVar(&o.certFile, "cert", "", "TLS certificate `file` (PEM); implies -tls")
	fs.StringVar(&o.keyFile, "key", "", "TLS key `file` (PEM); implies -tls")
	fs.StringVar(&o.cfg.Instance, "instance", "", "this instance's `name` in hellos, /stats and chat answers (default: the listen address, host:port)")
	fs.StringVar(&o.broker, "broker", "", "route SSE chat between instances through the NATS server at `URL` (nats://host:port)")
	fs.StringVar(&o.brokerEmbed, "broker-embed", "", "start a NATS server in this process, listening on `host:port`, and use it as -broker (for the other instances)")
	fs.DurationVar(&o.cfg.RouteTimeout, "broker-timeout", def.RouteTimeout, "a chat routed through the broker that has no answer in this long gets 503")
	logLevel := fs.String("log", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	if err := checkPositive(fs); err != nil {
		return o, err
	}
	if err := checkBrokerFlags(o.broker, o.brokerEmbed); err != nil {
		return o, err
	}
	if o.certFile != "" || o.keyFile != "" {
		o.tls = true
	}
	if o.cfg.Heartbeat <= 0 {
		o.cfg.Heartbeat = -1 // compare.Config: negative means off
	}
	if o.cfg.RetryJitter <= 0 {
		o.cfg.RetryJitter = -1 // off
	}
	for _, s := range strings.Split(*origins, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.cfg.Origins = append(o.cfg.Origins, strings.TrimSuffix(s, "/"))
		}
	}
	o.cfg.DropToken = getenv("SSEVSWS_DROP_TOKEN")
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return o, fmt.Errorf("-log %q: want debug, info, warn or error", *logLevel)
	}
	return o, nil
}

// mustBePositive are the flags whose zero would silently mean "the default"
// in compare.Config, and whose negative compare.New refuses: asked for
// explicitly, a zero is a mistake, so it is refused as clearly as a
// negative.
var mustBePositive = []string{"interval", "retry", "replay", "read-limit", "write-timeout", "queue", "ping", "pong-timeout", "broker-timeout"}

// checkPositive refuses 0 or less for each of mustBePositive that was set.
func checkPositive(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err != nil || !slices.Contains(mustBePositive, f.Name) {
			return
		}
		v := f.Value.String()
		positive := false
		if d, derr := time.ParseDuration(v); derr == nil {
			positive = d > 0
		} else if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil {
			positive = n > 0
		}
		if !positive {
			err = fmt.Errorf("-%s %s: must be more than 0 (default %s)", f.Name, v, f.DefValue)
		}
	})
	return err
}

// onLoopback reports whether addr is a loopback address, where only this
// machine can connect.
func onLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
