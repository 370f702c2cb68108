package compare

import "github.com/ssevsws/ssevsws/ws"

// Transport names one of the two ways the clock reaches a browser. Its
// value is what URLs, JSON and metrics use: "sse" or "ws".
type Transport string

const (
	SSE Transport = "sse" // Server-Sent Events, GET /sse
	WS  Transport = "ws"  // WebSocket, GET /ws
)

// Transports lists both transports in the order tables show them.
var Transports = []Transport{SSE, WS}

// Name is the transport as people say it: "SSE" or "WebSocket".
func (t Transport) Name() string {
	if t == SSE {
		return "SSE"
	}
	return "WebSocket"
}

// kind is the transport's index in a fan-out broadcast (fanout.Engine):
// SSE connections take the chunked SSE frame, WebSocket connections the
// WebSocket frame (ws.KindFrame).
func (t Transport) kind() int {
	if t == SSE {
		return kindSSE
	}
	return ws.KindFrame
}

const kindSSE = 0
