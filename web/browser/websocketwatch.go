//go:build js && wasm

package browser

import (
	"sync"
	"syscall/js"
	"time"
)

// A WebSocketClose is the close event the browser dispatched on a WebSocket.
type WebSocketClose struct {
	URL      string // the socket's URL, as the browser resolved it
	Code     int    // CloseEvent.code: 1006 when there was no close frame (a refused handshake, a cut connection)
	Reason   string // CloseEvent.reason
	WasClean bool   // CloseEvent.wasClean
	At       time.Time
}

// WebSocketWatch sees every WebSocket the page opens while it is installed.
//
// It exists because github.com/coder/websocket's browser path (v1.8.15)
// reports a close from the server as net.ErrClosed: the close code and
// reason the browser received are lost to Go code (upstream:
// https://github.com/coder/websocket/pull/505). The watch replaces the page's
// WebSocket constructor with one that builds the same native WebSocket and
// also listens to its close event, so a test can assert the code the browser
// itself reported, for example 1009 for a message over the server's limit.
//
// Only one watch may be installed at a time.
type WebSocketWatch struct {
	native  js.Value // the browser's WebSocket constructor
	ctor    js.Func  // the replacement constructor
	onClose js.Func  // the close listener on every socket

	mu      sync.Mutex
	sockets []js.Value    // every socket opened, in order
	open    int           // of those, how many have not dispatched close yet
	idle    chan struct{} // closed when open drops to 0 while Stop waits
	closes  chan WebSocketClose
	stopped bool
}

// WatchWebSockets installs a watch. Call Stop to remove it.
func WatchWebSockets() *WebSocketWatch {
	w := &WebSocketWatch{
		native: js.Global().Get("WebSocket"),
		closes: make(chan WebSocketClose, 256),
	}
	w.onClose = js.FuncOf(func(_ js.Value, args []js.Value) any {
		e := args[0]
		c := WebSocketClose{
			URL:      e.Get("target").Get("url").String(),
			Code:     e.Get("code").Int(),
			Reason:   e.Get("reason").String(),
			WasClean: e.Get("wasClean").Bool(),
			At:       time.Now(),
		}
		select {
		case w.closes <- c:
		default: // a test that opens 256 sockets without reading closes loses the rest
		}
		w.mu.Lock()
		w.open--
		if w.open == 0 && w.idle != nil {
			close(w.idle)
			w.idle = nil
		}
		w.mu.Unlock()
		return nil
	})
	// Called with `new`, a function that returns an object makes that
	// object the result: the page gets a genuine WebSocket.
	w.ctor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		jsArgs := make([]any, len(args))
		for i, a := range args {
			jsArgs[i] = a
		}
		s := w.native.New(jsArgs...)
		s.Call("addEventListener", "close", w.onClose)
		w.mu.Lock()
		w.sockets = append(w.sockets, s)
		w.open++
		w.mu.Unlock()
		return s
	})
	js.Global().Set("WebSocket", w.ctor)
	return w
}

// Closes returns the channel the close events arrive on, in the order the
// browser dispatched them.
func (w *WebSocketWatch) Closes() <-chan WebSocketClose { return w.closes }

// Opened says how many sockets were opened since the watch was installed.
func (w *WebSocketWatch) Opened() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sockets)
}

// CloseOpen closes, with 1000, every watched socket that is still connecting
// or open, and says how many there were. Tests use it to leave no socket
// behind: coder/websocket's CloseNow asks the browser for code 1001, which
// browsers refuse to send from a script, so such sockets stay open.
func (w *WebSocketWatch) CloseOpen() int {
	w.mu.Lock()
	sockets := append([]js.Value(nil), w.sockets...)
	w.mu.Unlock()
	n := 0
	for _, s := range sockets {
		if s.Get("readyState").Int() <= 1 { // CONNECTING or OPEN
			s.Call("close", 1000, "test cleanup")
			n++
		}
	}
	return n
}

// stopWait bounds how long Stop waits for the browser to finish closing.
const stopWait = 5 * time.Second

// Stop closes the sockets still open (see CloseOpen), waits until the
// browser has dispatched their close events (up to a few seconds), then
// restores the page's WebSocket constructor and releases the Go callbacks.
//
// The wait matters at the end of a test binary: coder/websocket listens to
// close events with Go functions too, and a close event that comes after
// the Go program has exited is an uncaught error in the page.
func (w *WebSocketWatch) Stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	w.mu.Unlock()

	w.CloseOpen()
	w.mu.Lock()
	var idle chan struct{}
	if w.open > 0 {
		idle = make(chan struct{})
		w.idle = idle
	}
	w.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
			// Our close listener runs first; let the browser finish
			// dispatching the event to coder/websocket's before going on.
			nextTask()
		case <-time.After(stopWait):
		}
	}
	js.Global().Set("WebSocket", w.native)
	for _, s := range w.sockets {
		s.Call("removeEventListener", "close", w.onClose)
	}
	w.ctor.Release()
	w.onClose.Release()
}

// nextTask returns once the browser has run a task queued now
// (setTimeout 0): by then the event being dispatched has reached every
// listener.
func nextTask() {
	done := make(chan struct{})
	fn := js.FuncOf(func(js.Value, []js.Value) any {
		close(done)
		return nil
	})
	defer fn.Release()
	js.Global().Call("setTimeout", fn, 0)
	<-done
}
