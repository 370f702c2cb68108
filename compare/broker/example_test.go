package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/broker"
)

// Two instances share an embedded NATS server: a chat that instance B
// takes for a stream held by instance A is delivered by A. This is what
// `ssevsws -broker-embed` (A) and `ssevsws -broker nats://...` (B) wire up,
// with the server's POST /chat in place of the direct calls here.
func Example() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ns, err := broker.Embed("127.0.0.1:0", quiet) // port 0: any free one
	if err != nil {
		panic(err)
	}
	defer ns.Shutdown()

	a, _ := broker.Connect(broker.Config{URL: ns.URL(), Instance: "A", Logger: quiet})
	defer a.Close()
	b, _ := broker.Connect(broker.Config{URL: ns.URL(), Instance: "B", Logger: quiet})
	defer b.Close()

	// Instance A holds client K's stream while it is open.
	release := a.Hold("K", func(c compare.Chat) compare.ChatAnswer {
		fmt.Printf("A delivers %q, taken by %s\n", c.Text, c.TakenBy)
		return compare.ChatAnswer{Status: 202, DeliveredBy: "A"}
	})
	ctx, cancel := context.WithTimeout(context.Background(), compare.DefaultRouteTimeout) // as the server does
	defer cancel()
	answer, err := b.Route(ctx, compare.Chat{Client: "K", Text: "hello", TakenBy: "B"})
	fmt.Println(answer.Status, answer.DeliveredBy, err)

	release() // the stream has ended: no instance holds K now
	_, err = b.Route(ctx, compare.Chat{Client: "K", Text: "hello again", TakenBy: "B"})
	fmt.Println(err)
	// Output:
	// A delivers "hello", taken by B
	// 202 A <nil>
	// no open SSE stream has this client id
}

// Embed on port 0 takes a free port; URL says which, for -broker.
func ExampleEmbed() {
	ns, err := broker.Embed("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		panic(err)
	}
	defer ns.Shutdown()
	_, port, _ := net.SplitHostPort(ns.Addr())
	fmt.Println(ns.URL() == "nats://127.0.0.1:"+port)
	// Output: true
}
