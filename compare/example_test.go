package compare_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/ws"
)

// A server is an http.Handler with a clock inside: mount it anywhere, and
// shut it down to end every stream and stop the clock.
func ExampleNew() {
	srv, err := compare.New(compare.Config{
		Interval: 100 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := ws.Dial(ctx, "ws"+ts.URL[len("http"):]+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer conn.CloseNow()
	for range 2 {
		m, err := conn.Read(ctx)
		if err != nil {
			panic(err)
		}
		fmt.Println(m.Type)
	}
	// Output:
	// hello
	// tick
}

// PlanResume is the replay rule both transports share.
func ExampleClock_PlanResume() {
	clock := compare.NewClock(time.Second, 5*time.Minute) // a window of 300 ticks
	current := int64(1000)
	for _, last := range []string{"", "990", "500", "abc"} {
		plan, ok := clock.PlanResume(last, current)
		fmt.Printf("last %-5q usable=%-5v gap=%v replay %d..%d\n", last, ok, plan.HasGap(), plan.From, plan.To)
	}
	// Output:
	// last ""    usable=true  gap=false replay 1000..1000
	// last "990" usable=true  gap=false replay 991..1000
	// last "500" usable=true  gap=true replay 701..1000
	// last "abc" usable=false gap=false replay 1000..1000
}

// Check refuses a configuration before anything is started, with every
// reason at once.
func ExampleConfig_Check() {
	err := compare.Config{Interval: 1500 * time.Microsecond, Replay: 10 * time.Second}.Check()
	fmt.Println(err)
	// Output:
	// interval 1.5ms: must be a whole number of milliseconds, at least 1ms
	// replay 10s: must be at least 1m0s
}
