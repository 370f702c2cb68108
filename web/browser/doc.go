// Package browser is the browser-side Go code of ssevsws: thin, documented
// wrappers around the browser APIs that the WebAssembly browser tests need,
// compiled with GOOS=js GOARCH=wasm.
//
// Why it exists: some things only a real browser can show. A Go client over
// net/http can imitate EventSource, but only the browser's own EventSource
// proves that it reconnects by itself after the server's retry: and sends
// Last-Event-ID, and only the browser enforces CORS and sends Origin on a
// WebSocket handshake. The WebSocket side needs no wrapper here: the ws
// package's Client and Conn build for js/wasm, where github.com/coder/websocket
// drives the browser's WebSocket, so the very same client code runs natively
// and in the page.
//
// Read in this order:
//
//   - eventsource.go: EventSource, the browser's EventSource with its events on a Go channel.
//   - fetch.go: Fetch, Get and PostJSON over the browser's fetch; a request the
//     browser blocks (CORS, network) is a *FetchError, as scripts see it.
//   - websocketwatch.go: WatchWebSockets records the close code the browser
//     reports for every WebSocket, which coder/websocket's browser path hides.
//   - browser_test.go: the browser tests themselves (js/wasm); then
//     records_test.go (what a client saw, and how tests wait on it),
//     clients_test.go (the recorded EventSource, WebSocket and ws.Client) and
//     control_test.go (the page's side of the runner's control endpoint).
//   - runner_test.go: the native test that `go test ./...` runs: it starts
//     the servers, runs the wasm tests in headless Chromium through
//     wasmbrowsertest, and reports each of them by name (proc_*_test.go:
//     killing the child's whole process tree on timeout).
//
// Outside the browser (any GOOS but js) the package is empty apart from the
// native runner test.
package browser
