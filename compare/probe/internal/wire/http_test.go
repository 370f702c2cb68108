package wire

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestParseChunkSize(t *testing.T) {
	for line, want := range map[string]int{"5f\r\n": 0x5f, "A;ext=1\r\n": 10, "0\r\n": 0} {
		if got, err := ParseChunkSize([]byte(line)); err != nil || got != want {
			t.Errorf("ParseChunkSize(%q) = %d, %v; want %d", line, got, err, want)
		}
	}
	for _, bad := range []string{"\r\n", "zz\r\n", "123456789\r\n"} {
		if _, err := ParseChunkSize([]byte(bad)); err == nil {
			t.Errorf("ParseChunkSize(%q) accepted", bad)
		}
	}
}

// ReadHead picks out the headers a RawConn acts on, in any case, and counts
// the head's bytes exactly: they are the handshake's response bytes.
func TestReadHead(t *testing.T) {
	const head = "HTTP/1.1 429 Too Many Requests\r\n" +
		"content-type: text/event-stream; charset=utf-8\r\n" +
		"Transfer-Encoding: chunked\r\n" +
		"Connection: close\r\n" +
		"Content-Length: 17\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Retry-After: 2\r\n" +
		"\r\n"
	h, err := ReadHead(bufio.NewReader(strings.NewReader(head + "body")))
	if err != nil {
		t.Fatal(err)
	}
	want := Head{N: len(head), Status: 429, Chunked: true, EventStream: true, Close: true, Length: 17,
		Accept: []byte("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), RetryAfter: 2 * time.Second}
	if h.N != want.N || h.Status != want.Status || h.Chunked != want.Chunked || h.EventStream != want.EventStream ||
		h.Close != want.Close || h.Length != want.Length || string(h.Accept) != string(want.Accept) || h.RetryAfter != want.RetryAfter {
		t.Errorf("got %+v\nwant %+v", h, want)
	}
	for _, bad := range []string{"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 abc\r\n\r\n", "HTTP/1.1 200 OK\r\n"} {
		if _, err := ReadHead(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("ReadHead(%q) accepted", bad)
		}
	}
}
