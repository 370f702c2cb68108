//go:build !js

package ws_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/ssevsws/ssevsws/ws"
)

// clockFeed is about the smallest useful Feed: a tick every interval, no
// backlog, and chat accepted as it comes.
type clockFeed struct {
	id   string
	live chan []byte
	stop chan struct{}
}

func newClockFeed(id string, interval time.Duration) *clockFeed {
	f := &clockFeed{id: id, live: make(chan []byte), stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				seq := now.UnixMilli() / interval.Milliseconds()
				msg := ws.AppendTick(nil, seq, now.UTC().Format("2006-01-02T15:04:05.000Z"))
				select {
				case f.live <- msg:
				case <-f.stop:
					return
				}
			case <-f.stop:
				return
			}
		}
	}()
	return f
}

func (f *clockFeed) Client() string            { return f.id }
func (f *clockFeed) Backlog() iter.Seq[[]byte] { return func(func([]byte) bool) {} }
func (f *clockFeed) Live() <-chan []byte       { return f.live }
func (f *clockFeed) Done() <-chan struct{}     { return nil } // this server never ends a connection itself
func (f *clockFeed) Err() error                { return nil }
func (f *clockFeed) Chat(text string) error    { return nil } // echo everything
func (f *clockFeed) Wrote(msg []byte)          {}
func (f *clockFeed) Close()                    { close(f.stop) }

// A Handler needs only a Subscribe function that hands each connection its
// Feed. Browsers at http://localhost:3000 may connect too, besides pages
// served by this server itself.
func ExampleHandler() {
	var clients atomic.Int64
	http.Handle("/ws", &ws.Handler{
		Subscribe: func(r *http.Request, lastEventID string) (ws.Feed, error) {
			return newClockFeed("c"+strconv.FormatInt(clients.Add(1), 10), time.Second), nil
		},
		OriginPatterns: []string{"localhost:3000"},
	})
	// http.ListenAndServe("localhost:8080", nil)
}

// restartingFeed plays a server that restarts after every two ticks: it
// replays the two ticks after the client's last one, then ends the
// connection with 1001 (going away).
type restartingFeed struct{ last int64 }

func (f restartingFeed) Client() string { return "demo" }
func (f restartingFeed) Backlog() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for seq := f.last + 1; seq <= f.last+2; seq++ {
			if !yield(ws.AppendTick(nil, seq, "2024-11-25T04:00:00.000Z")) {
				return
			}
		}
	}
}
func (f restartingFeed) Live() <-chan []byte { return nil }
func (f restartingFeed) Done() <-chan struct{} {
	done := make(chan struct{})
	close(done)
	return done
}
func (f restartingFeed) Err() error {
	return websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "restarting"}
}
func (f restartingFeed) Chat(string) error { return nil }
func (f restartingFeed) Wrote([]byte)      {}
func (f restartingFeed) Close()            {}

// A Client redials when the server goes away and resumes after the last
// tick it saw (?lastEventId=2 on the second dial), so no tick is lost.
func ExampleClient() {
	srv := httptest.NewServer(&ws.Handler{
		Subscribe: func(r *http.Request, lastEventID string) (ws.Feed, error) {
			last, _ := strconv.ParseInt(lastEventID, 10, 64) // "" means from the start
			return restartingFeed{last: last}, nil
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &ws.Client{
		URL:        "ws" + strings.TrimPrefix(srv.URL, "http"),
		MinBackoff: 5 * time.Millisecond,
		OnOpen:     func() { fmt.Println("connected") },
		OnError:    func(err error) { fmt.Println("lost:", websocket.CloseStatus(err)) },
	}
	err := c.Run(ctx, func(m ws.Message) {
		if m.Type == ws.TypeTick {
			fmt.Println("tick", m.Seq)
			if m.Seq == 4 {
				cancel()
			}
		}
	})
	fmt.Println(err)
	// Output:
	// connected
	// tick 1
	// tick 2
	// lost: StatusGoingAway
	// connected
	// tick 3
	// tick 4
	// context canceled
}

func ExampleAppendTick() {
	buf := make([]byte, 0, 64) // reused for every tick: no allocation
	buf = ws.AppendTick(buf[:0], 1732500000, "2024-11-25T04:00:00.000Z")
	fmt.Println(string(buf))
	fmt.Println(ws.IsTick(buf))
	// Output:
	// {"type":"tick","seq":1732500000,"time":"2024-11-25T04:00:00.000Z"}
	// true
}

func ExampleDecodeChat() {
	for _, in := range []string{
		`{"type":"chat","text":"hi"}`,
		`{"type":"chat","text":""}`,
		`{"type":"tick"}`,
		`{"type":`,
	} {
		text, err := ws.DecodeChat([]byte(in))
		switch {
		case err == nil:
			fmt.Printf("echo %q\n", text)
		case errors.Is(err, ws.ErrEmptyChat):
			fmt.Println("answer with an error message, keep the socket")
		case errors.Is(err, ws.ErrUnknownType):
			fmt.Println("close 1003")
		default:
			fmt.Println("close 1007")
		}
	}
	// Output:
	// echo "hi"
	// answer with an error message, keep the socket
	// close 1003
	// close 1007
}
