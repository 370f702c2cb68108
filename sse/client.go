package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// DefaultRetry is the reconnection time a Client uses until the server sends
// a retry: field (browsers use a few seconds too).
const DefaultRetry = 3 * time.Second

// Client reads an event stream and reconnects the way a browser's
// EventSource does:
//
//   - it asks for text/event-stream and sends Last-Event-ID once it knows one;
//   - when the connection ends (cleanly or with a network error) it waits the
//     reconnection time, which the server may change with retry:, and
//     connects again, resuming after the last event ID;
//   - when the server answers with a status other than 200 or a Content-Type
//     other than text/event-stream, it gives up for good (a *StatusError),
//     because that answer will not change by asking again;
//   - it also gives up when asking again could only repeat a failure of its
//     own: an event over the Reader's size limits (ErrLineTooLong,
//     ErrEventTooLarge; the resumed stream would send it again) or an event
//     id that cannot travel in a header (ErrUnsendableID).
//
// Set the fields, then call Run. Do not change them while Run is running.
type Client struct {
	URL string

	// HTTPClient makes the requests; nil means http.DefaultClient. It must
	// not have a Timeout, which would cut every stream after that long.
	HTTPClient *http.Client

	// Header holds extra request headers.
	Header http.Header

	// LastEventID is sent on the first connection, like a Last-Event-ID
	// remembered from an earlier run.
	LastEventID string

	// DefaultRetry is the reconnection time until the server sends retry:;
	// <= 0 means the package's DefaultRetry. A server's "retry: 0" means
	// reconnecting at once.
	DefaultRetry time.Duration

	// OnOpen, if set, is called in Run's goroutine after each successful
	// connection (200 OK with text/event-stream).
	OnOpen func()

	// OnError, if set, is called in Run's goroutine each time a connection
	// ends, before waiting to reconnect: io.EOF when the server ended the
	// stream, ErrStalled when the watchdog gave up on it, otherwise the
	// network or parse error.
	OnError func(error)

	// Watchdog, if > 0, is how long a connection may stay silent (not a
	// byte, keep-alive comments included) before the Client abandons it
	// (ErrStalled) and reconnects after the reconnection time, resuming
	// from the last event id. An EventSource has no such watchdog: a
	// stream whose path went dead (a NAT entry gone, a laptop that slept)
	// stays "open" for ever. SetWatchdog changes it while Run runs, for a
	// server that announces its heartbeat in its first event.
	Watchdog time.Duration

	mu       sync.Mutex
	seeded   bool   // Run copied LastEventID into lastID
	lastID   string // the id sent on the next reconnection
	watchdog time.Duration
	watch    *watch // the current connection's, if any
}

// ErrStalled ends a connection on which nothing arrived for the watchdog's
// time; Run reconnects.
var ErrStalled = errors.New("sse: nothing received within the watchdog time; reconnecting")

// SetWatchdog sets the watchdog (see Client.Watchdog) from now on, for the
// current connection too; d <= 0 turns it off. It is safe to call from
// handle or any goroutine.
func (c *Client) SetWatchdog(d time.Duration) {
	c.mu.Lock()
	c.watchdog = d
	w := c.watch
	c.mu.Unlock()
	if w != nil {
		w.feed(d)
	}
}

// watch is one connection's watchdog: a timer that every read of a byte
// sets again, and that cancels the connection when it fires.
type watch struct {
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	timer  *time.Timer
}

func (w *watch) feed(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case d <= 0:
		if w.timer != nil {
			w.timer.Stop()
		}
	case w.timer == nil:
		w.timer = time.AfterFunc(d, func() { w.cancel(ErrStalled) })
	default:
		w.timer.Reset(d)
	}
}

func (w *watch) stop() { w.feed(0) }

// watchedBody feeds the watchdog on every read that brought bytes.
type watchedBody struct {
	c *Client
	w *watch
	r io.Reader
}

func (b watchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.c.mu.Lock()
		d := b.c.watchdog
		b.c.mu.Unlock()
		b.w.feed(d)
	}
	return n, err
}

// StatusError is the final error of Client.Run when the server's answer is
// not an event stream: a status other than 200 OK, or a Content-Type other
// than text/event-stream.
type StatusError struct {
	StatusCode  int
	ContentType string
}

// ErrUnsendableID is the final error of Client.Run when the server sent an
// event id with a control character other than tab (NUL, CR and LF never
// become ids). A browser would send it back, but Go's net/http refuses such
// a header value, and reconnecting without it would silently skip events.
var ErrUnsendableID = errors.New("sse: last event id has a control character and cannot be sent as Last-Event-ID; not reconnecting")

