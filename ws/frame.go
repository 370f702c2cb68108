package ws

// AppendFrame appends msg as one unmasked WebSocket text frame (RFC 6455,
// 5.2), as a server sends it: FIN and opcode 1, then the payload length in
// 7 bits, or 126 and 16 bits, or 127 and 64 bits, then the payload.
//
// The server encodes each tick once this way and the fan-out engine
// (package fanout) writes the same bytes to every connection;
// coder/websocket still writes the control frames (ping, pong, close) of
// each connection, in order with these through the engine.
func AppendFrame(dst, msg []byte) []byte {
	return append(AppendFrameHeader(dst, len(msg)), msg...)
}

// AppendFrameHeader appends the header AppendFrame puts before a payload
// of n bytes. A server that encodes a message once for many connections
// can leave FrameHeaderLen bytes of room before it and put the header in
// that room: the frame is then one buffer, with no copy.
func AppendFrameHeader(dst []byte, n int) []byte {
	const finText = 0x80 | 0x1
	switch {
	case n <= 125:
		return append(dst, finText, byte(n))
	case n <= 0xFFFF:
		return append(dst, finText, 126, byte(n>>8), byte(n))
	default:
		return append(dst, finText, 127,
			byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// FrameHeaderLen is how many bytes AppendFrame puts before a payload of n
// bytes.
func FrameHeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xFFFF:
		return 4
	default:
		return 10
	}
}
