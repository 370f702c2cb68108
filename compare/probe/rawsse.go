package probe

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe/internal/wire"
)

// maxChunk bounds the SSE chunks nextSSE reads: a tick or an echo is a few
// hundred bytes, so anything near this is a broken stream.
const maxChunk = 1 << 20

// nextSSE reads one SSE frame: one chunk of the chunked body (the server
// flushes every frame, and every flush is one chunk), or, for a body that
// is not chunked, lines up to a blank line.
func (c *RawConn) nextSSE() (RawMsg, error) {
	var block []byte
	n := 0 // bytes on the wire
	if c.chunked {
		line, err := c.br.ReadSlice('\n')
		n += len(line)
		if err != nil {
			c.down += int64(n)
			return RawMsg{}, err
		}
		size, err := wire.ParseChunkSize(line)
		if err != nil {
			return RawMsg{}, err
		}
		if size == 0 { // the last chunk: the server ended the stream
			for {
				line, err := c.br.ReadSlice('\n')
				n += len(line)
				if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
					break
				}
			}
			c.down += int64(n)
			return RawMsg{}, io.EOF
		}
		if size > maxChunk {
			return RawMsg{}, fmt.Errorf("chunk of %d bytes: too large", size)
		}
		c.buf = wire.Grow(c.buf, size+2)
		if _, err := io.ReadFull(c.br, c.buf[:size+2]); err != nil {
			return RawMsg{}, err
		}
		if string(c.buf[size:size+2]) != "\r\n" {
			return RawMsg{}, errors.New("chunk does not end with CRLF")
		}
		n += size + 2
		block = c.buf[:size]
	} else {
		c.buf = c.buf[:0]
		for {
			line, err := c.br.ReadSlice('\n')
			n += len(line)
			if err != nil {
				c.down += int64(n)
				return RawMsg{}, err
			}
			c.buf = append(c.buf, line...)
			if len(bytes.TrimRight(line, "\r\n")) == 0 || line[0] == ':' && len(c.buf) == len(line) {
				break // a blank line, or a comment on its own
			}
		}
		block = c.buf
	}
	c.down += int64(n)
	c.queue = c.sseMsgs(c.queue[:0], block)
	m := c.queue[0]
	c.queue = c.queue[1:]
	m.Wire = n // the bytes are the chunk's: they go to its first event
	return m, nil
}

// sseMsgs appends the messages of one chunk to out. The server writes one
// event per chunk; a chunk with several gives several messages (the first
// carries the chunk's bytes, the others none). A chunk with no event (a
// retry field, a comment) gives one MsgOther, so that every chunk read is
// a message whose bytes are counted.
func (c *RawConn) sseMsgs(out []RawMsg, block []byte) []RawMsg {
	c.events = wire.ParseSSE(c.events[:0], &c.data, block)
	for _, ev := range c.events {
		out = append(out, sseMsg(ev))
	}
	if len(out) == 0 {
		out = append(out, RawMsg{Kind: MsgOther})
	}
	return out
}

// sseMsg is what the demo's SSE event ev is.
func sseMsg(ev wire.Event) RawMsg {
	m := RawMsg{Kind: MsgOther, Data: ev.Data}
	switch string(ev.Type) {
	case compare.EventTick:
		m.Kind = MsgTick
		m.Seq = wire.ParseDigits(ev.ID)
	case compare.EventHello:
		m.Kind = MsgHello
	case compare.EventEcho:
		m.Kind = MsgEcho
	case compare.EventGap:
		m.Kind = MsgGap
		m.Seq, m.To = wire.JSONInt(ev.Data, "from"), wire.JSONInt(ev.Data, "to")
	}
	return m
}