func (e *StatusError) Error() string {
	if e.StatusCode != http.StatusOK {
		return fmt.Sprintf("sse: server answered %d %s instead of an event stream; not reconnecting",
			e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("sse: server answered with Content-Type %q instead of text/event-stream; not reconnecting",
		e.ContentType)
}

// Run connects and calls handle, in Run's goroutine, for every event until
// ctx is done, when it returns ctx.Err() (also while waiting to reconnect);
// no event is handled after ctx is done. It returns early only with one of
// the final errors listed on Client, or an error for a URL that is not
// http or https with a host, or a Header or LastEventID that cannot be sent.
// handle must not be nil; while it runs, no more events are read.
//
// Run may be called again after it returns, but not concurrently; each call
// starts from c.LastEventID.
func (c *Client) Run(ctx context.Context, handle func(Event)) error {
	if err := c.check(); err != nil {
		return err
	}
	c.setLastID(c.LastEventID)
	c.mu.Lock()
	c.watchdog = c.Watchdog
	c.mu.Unlock()
	retry := c.DefaultRetry
	if retry <= 0 {
		retry = DefaultRetry
	}
	for {
		err := c.connect(ctx, &retry, handle)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isFinal(err) {
			return err
		}
		if c.OnError != nil {
			c.OnError(err)
		}
		wait := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			wait.Stop()
			return ctx.Err()
		case <-wait.C:
		}
	}
}

// check refuses, before any request, what every request would fail on.
func (c *Client) check() error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("sse: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("sse: URL %q is not http:// or https:// with a host", c.URL)
	}
	for name, values := range c.Header {
		for _, v := range values {
			if !validHeaderValue(v) {
				return fmt.Errorf("sse: header %s has a control character", name)
			}
		}
	}
	return nil // an unsendable LastEventID is refused by the first connect
}

// isFinal reports whether err ends Run instead of a reconnect.
func isFinal(err error) bool {
	if _, ok := errors.AsType[*StatusError](err); ok {
		return true
	}
	return errors.Is(err, ErrUnsendableID) || errors.Is(err, ErrLineTooLong) || errors.Is(err, ErrEventTooLarge)
}

// validHeaderValue applies net/http's rule for header values: no control
// characters but tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// CurrentLastEventID returns the ID the client would send as Last-Event-ID
// if it reconnected now. It is safe to call from any goroutine.
func (c *Client) CurrentLastEventID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.seeded {
		return c.LastEventID
	}
	return c.lastID
}

func (c *Client) setLastID(id string) {
	c.mu.Lock()
	c.seeded, c.lastID = true, id
	c.mu.Unlock()
}

// connect runs one connection until it ends and returns why it ended.
// It updates *retry when the server sent a retry: field.
func (c *Client) connect(ctx context.Context, retry *time.Duration, handle func(Event)) error {
	connCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &watch{cancel: cancel}
	c.mu.Lock()
	c.watch = w
	d := c.watchdog
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.watch = nil
		c.mu.Unlock()
		w.stop()
	}()
	w.feed(d) // the server's answer counts: silence from the request on
	err := c.stream(connCtx, retry, handle, w)
	if context.Cause(connCtx) == ErrStalled && ctx.Err() == nil {
		return ErrStalled
	}
	return err
}

// stream is connect for one request, under the watchdog w.
func (c *Client) stream(ctx context.Context, retry *time.Duration, handle func(Event), w *watch) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	if c.Header != nil {
		req.Header = c.Header.Clone()
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	last := c.CurrentLastEventID()
	if !validHeaderValue(last) {
		return ErrUnsendableID
	}
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}

	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return err
	}
	if c.OnOpen != nil {
		c.OnOpen()
	}

	rd := NewReader(watchedBody{c: c, w: w, r: resp.Body})
	rd.SetLastEventID(last) // events without id: still report the resumed id
	for {
		ev, err := rd.Next()
		// Even a failed Next may have committed an id (a block with "id:"
		// but no data) or read a retry: field.
		c.setLastID(rd.LastEventID())
		if d, ok := rd.Retry(); ok {
			*retry = d
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil { // events already buffered must not outlive ctx
			return ctx.Err()
		}
		handle(ev)
	}
}

// checkResponse applies EventSource's rule: only "200 OK" with the media
// type text/event-stream (parameters such as charset allowed) is a stream.
func checkResponse(resp *http.Response) error {
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if resp.StatusCode != http.StatusOK || mt != "text/event-stream" {
		return &StatusError{StatusCode: resp.StatusCode, ContentType: ct}
	}
	return nil
}
