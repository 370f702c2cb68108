package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/coder/websocket"
)

// Conn is one client connection that speaks the ssevsws protocol. It builds
// natively and for GOOS=js GOARCH=wasm, where coder/websocket drives the
// browser's own WebSocket, so the same code runs in tests and in the page's
// browser tests.
//
// Read must be called from one goroutine at a time; Chat may be called
// concurrently with Read.
type Conn struct {
	c *websocket.Conn
}

// Dial opens a connection to a /ws URL (ws:// or wss://). opts may be nil; in
// the browser only its Subprotocols field exists, because the browser sets
// headers such as Origin itself.
func Dial(ctx context.Context, url string, opts *websocket.DialOptions) (*Conn, error) {
	c, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		if resp != nil && resp.StatusCode != 0 {
			return nil, &HandshakeError{StatusCode: resp.StatusCode, Err: err}
		}
		return nil, err
	}
	return &Conn{c: c}, nil
}

// HandshakeError reports a server that answered the upgrade request with an
// HTTP status instead of switching protocols, for example 403 for an origin
// it does not allow. Only native clients can see it: a browser hides the
// status from scripts.
type HandshakeError struct {
	StatusCode int
	Err        error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("ws: handshake refused with HTTP %d: %v", e.StatusCode, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// Read returns the next server message. A close from the server comes back
// as an error; websocket.CloseStatus(err) gives its code.
func (c *Conn) Read(ctx context.Context) (Message, error) {
	typ, data, err := c.c.Read(ctx)
	if err != nil {
		return Message{}, err
	}
	if typ != websocket.MessageText {
		return Message{}, fmt.Errorf("ws: unexpected %v message from server", typ)
	}
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return Message{}, fmt.Errorf("ws: malformed message from server: %w", err)
	}
	return m, nil
}

// Chat sends a chat message; its echo arrives through Read.
func (c *Conn) Chat(ctx context.Context, text string) error {
	return c.c.Write(ctx, websocket.MessageText, Encode(Message{Type: TypeChat, Text: text}))
}

// WriteRaw sends data as one text message without looking at it. It exists
// for tests and experiments that need to send what a well-behaved client
// never would.
func (c *Conn) WriteRaw(ctx context.Context, data []byte) error {
	return c.c.Write(ctx, websocket.MessageText, data)
}

// Close closes the connection with a normal closure (1000).
func (c *Conn) Close() error {
	return c.c.Close(websocket.StatusNormalClosure, "")
}

// CloseNow closes the connection without a close handshake, as a crashing
// client or a cut cable would. In the browser, where a script cannot cut a
// connection, it closes with 1000: coder/websocket's CloseNow asks the
// browser for 1001 there, which browsers refuse to send from a script (only
// 1000 and 3000-4999), so the socket would stay open.
func (c *Conn) CloseNow() error {
	if runtime.GOOS == "js" {
		return c.c.Close(websocket.StatusNormalClosure, "")
	}
	return c.c.CloseNow()
}
