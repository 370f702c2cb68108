package wire

import "bytes"

// Event is one dispatched Server-Sent Event. Its slices point into the
// block and the scratch buffer given to ParseSSE and are valid until they
// are reused.
type Event struct {
	Type []byte // the event: field; empty for the default type
	ID   []byte // the id: field; empty when the event has none
	Data []byte // the data: lines, joined with "\n"
}

// ParseSSE appends to out the events of block, a piece of text/event-stream
// that ends at an event boundary (an ssevsws server flushes one event, or
// one retry: field or comment, per HTTP chunk). It follows the parts of the
// WHATWG rules that an ssevsws stream uses: an event is dispatched at a
// blank line and only if it has data, several data: lines are joined with
// "\n", comments and unknown fields are ignored. retry: is ignored too: a
// RawConn never reconnects by itself.
//
// The joined data of every event lives in *scratch, which ParseSSE grows
// and hands back for the next call; the events' Data stay valid until the
// next call with the same scratch.
func ParseSSE(out []Event, scratch *[]byte, block []byte) []Event {
	var typ, id []byte
	buf, start := (*scratch)[:0], 0
	hasData := false
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		line := block
		if i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			if hasData {
				out = append(out, Event{Type: typ, ID: id, Data: buf[start:]})
				start = len(buf) // keep the bytes: out refers to them
			}
			typ, id, hasData = nil, nil, false
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "event":
			typ = value
		case "id":
			id = value
		case "data":
			if hasData {
				buf = append(buf, '\n')
			}
			buf = append(buf, value...)
			hasData = true
		}
	}
	*scratch = buf[:0]
	return out
}
