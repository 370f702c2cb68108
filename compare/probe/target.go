package probe

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ssevsws/ssevsws/compare"
)

// Target is a running ssevsws server that probes connect to.
type Target struct {
	// Base is the server's root URL, http:// or https://, possibly with a
	// path prefix when a proxy serves the demo under one.
	Base *url.URL
	// TLSConfig is used for https:// targets; nil means the defaults.
	TLSConfig *tls.Config
	// DropToken authorises POST /drop on a server that is not on loopback.
	DropToken string
	// Dialer opens the TCP connections; its zero value is fine.
	Dialer net.Dialer
	// DialContext, if set, replaces Dialer for the hand-written clients
	// (RawConn): tests and benchmarks use it to wrap or fake connections.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	hc *http.Client
}

// NewTarget parses base ("http://127.0.0.1:8080") into a Target.
func NewTarget(base string) (*Target, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("probe: target %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("probe: target %q: want http://host:port or https://host:port", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("probe: target %q: want only scheme, host, port and an optional path", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return &Target{Base: u}, nil
}

// url resolves an endpoint ("sse", "ws", "chat") against Base.
func (tg *Target) url(endpoint string) *url.URL {
	return tg.Base.JoinPath(endpoint)
}

// hostPort is Base's host with the port made explicit, for dialling.
func (tg *Target) hostPort() string {
	if tg.Base.Port() != "" {
		return tg.Base.Host
	}
	if tg.Base.Scheme == "https" {
		return net.JoinHostPort(tg.Base.Hostname(), "443")
	}
	return net.JoinHostPort(tg.Base.Hostname(), "80")
}

// dial opens one connection to the target: TCP, then TLS for https://,
// offering only HTTP/1.1 so that both transports use the same protocol.
func (tg *Target) dial(ctx context.Context) (net.Conn, error) {
	dial := tg.Dialer.DialContext
	if tg.DialContext != nil {
		dial = tg.DialContext
	}
	nc, err := dial(ctx, "tcp", tg.hostPort())
	if err != nil {
		return nil, err
	}
	if tg.Base.Scheme != "https" {
		return nc, nil
	}
	cfg := &tls.Config{}
	if tg.TLSConfig != nil {
		cfg = tg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = tg.Base.Hostname()
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// httpClient is a plain client for /stats and /drop, on the same dialer.
func (tg *Target) httpClient() *http.Client {
	if tg.hc == nil {
		tg.hc = &http.Client{Transport: tg.transport(), Timeout: 10 * time.Second}
	}
	return tg.hc
}

// transport is an HTTP/1.1 transport that dials like the probes do.
func (tg *Target) transport() *http.Transport {
	return &http.Transport{
		DialContext:     tg.Dialer.DialContext,
		TLSClientConfig: tg.TLSConfig,
		// No HTTP/2: the probes compare both transports over HTTP/1.1.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// Close releases the target's idle HTTP connections.
func (tg *Target) Close() {
	if tg.hc != nil {
		tg.hc.CloseIdleConnections()
	}
}

// Stats reads GET /stats.
func (tg *Target) Stats(ctx context.Context) (compare.StatsSnapshot, error) {
	var st compare.StatsSnapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.url("stats").String(), nil)
	if err != nil {
		return st, err
	}
	resp, err := tg.httpClient().Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET /stats: %w", err)
	}
	if st.IntervalMS <= 0 {
		return st, errors.New("GET /stats: no interval_ms: is this an ssevsws server?")
	}
	return st, nil
}

// Drop asks the server to close every connection of transport t (POST
// /drop) and returns how many it closed. It drops all of them, not only the
// probe's: on a shared server every open page sees its connection drop and
// come back, as with the page's own drop button.
func (tg *Target) Drop(ctx context.Context, t compare.Transport) (int, error) {
	u := tg.url("drop")
	u.RawQuery = "transport=" + string(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return 0, err
	}
	if tg.DropToken != "" {
		req.Header.Set("Authorization", "Bearer "+tg.DropToken)
	}
	resp, err := tg.httpClient().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode == http.StatusForbidden {
		return 0, fmt.Errorf("POST /drop: 403: the server allows it from loopback or with its drop token (-token)")
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST /drop: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var n struct {
		Dropped int `json:"dropped"`
	}
	if err := json.Unmarshal(body, &n); err != nil {
		return 0, fmt.Errorf("POST /drop: %w", err)
	}
	return n.Dropped, nil
}
