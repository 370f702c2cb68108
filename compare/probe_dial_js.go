//go:build js

package compare

import (
	"net/http"

	"github.com/coder/websocket"
)

// wsDialOptions: in the browser, the browser dials.
func wsDialOptions(*http.Client) *websocket.DialOptions { return nil }
