package wire

import (
	"encoding/base64"
	"testing"
)

// The example of RFC 6455, section 1.3.
func TestAcceptKey(t *testing.T) {
	if got := AcceptKey([]byte("dGhlIHNhbXBsZSBub25jZQ==")); string(got[:]) != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("got %s", got)
	}
}

func TestNewKey(t *testing.T) {
	a, b := NewKey(), NewKey()
	if nonce, err := base64.StdEncoding.DecodeString(string(a[:])); err != nil || len(nonce) != 16 {
		t.Errorf("key %s: %d bytes, %v; want 16", a, len(nonce), err)
	}
	if a == b {
		t.Error("two keys alike")
	}
}
