package sse

import "unicode/utf8"

// validUTF8 returns p with every invalid UTF-8 sequence replaced by U+FFFD,
// the way the WHATWG Encoding Standard's UTF-8 decoder does it (which is
// what a browser applies to an event stream). It returns p itself when p is
// already valid, the common case.
//
// The standard replaces each "maximal subpart" of an invalid sequence with
// one U+FFFD: the bytes E2 82 followed by 'A' give "\uFFFDA", not two
// replacement characters. That is neither strings.ToValidUTF8 (one U+FFFD
// per run of bad bytes) nor Go's range loop (one per bad byte), hence this
// small function.
func validUTF8(p []byte) []byte {
	if utf8.Valid(p) {
		return p
	}
	out := make([]byte, 0, len(p)+8)
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r != utf8.RuneError || size > 1 { // valid (an encoded U+FFFD has size 3)
			out = append(out, p[:size]...)
			p = p[size:]
			continue
		}
		out = utf8.AppendRune(out, utf8.RuneError)
		p = p[maximalSubpart(p):]
	}
	return out
}

// maximalSubpart returns how many bytes at the start of p, which does not
// start with a valid sequence, the decoder consumes for one U+FFFD: the lead
// byte plus the continuation bytes that could still have completed it.
func maximalSubpart(p []byte) int {
	// need: continuation bytes a lead byte asks for; lo, hi: the range
	// allowed for the first of them (narrower for some leads, to exclude
	// overlong forms, surrogates and code points above U+10FFFF).
	lo, hi, need := byte(0x80), byte(0xBF), 0
	switch b := p[0]; {
	case 0xC2 <= b && b <= 0xDF:
		need = 1
	case b == 0xE0:
		lo, need = 0xA0, 2
	case b == 0xED:
		hi, need = 0x9F, 2
	case 0xE1 <= b && b <= 0xEF:
		need = 2
	case b == 0xF0:
		lo, need = 0x90, 3
	case b == 0xF4:
		hi, need = 0x8F, 3
	case 0xF1 <= b && b <= 0xF3:
		need = 3
	default: // a continuation byte, C0, C1 or F5..FF: never valid as a lead
		return 1
	}
	n := 1
	for n <= need && n < len(p) && lo <= p[n] && p[n] <= hi {
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}
