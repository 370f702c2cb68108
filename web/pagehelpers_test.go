//go:build !js

package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// page is one browser tab and the console errors seen in it.
type page struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// newPage starts headless Chromium (closed when the test ends) with one tab.
func newPage(t *testing.T, exe string, flags ...chromedp.ExecAllocatorOption) *page {
	t.Helper()
	// chromedp adds --no-sandbox when run as root, and makes (and removes)
	// a temporary --user-data-dir; its defaults include --headless,
	// --disable-background-networking, --disable-sync and --no-first-run.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.DisableGPU,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1600, 1000),
	)
	opts = append(opts, flags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc() // waits for Chromium to exit
	})
	p := &page{ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.APITypeError {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			msg = "console.error: " + strings.Join(parts, " ")
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg = "exception: " + d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			// Network failures and CSP violations arrive here, not as
			// console calls.
			if ev.Entry.Level != cdplog.LevelError {
				return
			}
			msg = fmt.Sprintf("%s error: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		default:
			return
		}
		p.mu.Lock()
		p.errors = append(p.errors, msg)
		p.mu.Unlock()
	})
	// Start the browser now, so that its start-up is not counted against
	// the first step.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return p
}

func (p *page) run(t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(p.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates expr (awaiting it if it is a promise) into res.
func (p *page) eval(t *testing.T, what, expr string, res any) {
	t.Helper()
	var raw json.RawMessage
	p.run(t, what, chromedp.Evaluate(expr, &raw, func(e *runtime.EvaluateParams) *runtime.EvaluateParams {
		return e.WithAwaitPromise(true)
	}))
	if res != nil {
		if err := json.Unmarshal(raw, res); err != nil {
			t.Fatalf("%s: %v in %s", what, err, raw)
		}
	}
}

// waitJS polls expr until it is true.
func (p *page) waitJS(t *testing.T, what string, timeout time.Duration, expr string) {
	t.Helper()
	var ok bool
	err := chromedp.Run(p.ctx, chromedp.Poll(expr, &ok,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		var snap json.RawMessage
		_ = chromedp.Run(p.ctx, chromedp.Evaluate(`JSON.stringify(window.ssevsws && window.ssevsws.snapshot())`, &snap))
		t.Fatalf("waiting for %s: %v\nsnapshot: %s", what, err, snap)
	}
}

// chat types text into a panel's chat box and sends it, by the Send
// button or by the Enter key.
func (p *page) chat(t *testing.T, name, text string, enter bool) {
	t.Helper()
	input := "#" + name + "-chat-input"
	p.waitJS(t, name+" open for chat", 10*time.Second, fmt.Sprintf(`ssevsws.snapshot().%s.client !== null`, name))
	actions := []chromedp.Action{
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).value = ""`, input), nil),
		chromedp.SendKeys(input, text, chromedp.ByQuery),
	}
	if enter {
		actions = append(actions, chromedp.SendKeys(input, kb.Enter, chromedp.ByQuery))
	} else {
		actions = append(actions, chromedp.Click("#"+name+"-chat-send", chromedp.ByQuery))
	}
	p.run(t, "send a chat on "+name, actions...)
}

// waitEcho waits for the echo of text in a panel's log, shown as text.
func (p *page) waitEcho(t *testing.T, name, text string) {
	t.Helper()
	p.waitJS(t, name+" echo", 10*time.Second, fmt.Sprintf(`[...document.querySelectorAll('#%s-log li[data-kind="echo"] .msg')]
		.some((e) => e.textContent === "echo " + %s)`, name, jsString(text)))
}

// checkConsole fails the test on any console error, uncaught exception or
// error log entry (failed request, CSP violation) seen so far. None is
// expected: drops end streams cleanly, and the connection-limit experiment
// closes its waiting EventSources without an error.
func (p *page) checkConsole(t *testing.T, when string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.errors {
		t.Errorf("%s: %s", when, e)
	}
	p.errors = nil
}

// dropConsole forgets the errors seen so far that contain one of the
// expected texts, and logs them.
func (p *page) dropConsole(t *testing.T, expected ...string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.errors[:0]
	for _, e := range p.errors {
		ok := false
		for _, x := range expected {
			ok = ok || strings.Contains(e, x)
		}
		if ok {
			t.Logf("expected: %s", e)
		} else {
			kept = append(kept, e)
		}
	}
	p.errors = kept
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
