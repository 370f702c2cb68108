package wire

import "testing"

func TestParseSSE(t *testing.T) {
	var scratch []byte
	evs := ParseSSE(nil, &scratch, []byte("id: 7\nevent: tick\ndata: {\"seq\":7}\n\nevent: echo\ndata: a\ndata: b\n\n"))
	if len(evs) != 2 || string(evs[0].Type) != "tick" || string(evs[0].ID) != "7" ||
		string(evs[1].Type) != "echo" || len(evs[1].ID) != 0 || string(evs[1].Data) != "a\nb" {
		t.Errorf("got %q", evs)
	}
	if string(evs[0].Data) != `{"seq":7}` {
		t.Errorf("first event's data %q after parsing the second", evs[0].Data)
	}
	for _, other := range []string{"retry: 250\n\n", ": keep-alive\n", "event: tick\n\n"} {
		if evs := ParseSSE(nil, &scratch, []byte(other)); len(evs) != 0 {
			t.Errorf("%q: got %q, want no event", other, evs)
		}
	}
	evs = ParseSSE(nil, &scratch, []byte("event: gap\r\ndata: {\"from\":3,\"to\":9}\r\n\r\n"))
	if len(evs) != 1 || string(evs[0].Type) != "gap" || string(evs[0].Data) != `{"from":3,"to":9}` {
		t.Errorf("gap, CRLF lines: %q", evs)
	}
}
