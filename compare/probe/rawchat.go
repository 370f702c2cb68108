package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe/internal/wire"
)

// ChatRefusedError is a chat message the server did not take: rate limited
// or queue full (SSE: 429 or 503; WebSocket: an error message).
type ChatRefusedError struct {
	Status     int // SSE: the HTTP status; WebSocket: 0
	Text       string
	RetryAfter time.Duration // SSE: from Retry-After
}

func (e *ChatRefusedError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("chat refused: HTTP %d %s", e.Status, e.Text)
	}
	return "chat refused: " + e.Text
}

// RoundTripSample is one chat round trip.
type RoundTripSample struct {
	Time time.Duration // from the first byte of the chat message up until its echo was read
	Up   int           // bytes up: the WebSocket frame, or the POST /chat request
	Down int           // bytes down: the echo, plus for SSE the POST's 202 answer
}

// RoundTrip sends text up and waits for its echo: on this socket for
// WebSocket; for SSE as POST /chat on a second, kept-alive connection, with
// the echo coming back on the stream. Ticks that arrive meanwhile are read
// and left out of the byte counts.
func (c *RawConn) RoundTrip(ctx context.Context, text string) (RoundTripSample, error) {
	if c.t == compare.SSE && c.post == nil {
		post, err := c.tg.dial(ctx)
		if err != nil {
			return RoundTripSample{}, err
		}
		c.post, c.postBR = post, bufio.NewReaderSize(post, 1024)
	}
	stop := c.watch(ctx)
	defer stop()

	start := time.Now()
	var s RoundTripSample
	var err error
	if c.t == compare.WS {
		b := append(c.body[:0], `{"type":"chat","text":`...)
		b = wire.AppendJSONString(b, text)
		b = append(b, '}')
		c.body = b
		s.Up, err = c.writeWS(wire.OpText, b)
	} else {
		s.Up, s.Down, err = c.postChat(text)
	}
	if err != nil {
		return s, err
	}
	for {
		m, err := c.next()
		if err != nil {
			return s, err
		}
		switch m.Kind {
		case MsgEcho:
			s.Down += m.Wire
			s.Time = time.Since(start)
			return s, nil
		case MsgError:
			return s, &ChatRefusedError{Text: string(wire.JSONString(m.Data, "text"))}
		}
	}
}

// postChat sends POST /chat on the back channel and reads the answer.
func (c *RawConn) postChat(text string) (up, down int, err error) {
	body := append(c.body[:0], `{"client":`...)
	body = wire.AppendJSONString(body, c.client)
	body = append(body, `,"text":`...)
	body = wire.AppendJSONString(body, text)
	body = append(body, '}')
	c.body = body

	b := append(c.wbuf[:0], "POST "...)
	b = append(b, c.tg.url("chat").RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.tg.Base.Host...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.wbuf = b
	if _, err := c.post.Write(b); err != nil {
		return 0, 0, err
	}
	up = len(b)
	c.up += int64(up)

	head, err := wire.ReadHead(c.postBR)
	down = head.N
	if err == nil && head.Length > 0 {
		c.body = wire.Grow(c.body, head.Length)
		_, err = io.ReadFull(c.postBR, c.body[:head.Length])
		down += head.Length
	}
	c.down += int64(down)
	if err != nil {
		return up, down, err
	}
	if head.Close {
		c.post.Close()
		c.post = nil
	}
	if head.Status != 202 {
		return up, down, &ChatRefusedError{Status: head.Status, Text: string(wire.JSONString(c.body[:head.Length], "error")), RetryAfter: head.RetryAfter}
	}
	return up, down, nil
}
