package fanout

import (
	"errors"
	"testing"
	"time"
)

// After Seal, and after WriteAndSeal's last words, nothing but the owner's
// own writes (NetConn) goes out: no broadcast, no Write, no keep-alive. The
// connection stays open, and the owner's frames still arrive in order.
func TestSealKeepsOnlyTheOwnersWrites(t *testing.T) {
	e := newEngine(t, Config{Workers: 1, WriteTimeout: time.Minute})
	for _, how := range []string{"Seal", "WriteAndSeal"} {
		t.Run(how, func(t *testing.T) {
			s, cl := tcpPair(t)
			c := add(t, e, s, 0)
			c.Join(0)
			if n := syncBroadcast(e, 1, []byte("a")); n[0] != 1 {
				t.Fatal("a joined connection did not take a broadcast")
			}
			if how == "Seal" {
				c.Seal()
			} else if err := c.WriteAndSeal([]byte("z")); err != nil {
				t.Fatal(err)
			}
			c.KeepAlive(time.Millisecond, []byte("K")) // due at once, and refused
			if n := syncBroadcast(e, 2, []byte("b")); n[0] != 0 {
				t.Error("a sealed connection took a broadcast")
			}
			if err := c.Write([]byte("c")); !errors.Is(err, ErrSealed) {
				t.Errorf("Write after the seal = %v, want ErrSealed", err)
			}
			if _, err := c.NetConn().Write([]byte("!")); err != nil {
				t.Errorf("the owner's write after the seal: %v", err)
			}
			time.Sleep(20 * time.Millisecond) // twenty keep-alive periods: none may be written
			c.Close(nil)
			want := map[string]string{"Seal": "a!", "WriteAndSeal": "az!"}[how]
			if r := <-readAll(cl); string(r.data) != want {
				t.Errorf("peer got %q, want %q", r.data, want)
			}
		})
	}
}
