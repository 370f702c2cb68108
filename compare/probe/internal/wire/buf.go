package wire

// Grow returns b resliced to length n, or a new slice when b is too small.
// A new slice holds at least 512 bytes, so that a connection's buffer grows
// once to the size of a usual message and is then reused for every one.
func Grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n, max(n, 512))
	}
	return b[:n]
}
