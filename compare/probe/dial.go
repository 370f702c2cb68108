//go:build !js

package probe

import (
	"net/http"

	"github.com/coder/websocket"
)

// wsDialOptions makes coder/websocket dial through hc.
func wsDialOptions(hc *http.Client) *websocket.DialOptions {
	return &websocket.DialOptions{HTTPClient: hc}
}
