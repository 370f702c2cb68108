package wire

import "testing"

func TestJSON(t *testing.T) {
	data := []byte(`{"type":"hello","client":"ABC","seq":12,"text":"x"}`)
	if got := string(JSONString(data, "type")); got != "hello" {
		t.Errorf("type %q", got)
	}
	if got := string(JSONString(data, "client")); got != "ABC" {
		t.Errorf("client %q", got)
	}
	if got := JSONInt(data, "seq"); got != 12 {
		t.Errorf("seq %d", got)
	}
	if got := JSONString(data, "missing"); got != nil {
		t.Errorf("missing %q", got)
	}
	if got := string(AppendJSONString(nil, "a\"b\\c\n")); got != `"a\"b\\c\u000a"` {
		t.Errorf("AppendJSONString: %s", got)
	}
}
