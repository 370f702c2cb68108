package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"time"
)

// Head is what a RawConn needs from an HTTP/1.1 response head.
type Head struct {
	N           int // bytes on the wire, status line to the blank line included
	Status      int
	Chunked     bool          // Transfer-Encoding: chunked
	EventStream bool          // Content-Type: text/event-stream
	Close       bool          // Connection: close
	Length      int           // Content-Length; 0 when absent
	Accept      []byte        // Sec-WebSocket-Accept
	RetryAfter  time.Duration // Retry-After, in seconds on the wire
}

// ReadHead reads a response's status line and headers, up to and including
// the blank line. Head.N counts what was read even when it fails, so that a
// caller's byte count stays exact.
func ReadHead(br *bufio.Reader) (Head, error) {
	var h Head
	line, err := br.ReadSlice('\n')
	h.N += len(line)
	if err != nil {
		return h, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return h, fmt.Errorf("not an HTTP response: %q", line)
	}
	h.Status = int(ParseDigits(line[9:12]))
	if h.Status < 100 {
		return h, fmt.Errorf("bad status line %q", line)
	}
	for {
		line, err := br.ReadSlice('\n')
		h.N += len(line)
		if err != nil {
			return h, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return h, nil
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			h.Chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Content-Type")):
			mt, _, _ := bytes.Cut(value, []byte(";"))
			h.EventStream = bytes.EqualFold(bytes.TrimSpace(mt), []byte("text/event-stream"))
		case bytes.EqualFold(name, []byte("Content-Length")):
			h.Length = int(ParseDigits(value))
		case bytes.EqualFold(name, []byte("Connection")):
			h.Close = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			h.Accept = append(h.Accept[:0], value...)
		case bytes.EqualFold(name, []byte("Retry-After")):
			h.RetryAfter = time.Duration(ParseDigits(value)) * time.Second
		}
	}
}

// ParseChunkSize reads the size line of an HTTP/1.1 chunk: "1a\r\n" or
// "1a;ext\r\n". Sizes of more than seven hex digits (256 MiB) are refused:
// no message of the demo comes near, and the limit keeps the sum from
// overflowing.
func ParseChunkSize(line []byte) (int, error) {
	n, digits := 0, 0
	for _, ch := range line {
		var d int
		switch {
		case ch >= '0' && ch <= '9':
			d = int(ch - '0')
		case ch >= 'a' && ch <= 'f':
			d = int(ch-'a') + 10
		case ch >= 'A' && ch <= 'F':
			d = int(ch-'A') + 10
		default:
			d = -1
		}
		if d < 0 {
			break
		}
		if digits++; digits > 7 {
			return 0, fmt.Errorf("chunk size %q: too large", line)
		}
		n = n<<4 | d
	}
	if digits == 0 {
		return 0, fmt.Errorf("bad chunk size line %q", line)
	}
	return n, nil
}
