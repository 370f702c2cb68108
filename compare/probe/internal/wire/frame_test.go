package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
)

// serverFrame is what a server sends: unmasked, with the shortest length
// encoding.
func serverFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// Frames of each length encoding are read whole and counted with their
// header; a masked or oversized frame is refused.
func TestReadFrame(t *testing.T) {
	var buf []byte
	for _, n := range []int{0, 125, 126, 0xffff, 0x10000} {
		payload := bytes.Repeat([]byte("x"), n)
		wire := serverFrame(OpText, payload)
		f, err := ReadFrame(bufio.NewReader(bytes.NewReader(wire)), &buf)
		if err != nil || !f.Fin || f.Op != OpText || !bytes.Equal(f.Payload, payload) || f.N != len(wire) {
			t.Errorf("%d bytes: fin %v op %d, %d bytes of payload, N %d, %v; want N %d", n, f.Fin, f.Op, len(f.Payload), f.N, err, len(wire))
		}
	}
	masked := []byte{0x81, 0x80 | 1, 1, 2, 3, 4, 'x'}
	tooLarge := []byte{0x81, 127, 0, 0, 0, 0, 0, 0x20, 0, 0}
	for name, b := range map[string][]byte{"masked": masked, "too large": tooLarge} {
		if f, err := ReadFrame(bufio.NewReader(bytes.NewReader(b)), &buf); err == nil || f.N != 0 {
			t.Errorf("%s: N %d, %v; want an error and nothing counted", name, f.N, err)
		}
	}
}

// A client frame is masked with the key, and its length encoded as a
// server reads it.
func TestAppendFrame(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for _, n := range []int{5, 126, 0x10000} {
		payload := bytes.Repeat([]byte("y"), n)
		b := AppendFrame(nil, OpText, payload, key)
		if b[0] != 0x80|OpText || b[1]&0x80 == 0 {
			t.Fatalf("%d bytes: header %x: want FIN, text, MASK", n, b[:2])
		}
		hdr := map[bool]int{true: 2, false: 4}[n <= 125]
		if n > 0xffff {
			hdr = 10
		}
		if len(b) != hdr+4+n || !bytes.Equal(b[hdr:hdr+4], key[:]) {
			t.Fatalf("%d bytes: frame of %d bytes, key %x", n, len(b), b[hdr:hdr+4])
		}
		got := b[hdr+4:]
		for i := range got {
			got[i] ^= key[i&3]
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("%d bytes: payload does not unmask", n)
		}
	}
}

func TestCloseCode(t *testing.T) {
	if code, reason := CloseCode([]byte{0x03, 0xe9, 'b', 'y', 'e'}); code != 1001 || reason != "bye" {
		t.Errorf("got %d %q", code, reason)
	}
	if code, reason := CloseCode(nil); code != 1005 || reason != "" {
		t.Errorf("empty: got %d %q", code, reason)
	}
}
