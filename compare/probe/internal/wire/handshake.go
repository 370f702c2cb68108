package wire

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
)

// acceptGUID is the constant RFC 6455 mixes into Sec-WebSocket-Accept.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// NewKey returns a fresh Sec-WebSocket-Key: 16 random bytes in base64.
func NewKey() [24]byte {
	var nonce [16]byte
	rand.Read(nonce[:])
	var key [24]byte
	base64.StdEncoding.Encode(key[:], nonce[:])
	return key
}

// AcceptKey is the Sec-WebSocket-Accept a server must answer to key: it
// proves the server read this handshake as a WebSocket one.
func AcceptKey(key []byte) [28]byte {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(acceptGUID))
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], h.Sum(nil))
	return accept
}
