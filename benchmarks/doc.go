// Package benchmarks holds the go test -bench suites that contrast the SSE
// and WebSocket transports: connection cost, reconnect behaviour,
// directionality and fan-out. It contains no product code.
package benchmarks
