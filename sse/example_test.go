package sse_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/ssevsws/ssevsws/sse"
)

// Encode an event once; the bytes can then go to any number of streams.
func ExampleAppendEvent() {
	frame, err := sse.AppendEvent(nil, sse.Event{
		ID:   "42",
		Type: "tick",
		Data: "line one\nline two",
	})
	if err != nil {
		panic(err)
	}
	fmt.Print(string(frame))

	_, err = sse.AppendEvent(nil, sse.Event{ID: "1\nevent: evil", Data: "x"})
	fmt.Println(errors.Is(err, sse.ErrInvalidID))
	// Output:
	// id: 42
	// event: tick
	// data: line one
	// data: line two
	//
	// true
}

func ExampleReader() {
	stream := ": comments are ignored\n" +
		"retry: 1000\n" +
		"id: 7\n" +
		"event: greeting\n" +
		"data: hello\n" +
		"data:world\n" +
		"\n" +
		"data: the id sticks, the type does not\n" +
		"\n" +
		"data: never dispatched: no blank line before the end\n"

	r := sse.NewReader(strings.NewReader(stream))
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s id=%s %q\n", ev.Type, ev.ID, ev.Data)
	}
	retry, _ := r.Retry()
	fmt.Println("retry", retry)
	// Output:
	// greeting id=7 "hello\nworld"
	// message id=7 "the id sticks, the type does not"
	// retry 1s
}

// A handler that streams a few events. Real handlers usually call
// Stream.Run instead, to receive frames from elsewhere until the client
// leaves.
func ExampleOpen() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		stream, err := sse.Open(w, r, sse.Config{
			Retry:        2 * time.Second,
			WriteTimeout: 10 * time.Second,
		})
		if err != nil { // the ResponseWriter cannot stream; nothing was sent yet
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		next := 1
		if n, err := strconv.Atoi(sse.LastEventID(r)); err == nil {
			next = n + 1 // resume after what the client has seen
		}
		for i := next; i < next+2; i++ {
			if err := stream.Send(sse.Event{ID: strconv.Itoa(i), Data: "count " + strconv.Itoa(i)}); err != nil {
				return // the client is gone
			}
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "?lastEventId=5")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Header.Get("Content-Type"))
	fmt.Print(string(body))
	// Output:
	// text/event-stream
	// retry: 2000
	//
	// id: 6
	// data: count 6
	//
	// id: 7
	// data: count 7
}

// Run a stream from a channel: the producer encodes each event once and
// may feed many streams; Run adds heartbeats and stops when the client
// leaves, the context ends or the channel is closed.
func ExampleStream_Run() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		stream, err := sse.Open(w, r, sse.Config{Heartbeat: 15 * time.Second})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		frames := make(chan []byte)
		go func() { // stands for a broadcaster shared by all streams
			defer close(frames)
			for _, word := range []string{"one", "two"} {
				frame, _ := sse.AppendEvent(nil, sse.Event{Type: "word", Data: word})
				frames <- frame
			}
		}()
		err = stream.Run(r.Context(), frames)
		fmt.Println("Run returned", err, "after", stream.BytesWritten(), "bytes")
	}

	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// Run returned <nil> after 46 bytes
	// event: word
	// data: one
	//
	// event: word
	// data: two
}

// A writer loop that waits on more than one channel (here: ticks and
// chat echoes, with their own bounds) uses the stream's heartbeat instead
// of a timer of its own: HeartbeatDue comes due only after Config.Heartbeat
// with nothing written.
func ExampleStream_HeartbeatDue() {
	handler := func(w http.ResponseWriter, r *http.Request) {
		stream, err := sse.Open(w, r, sse.Config{Heartbeat: 20 * time.Millisecond})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		ticks, echoes := make(chan []byte), make(chan []byte)
		for {
			select {
			case frame := <-ticks:
				err = stream.WriteFrame(frame)
			case frame := <-echoes:
				err = stream.WriteFrame(frame)
			case <-stream.HeartbeatDue(): // nothing from either for 20 ms
				err = stream.Heartbeat()
			case <-r.Context().Done():
				return
			}
			if err != nil {
				return
			}
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(handler))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	fmt.Print(line)
	// Output:
	// : keep-alive
}

// A client that resumes where it left off when the server ends the stream.
func ExampleClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stream, err := sse.Open(w, r, sse.Config{Retry: 10 * time.Millisecond})
		if err != nil {
			return
		}
		if last := sse.LastEventID(r); last != "" {
			stream.Send(sse.Event{Data: "welcome back after " + last})
			return
		}
		stream.Send(sse.Event{ID: "1", Data: "first"})
		stream.Send(sse.Event{ID: "2", Data: "second"})
		// Returning ends the response: the client reconnects after 10ms.
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	c := &sse.Client{URL: srv.URL}
	err := c.Run(ctx, func(ev sse.Event) {
		fmt.Printf("id=%s %s\n", ev.ID, ev.Data)
		if strings.HasPrefix(ev.Data, "welcome back") {
			cancel()
		}
	})
	fmt.Println(err)
	// Output:
	// id=1 first
	// id=2 second
	// id=2 welcome back after 2
	// context canceled
}
