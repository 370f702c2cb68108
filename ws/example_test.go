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

	"github.com/ssevsws/ssevsws/fanout"
	"github.com/ssevsws/ssevsws/ws"
)

// clockFeed is about the smallest useful Feed: a tick every interval, no
// backlog, and chat accepted as it comes. Its ticks are live messages, so it
// writes them to the connection itself (a real server would encode each
// tick once and broadcast it to every connection through its Engine).
type clockFeed struct {
	id       string
	interval time.Duration
	peer     *ws.Peer
	stop     chan struct{}
}

func newClockFeed(id string, interval time.Duration, p *ws.Peer) *clockFeed {
	return &clockFeed{id: id, interval: interval, peer: p, stop: make(chan struct{})}
}

// tick writes a tick every interval to the connection until Close.
func (f *clockFeed) tick() {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			seq := now.UnixMilli() / f.interval.Milliseconds()
			msg := ws.AppendTick(nil, seq, now.UTC().Format("2006-01-02T15:04:05.000Z"))
			if f.peer.Conn().Write(ws.AppendFrame(nil, msg)) != nil {
				return // the connection is gone; Close follows
			}
		case <-f.stop:
			return
		}
	}
}

func (f *clockFeed) Client() string { return f.id }

// Backlog is empty; live ticks start where it ends, after the hello.
func (f *clockFeed) Backlog() iter.Seq[[]byte] {
	return func(func([]byte) bool) { go f.tick() }
}
func (f *clockFeed) Chat(text string) error { return nil } // echo everything
func (f *clockFeed) Wrote(msg []byte)       {}
func (f *clockFeed) Close()                 { close(f.stop) }

// A Handler needs only a Subscribe function that hands each connection its
// Feed, and an Engine to write with. Browsers at http://localhost:3000 may
// connect too, besides pages served by this server itself.
func ExampleHandler() {
	engine := fanout.New(fanout.Config{})
	defer engine.Close() // once the server is done
	var clients atomic.Int64
	http.Handle("/ws", &ws.Handler{
		Subscribe: func(r *http.Request, lastEventID string, p *ws.Peer) (ws.Feed, error) {
			return newClockFeed("c"+strconv.FormatInt(clients.Add(1), 10), time.Second, p), nil
		},
		Engine:         engine,
		OriginPatterns: []string{"localhost:3000"},
	})
	// http.ListenAndServe("localhost:8080", nil)
}

// restartingFeed plays a server that restarts after every two ticks: it
// replays the two ticks after the client's last one, then ends the
// connection with 1001 (going away). The close frame goes out after the
// ticks: everything written to a connection is written in order.
type restartingFeed struct {
	last int64
	peer *ws.Peer
}

func (f restartingFeed) Client() string { return "demo" }
func (f restartingFeed) Backlog() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		defer f.peer.End(websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "restarting"})
		for seq := f.last + 1; seq <= f.last+2; seq++ {
			if !yield(ws.AppendTick(nil, seq, "2024-11-25T04:00:00.000Z")) {
				return
			}
		}
	}
}
func (f restartingFeed) Chat(string) error { return nil }
func (f restartingFeed) Wrote([]byte)      {}
func (f restartingFeed) Close()            {}

// A Client redials when the server goes away and resumes after the last
// tick it saw (?lastEventId=2 on the second dial), so no tick is lost.
func ExampleClient() {
	engine := fanout.New(fanout.Config{})
	defer engine.Close()
	srv := httptest.NewServer(&ws.Handler{
		Subscribe: func(r *http.Request, lastEventID string, p *ws.Peer) (ws.Feed, error) {
			last, _ := strconv.ParseInt(lastEventID, 10, 64) // "" means from the start
			return restartingFeed{last: last, peer: p}, nil
		},
		Engine: engine,
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
