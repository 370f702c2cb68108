package comparetest

import (
	"bytes"
	"sync"
)

// LogBuffer collects what many goroutines write (a server's log, a child
// process's standard error) so that a failing test can print it.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; it is safe to call from many goroutines.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail is the last n bytes written, for a message that must stay short.
func (b *LogBuffer) Tail(n int) string {
	s := b.String()
	return s[max(0, len(s)-n):]
}
