// Command ssevsws serves the same clock over Server-Sent Events and
// WebSocket, side by side, with a page that shows both.
//
//	ssevsws [serve] [flags]    serve the clock and the page
//	ssevsws compare [flags]    measure both transports side by side
//
// Run "ssevsws -h" or "ssevsws compare -h" for the flags. main only wires signals to run, which
// holds the logic so that tests can call it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
