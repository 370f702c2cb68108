package probe

import "testing"

// A chunk's events become the demo's messages: a tick with its seq from
// id:, a gap with its range from the data, several events in one chunk,
// and a chunk without an event as one uncounted MsgOther.
func TestSSEMessages(t *testing.T) {
	c := &RawConn{}
	msgs := c.sseMsgs(nil, []byte("id: 7\nevent: tick\ndata: {\"seq\":7}\n\nevent: echo\ndata: a\ndata: b\n\n"))
	if len(msgs) != 2 || msgs[0].Kind != MsgTick || msgs[0].Seq != 7 || msgs[1].Kind != MsgEcho || string(msgs[1].Data) != "a\nb" {
		t.Errorf("got %+v", msgs)
	}
	if string(msgs[0].Data) != `{"seq":7}` {
		t.Errorf("first event's data %q after parsing the second", msgs[0].Data)
	}
	for _, other := range []string{"retry: 250\n\n", ": keep-alive\n"} {
		if msgs := c.sseMsgs(nil, []byte(other)); len(msgs) != 1 || msgs[0].Kind != MsgOther {
			t.Errorf("%q: got %+v", other, msgs)
		}
	}
	msgs = c.sseMsgs(nil, []byte("event: gap\ndata: {\"from\":3,\"to\":9}\n\n"))
	if msgs[0].Kind != MsgGap || msgs[0].Seq != 3 || msgs[0].To != 9 {
		t.Errorf("gap: %+v", msgs[0])
	}
}
