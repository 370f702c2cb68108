//go:build !js

package ws

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The keep-alive ping and what the handler does with a client that goes
// silent: the tests of the session's liveness, apart from its messages.

func TestHandlerPingKeepAlive(t *testing.T) {
	// The write timeout also bounds the wait for each pong: generous where
	// pings are answered (a busy machine may stall a reader for a moment),
	// short where they never are.
	handler := func(writeTimeout time.Duration) *Handler {
		return &Handler{PingInterval: 10 * time.Millisecond, WriteTimeout: writeTimeout}
	}

	t.Run("answered pings keep the connection", func(t *testing.T) {
		pings := make(chan struct{}, 100)
		f := newFeed("c")
		ts := startServer(t, handler(10*time.Second), f)
		c := ts.dial(t, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pings <- struct{}{}:
			default:
			}
			return true
		}})
		// Read in the background: pongs are sent by the reader.
		msgs := make(chan Message, 10)
		go func() {
			for {
				m, err := c.Read(context.Background())
				if err != nil {
					close(msgs)
					return
				}
				msgs <- m
			}
		}()
		for range 5 {
			select {
			case <-pings:
			case <-timeAfter(t):
				t.Fatal("no keep-alive ping")
			}
		}
		f.push(t, tick(3))
		for _, want := range []Message{{Type: TypeHello, Client: "c"}, tickMsg(3)} {
			select {
			case m, ok := <-msgs:
				if !ok || m != want {
					t.Fatalf("got %+v (open %v), want %+v", m, ok, want)
				}
			case <-timeAfter(t):
				t.Fatal("no message")
			}
		}
		select {
		case <-f.closed:
			t.Fatal("the handler dropped a client that answers pings")
		default:
		}
		c.Close()
		for range msgs {
		}
		f.waitClosed(t)
	})

	t.Run("unanswered pings drop the connection", func(t *testing.T) {
		f := newFeed("c")
		ts := startServer(t, handler(200*time.Millisecond), f)
		c := ts.dial(t, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
			return false // read pings but never answer
		}})
		done := make(chan error, 1)
		go func() {
			for {
				if _, err := c.Read(context.Background()); err != nil {
					done <- err
					return
				}
			}
		}()
		f.waitClosed(t)
		select {
		case err := <-done:
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				t.Errorf("dropped connection looks like a normal closure: %v", err)
			}
		case <-timeAfter(t):
			t.Fatal("client still connected after the server dropped it")
		}
	})
}

// A burst of chats while a keep-alive ping waits for its pong: the pong is
// read by the reader, so the reader must never wait on the writer while the
// writer waits on the pong. Every chat is echoed and the socket stays open.
func TestHandlerChatBurstDuringPing(t *testing.T) {
	f := newFeed("c")
	ts := startServer(t, &Handler{PingInterval: 2 * time.Millisecond, WriteTimeout: 10 * time.Second}, f)
	c := ts.dial(t, nil)
	expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
	msgs := make(chan Message, 1000)
	readErr := make(chan error, 1)
	go func() { // pongs are sent by the client's reader too
		for {
			m, err := c.Read(context.Background())
			if err != nil {
				readErr <- err
				return
			}
			msgs <- m
		}
	}()
	const bursts, perBurst = 20, 30 // more than the reader's outbox holds
	for i := range bursts {
		for j := range perBurst {
			if err := c.Chat(testContext(t), fmt.Sprintf("%d.%d", i, j)); err != nil {
				t.Fatalf("chat %d.%d: %v", i, j, err)
			}
		}
		time.Sleep(3 * time.Millisecond) // let a ping go out between bursts
	}
	for n := 0; n < bursts*perBurst; n++ {
		select {
		case m := <-msgs:
			if m.Type != TypeEcho {
				t.Fatalf("message %d: %+v, want an echo", n, m)
			}
		case err := <-readErr:
			t.Fatalf("after %d of %d echoes the connection ended: %v", n, bursts*perBurst, err)
		case <-timeAfter(t):
			t.Fatalf("after %d of %d echoes nothing more came", n, bursts*perBurst)
		}
	}
	c.Close()
	f.waitClosed(t)
}

// A client that never answers the server's close frame is cut off well
// before coder/websocket's own 5 s close-handshake timeout, whichever side
// started the ending; and the close frame was still sent.
func TestHandlerSilentClientCutOff(t *testing.T) {
	tests := []struct {
		name    string
		trigger func(t *testing.T, f *fakeFeed, c *Conn)
		code    websocket.StatusCode
	}{
		{"after a bad message", func(t *testing.T, f *fakeFeed, c *Conn) {
			if err := c.c.Write(testContext(t), websocket.MessageBinary, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}, websocket.StatusUnsupportedData},
		{"after the feed ends", func(t *testing.T, f *fakeFeed, c *Conn) {
			f.end(websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "bye"})
		}, websocket.StatusGoingAway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed("c")
			ts := startServer(t, &Handler{}, f)
			c := ts.dial(t, nil)
			expectMessage(t, c, Message{Type: TypeHello, Client: "c"})
			start := time.Now()
			tt.trigger(t, f, c) // and then read nothing: no answer to the close frame
			f.waitClosed(t)
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("the handler waited %v for a silent client", d)
			}
			expectClose(t, c, tt.code)
		})
	}
}
