package sse

import (
	"testing"
	"unicode/utf8"
)

// whatwgDecode is the UTF-8 decoder of the WHATWG Encoding Standard written
// out step by step, as a slow but obviously faithful reference for
// validUTF8.
func whatwgDecode(p []byte) string {
	var out []rune
	var cp rune
	needed, seen := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(p); {
		b := p[i]
		if needed == 0 {
			switch {
			case b <= 0x7F:
				out = append(out, rune(b))
			case 0xC2 <= b && b <= 0xDF:
				needed, cp = 1, rune(b&0x1F)
			case 0xE0 <= b && b <= 0xEF:
				if b == 0xE0 {
					lower = 0xA0
				}
				if b == 0xED {
					upper = 0x9F
				}
				needed, cp = 2, rune(b&0xF)
			case 0xF0 <= b && b <= 0xF4:
				if b == 0xF0 {
					lower = 0x90
				}
				if b == 0xF4 {
					upper = 0x8F
				}
				needed, cp = 3, rune(b&0x7)
			default:
				out = append(out, utf8.RuneError)
			}
			i++
			continue
		}
		if b < lower || b > upper {
			// Error; the byte is "prepended to the stream": look at it again.
			cp, needed, seen, lower, upper = 0, 0, 0, 0x80, 0xBF
			out = append(out, utf8.RuneError)
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(b&0x3F)
		seen++
		i++
		if seen == needed {
			out = append(out, cp)
			cp, needed, seen = 0, 0, 0
		}
	}
	if needed != 0 { // end of input inside a sequence
		out = append(out, utf8.RuneError)
	}
	return string(out)
}

func TestValidUTF8(t *testing.T) {
	tests := map[string]string{
		"":                     "",
		"héllo €𝄞":             "héllo €𝄞",
		"\uFFFD":               "\uFFFD", // a real U+FFFD stays one
		"\xff":                 "\uFFFD",
		"\xe2\x82A":            "\uFFFDA", // truncated sequence: one U+FFFD
		"\xe2\x82":             "\uFFFD",
		"\xc0\xaf":             "\uFFFD\uFFFD",             // overlong
		"\xf0\x80\x80":         "\uFFFD\uFFFD\uFFFD",       // overlong
		"\xed\xa0\x80":         "\uFFFD\uFFFD\uFFFD",       // surrogate
		"\xf4\x90\x80\x80":     "\uFFFD\uFFFD\uFFFD\uFFFD", // above U+10FFFF
		"\xf1\x80\x80":         "\uFFFD",
		"a\x80b":               "a\uFFFDb",
		"\xf0\x9f\x98\x80\x80": "😀\uFFFD",
	}
	for in, want := range tests {
		if got := string(validUTF8([]byte(in))); got != want {
			t.Errorf("validUTF8(%q) = %q, want %q", in, got, want)
		}
		if ref := whatwgDecode([]byte(in)); ref != want {
			t.Errorf("reference decoder(%q) = %q, want %q (bad test)", in, ref, want)
		}
	}
}

func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"héllo", "\xe2\x82A", "\xf0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if got, want := string(validUTF8(p)), whatwgDecode(p); got != want {
			t.Errorf("validUTF8(%q) = %q, reference gives %q", p, got, want)
		}
	})
}
