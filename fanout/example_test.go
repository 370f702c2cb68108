package fanout_test

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"

	"github.com/ssevsws/ssevsws/fanout"
)

// ExampleEngine sends server-sent events to a connection that has seen the
// first one already (a replay, say), so it joins from the second.
func ExampleEngine() {
	e := fanout.New(fanout.Config{Workers: 2})
	defer e.Close()

	// A client and the server's end of its connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		accepted <- nc
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()

	c, err := e.Add(<-accepted, 0) // kind 0: the SSE frame of each broadcast
	if err != nil {
		panic(err)
	}
	c.Join(1) // broadcasts from seq 1 on

	var delivered atomic.Int64
	for seq, msg := range []string{"zero", "one", "two"} {
		frames := [][]byte{[]byte("data: " + msg + "\n\n")}
		e.Broadcast(int64(seq), frames, func(perKind []int) {
			delivered.Add(int64(perKind[0])) // once per worker: add
		})
	}
	e.Sync() // everything broadcast so far is written
	fmt.Println("delivered:", delivered.Load())

	c.Finish([]byte("event: bye\n\n")) // the last frame, then close
	got, _ := io.ReadAll(client)
	fmt.Print(string(got))
	// Output:
	// delivered: 2
	// data: one
	//
	// data: two
	//
	// event: bye
}
