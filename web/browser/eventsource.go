//go:build js && wasm

package browser

import (
	"fmt"
	"sync"
	"syscall/js"
	"time"
)

// ReadyState is EventSource.readyState.
type ReadyState int

const (
	Connecting ReadyState = 0 // connecting, or waiting to reconnect after the stream ended
	Open       ReadyState = 1 // the stream is open
	Closed     ReadyState = 2 // closed for good: Close was called, or the browser gave up
)

func (s ReadyState) String() string {
	switch s {
	case Connecting:
		return "CONNECTING"
	case Open:
		return "OPEN"
	case Closed:
		return "CLOSED"
	}
	return fmt.Sprintf("ReadyState(%d)", int(s))
}

// Event is one event the browser dispatched on an EventSource.
type Event struct {
	// Type is "open", "error", "message" (an event without an event: field)
	// or the name of an event the EventSource was asked to listen to.
	Type string
	// Data is MessageEvent.data; empty for open and error.
	Data string
	// LastEventID is MessageEvent.lastEventId: the browser's last event ID
	// buffer when the event was dispatched, which it sends back as
	// Last-Event-ID when it reconnects. Events without an id: field keep
	// the previous value. Empty for open and error.
	LastEventID string
	// ReadyState is the EventSource's state right when the event fired:
	// an "error" with Connecting means the browser will reconnect by itself,
	// with Closed that it has given up.
	ReadyState ReadyState
	// At is when the browser dispatched the event.
	At time.Time
}

// EventSource is the browser's own EventSource: everything it does
// (reconnecting after retry:, sending Last-Event-ID, enforcing CORS) is the
// browser's doing, not this package's. Events arrive in the order the
// browser dispatched them on the channel Events returns.
type EventSource struct {
	v      js.Value
	url    string
	events chan Event

	listeners []listener

	mu     sync.Mutex
	queue  []Event       // dispatched, not yet handed to Events
	wake   chan struct{} // one pending signal that queue is not empty
	closed bool

	stop     chan struct{}
	pumpDone chan struct{}
}

type listener struct {
	typ string
	fn  js.Func
}

// NewEventSource opens new EventSource(url). The browser dispatches events
// with an event: field only to listeners of that name, so types lists the
// names to listen to ("tick", "hello"...); "open", "error" and "message"
// are always listened to. A URL the browser cannot parse is an error.
//
// Call Close when done: it closes the browser's EventSource and releases
// the Go callbacks.
func NewEventSource(url string, types ...string) (es *EventSource, err error) {
	ctor := js.Global().Get("EventSource")
	if ctor.Type() != js.TypeFunction {
		return nil, fmt.Errorf("browser: this JavaScript environment has no EventSource")
	}
	defer func() {
		if r := recover(); r != nil {
			jsErr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			es, err = nil, fmt.Errorf("browser: new EventSource(%q): %w", url, jsErr)
		}
	}()
	v := ctor.New(url)

	es = &EventSource{
		v:        v,
		url:      url,
		events:   make(chan Event),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	seen := map[string]bool{}
	for _, typ := range append([]string{"open", "error", "message"}, types...) {
		if seen[typ] {
			continue
		}
		seen[typ] = true
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			es.dispatched(typ, args)
			return nil
		})
		es.listeners = append(es.listeners, listener{typ, fn})
		v.Call("addEventListener", typ, fn)
	}
	go es.pump()
	return es, nil
}

// dispatched runs inside the browser's event dispatch. It must not block
// (the page's event loop waits for it), so it only queues the event.
func (es *EventSource) dispatched(typ string, args []js.Value) {
	ev := Event{Type: typ, ReadyState: es.ReadyState(), At: time.Now()}
	if len(args) > 0 {
		e := args[0]
		if d := e.Get("data"); d.Type() == js.TypeString {
			ev.Data = d.String()
		}
		if id := e.Get("lastEventId"); id.Type() == js.TypeString {
			ev.LastEventID = id.String()
		}
	}
	es.mu.Lock()
	if !es.closed {
		es.queue = append(es.queue, ev)
	}
	es.mu.Unlock()
	select {
	case es.wake <- struct{}{}:
	default:
	}
}

// pump hands queued events to the Events channel, in order, until Close.
func (es *EventSource) pump() {
	defer close(es.pumpDone)
	for {
		es.mu.Lock()
		if len(es.queue) == 0 {
			es.mu.Unlock()
			select {
			case <-es.wake:
				continue
			case <-es.stop:
				return
			}
		}
		ev := es.queue[0]
		es.queue = es.queue[1:]
		es.mu.Unlock()
		select {
		case es.events <- ev:
		case <-es.stop:
			return
		}
	}
}

// Events returns the channel the events arrive on. It is closed by Close;
// events not yet received by then are discarded.
func (es *EventSource) Events() <-chan Event { return es.events }

// URL is the URL the EventSource was opened with.
func (es *EventSource) URL() string { return es.url }

// ReadyState is the EventSource's state now.
func (es *EventSource) ReadyState() ReadyState {
	return ReadyState(es.v.Get("readyState").Int())
}

// Close closes the browser's EventSource (it will not reconnect), stops
// listening, releases the Go callbacks and closes the Events channel. It
// may be called more than once.
func (es *EventSource) Close() {
	es.mu.Lock()
	if es.closed {
		es.mu.Unlock()
		return
	}
	es.closed = true
	es.mu.Unlock()

	es.v.Call("close")
	// JavaScript runs one thing at a time: once the listeners are removed,
	// the browser cannot call the functions any more and they can be
	// released.
	for _, l := range es.listeners {
		es.v.Call("removeEventListener", l.typ, l.fn)
		l.fn.Release()
	}
	es.listeners = nil
	close(es.stop)
	<-es.pumpDone
	close(es.events)
}
