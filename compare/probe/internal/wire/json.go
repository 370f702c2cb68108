package wire

import "bytes"

// JSONString finds "key":"value" in a flat JSON object made by an ssevsws
// server and returns value as it is on the wire, without unescaping: the
// ids and texts the probes look at are plain ASCII. It returns nil when
// the key is missing or its value is not a string.
func JSONString(data []byte, key string) []byte {
	v := jsonValue(data, key)
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	end := bytes.IndexByte(v[1:], '"')
	if end < 0 {
		return nil
	}
	return v[1 : 1+end]
}

// JSONInt finds "key":123 in a flat JSON object; 0 when the key is missing.
func JSONInt(data []byte, key string) int64 {
	return ParseDigits(jsonValue(data, key))
}

// ParseDigits reads the decimal digits at the start of b, stopping before
// the value could overflow. It allocates nothing, unlike strconv on a
// converted string, which matters when it runs for every tick.
func ParseDigits(b []byte) int64 {
	var n int64
	for _, ch := range b {
		if ch < '0' || ch > '9' || n > (1<<62)/10 {
			break
		}
		n = n*10 + int64(ch-'0')
	}
	return n
}

// jsonValue returns what follows the first "key": in data, up to the end
// of data; nil if there is none.
func jsonValue(data []byte, key string) []byte {
	for i := 0; ; {
		j := bytes.Index(data[i:], []byte(key))
		if j < 0 {
			return nil
		}
		j += i
		after := j + len(key)
		if j > 0 && data[j-1] == '"' && after+1 < len(data) && data[after] == '"' && data[after+1] == ':' {
			return data[after+2:]
		}
		i = after
	}
}

// AppendJSONString appends s to b as a JSON string: quotes and backslashes
// escaped, control characters as \u00XX, everything else as is.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&15])
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
}
