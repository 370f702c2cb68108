//go:build !js

package ws

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/coder/websocket"
)

// frameSizes are the payload lengths at the edges of AppendFrame's three
// length encodings, and one well past a socket buffer.
var frameSizes = []int{0, 1, 125, 126, 127, 65535, 65536, 1 << 20}

// parseFrameHeader parses the header of one server-to-client frame per
// RFC 6455, 5.2: it returns FIN, the RSV bits, the opcode, the MASK bit, the
// payload length and the header's length, or an error for a header that
// breaks the RFC (a length not in its minimal encoding, a 64-bit length with
// its top bit set).
func parseFrameHeader(b []byte) (fin bool, rsv, opcode byte, masked bool, n uint64, hdr int, err error) {
	if len(b) < 2 {
		return false, 0, 0, false, 0, 0, fmt.Errorf("%d bytes: no room for a header", len(b))
	}
	fin = b[0]&0x80 != 0
	rsv = b[0] & 0x70 >> 4
	opcode = b[0] & 0x0F
	masked = b[1]&0x80 != 0
	switch l := b[1] & 0x7F; l {
	case 126:
		if len(b) < 4 {
			return fin, rsv, opcode, masked, 0, 0, fmt.Errorf("16-bit length cut short")
		}
		n, hdr = uint64(binary.BigEndian.Uint16(b[2:4])), 4
		if n < 126 {
			return fin, rsv, opcode, masked, n, hdr, fmt.Errorf("length %d in 16 bits: not minimal", n)
		}
	case 127:
		if len(b) < 10 {
			return fin, rsv, opcode, masked, 0, 0, fmt.Errorf("64-bit length cut short")
		}
		n, hdr = binary.BigEndian.Uint64(b[2:10]), 10
		if n>>63 != 0 {
			return fin, rsv, opcode, masked, n, hdr, fmt.Errorf("64-bit length %#x has its most significant bit set", n)
		}
		if n <= 0xFFFF {
			return fin, rsv, opcode, masked, n, hdr, fmt.Errorf("length %d in 64 bits: not minimal", n)
		}
	default:
		n, hdr = uint64(l), 2
	}
	if masked {
		hdr += 4 // the masking key; a server must not send one
	}
	return fin, rsv, opcode, masked, n, hdr, nil
}

// FuzzAppendFrame checks AppendFrame's header against RFC 6455, 5.2: a
// final unmasked text frame, no RSV bit, the payload's length in its
// minimal encoding, then the payload itself, appended after dst untouched.
func FuzzAppendFrame(f *testing.F) {
	for _, n := range frameSizes {
		f.Add([]byte(nil), uint32(n), byte('x'))
	}
	f.Add([]byte("already there"), uint32(126), byte(0))
	f.Add([]byte{0x81, 0x7E}, uint32(65535), byte(0xFF))
	f.Add([]byte{}, uint32(1<<32-1), byte('a'))
	f.Fuzz(func(t *testing.T, dst []byte, size uint32, fill byte) {
		n := int(size % (1<<18 + 1)) // up to 256 KiB: well into the 64-bit encoding
		msg := bytes.Repeat([]byte{fill}, n)
		prefix := bytes.Clone(dst)

		out := AppendFrame(dst, msg)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatalf("AppendFrame changed dst: %x, was %x", out[:len(prefix)], prefix)
		}
		frame := out[len(prefix):]
		fin, rsv, opcode, masked, plen, hdr, err := parseFrameHeader(frame)
		if err != nil {
			t.Fatalf("payload of %d bytes: header % x: %v", n, frame[:min(len(frame), 10)], err)
		}
		if !fin || rsv != 0 || opcode != 0x1 || masked {
			t.Fatalf("payload of %d bytes: FIN %v, RSV %03b, opcode %#x, MASK %v; want a final unmasked text frame, no RSV",
				n, fin, rsv, opcode, masked)
		}
		if plen != uint64(n) {
			t.Fatalf("header says %d bytes of payload, want %d", plen, n)
		}
		if want := FrameHeaderLen(n); hdr != want {
			t.Fatalf("header of %d bytes for a %d-byte payload; FrameHeaderLen says %d", hdr, n, want)
		}
		if len(frame) != hdr+n || !bytes.Equal(frame[hdr:], msg) {
			t.Fatalf("frame is %d bytes after a %d-byte header, want the %d-byte payload", len(frame)-hdr, hdr, n)
		}
	})
}

// Frames made with AppendFrame, written straight to a Peer's connection,
// are read by a real WebSocket client as exactly the payloads, whatever the
// length encoding, including frames too large for the socket to take in
// one write.
func TestAppendFrameRoundTrip(t *testing.T) {
	f := newFeed("c")
	ts := startServer(t, &Handler{}, f)
	c, _, err := websocket.Dial(testContext(t), ts.url, nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(2 << 20)

	typ, hello, err := c.Read(testContext(t))
	if err != nil || typ != websocket.MessageText {
		t.Fatalf("hello: %v %s, %v", typ, hello, err)
	}
	if m := decodeStrict(t, hello); m != (Message{Type: TypeHello, Client: "c"}) {
		t.Fatalf("hello: got %+v", m)
	}

	payloads := make([][]byte, len(frameSizes))
	for i, n := range frameSizes {
		p := make([]byte, n)
		for j := range p {
			p[j] = 'a' + byte((i+j)%26) // ASCII: valid in a text frame
		}
		payloads[i] = p
		f.push(t, p) // back to back: the big ones queue behind each other
	}
	for i, want := range payloads {
		typ, got, err := c.Read(testContext(t))
		if err != nil {
			t.Fatalf("frame %d (%d bytes): %v", i, len(want), err)
		}
		if typ != websocket.MessageText {
			t.Errorf("frame %d (%d bytes): message type %v, want text", i, len(want), typ)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: read %d bytes, want the %d-byte payload", i, len(got), len(want))
		}
	}
	// And the connection is still in order after them: an echo comes back.
	if err := c.Write(testContext(t), websocket.MessageText, Encode(Message{Type: TypeChat, Text: "after"})); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(testContext(t)); err != nil || decodeStrict(t, b) != (Message{Type: TypeEcho, Text: "after"}) {
		t.Fatalf("echo after the frames: %s, %v", b, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	f.waitClosed(t)
}
