package compare

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
