//go:build js && wasm

package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall/js"
)

// Request is what Fetch sends.
type Request struct {
	Method string            // "" means GET
	URL    string            // absolute, or relative to the page
	Header map[string]string // request headers; the browser adds Origin and others itself
	Body   []byte            // nil: no body
	// Mode is the fetch mode: "" or "cors" (the default: a cross-origin
	// answer is readable only if the server allows the page's origin),
	// "no-cors" (the request goes out but the answer is opaque: status 0,
	// no body) or "same-origin".
	Mode string
}

// Response is the answer as the page may see it.
type Response struct {
	Status     int // 0 for an opaque ("no-cors") answer
	StatusText string
	// Type is Response.type: "basic" (same origin), "cors" (cross-origin,
	// allowed by the server) or "opaque" ("no-cors").
	Type string
	// Header holds the headers the page may read: for a cross-origin answer
	// only the CORS-safelisted ones and those the server exposes. Names are
	// lower case.
	Header map[string]string
	Body   []byte
}

// FetchError is a fetch that the browser rejected instead of answering: a
// network error, or an answer that CORS does not let the page read. Scripts
// learn nothing more than this on purpose (the reason is only in the
// browser's console), so a CORS refusal and a refused connection look the
// same: Name "TypeError", Message "Failed to fetch".
type FetchError struct {
	Method, URL   string
	Name, Message string // of the JavaScript error the promise rejected with
}

func (e *FetchError) Error() string {
	return fmt.Sprintf("browser: fetch %s %s rejected: %s: %s", e.Method, e.URL, e.Name, e.Message)
}

// Fetch calls the browser's fetch and reads the whole answer. Any answer the
// page can read, whatever its status, is a *Response; a rejected fetch is a
// *FetchError. Cancelling ctx aborts the request (AbortController) and
// returns ctx's error.
//
// Do not call Fetch from inside a js.Func callback: it waits for the
// browser's event loop, which the callback is blocking.
func Fetch(ctx context.Context, req Request) (*Response, error) {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	abort := js.Global().Get("AbortController").New()
	opts := map[string]any{
		"method": method,
		"signal": abort.Get("signal"),
		"cache":  "no-store",
	}
	if req.Mode != "" {
		opts["mode"] = req.Mode
	}
	if len(req.Header) > 0 {
		h := map[string]any{}
		for k, v := range req.Header {
			h[k] = v
		}
		opts["headers"] = h
	}
	if req.Body != nil {
		body := js.Global().Get("Uint8Array").New(len(req.Body))
		js.CopyBytesToJS(body, req.Body)
		opts["body"] = body
	}

	fail := func(reason js.Value) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &FetchError{Method: method, URL: req.URL, Name: jsString(reason.Get("name")), Message: jsString(reason.Get("message"))}
	}
	resp, ok := await(ctx, abort, func() js.Value { return js.Global().Call("fetch", req.URL, opts) })
	if !ok {
		return nil, fail(resp)
	}
	out := &Response{
		Status:     resp.Get("status").Int(),
		StatusText: resp.Get("statusText").String(),
		Type:       resp.Get("type").String(),
		Header:     map[string]string{},
	}
	each := js.FuncOf(func(_ js.Value, args []js.Value) any {
		out.Header[args[1].String()] = args[0].String() // forEach(value, name)
		return nil
	})
	resp.Get("headers").Call("forEach", each) // synchronous
	each.Release()

	buf, ok := await(ctx, abort, func() js.Value { return resp.Call("arrayBuffer") })
	if !ok {
		return nil, fail(buf)
	}
	body := js.Global().Get("Uint8Array").New(buf)
	out.Body = make([]byte, body.Get("length").Int())
	js.CopyBytesToGo(out.Body, body)
	return out, nil
}

// Get fetches url with GET.
func Get(ctx context.Context, url string) (*Response, error) {
	return Fetch(ctx, Request{URL: url})
}

// PostJSON posts v as JSON (Content-Type: application/json, which makes a
// cross-origin request need a CORS preflight).
func PostJSON(ctx context.Context, url string, v any) (*Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Fetch(ctx, Request{Method: "POST", URL: url, Body: body,
		Header: map[string]string{"Content-Type": "application/json"}})
}

// await calls start, which returns a promise, and waits until the promise
// settles: it returns the value and true when fulfilled, the reason and
// false when rejected. When ctx ends first it aborts the request and still
// waits for the promise, which an abort settles at once: the callbacks can
// only be released when the browser cannot call them any more.
func await(ctx context.Context, abort js.Value, start func() js.Value) (js.Value, bool) {
	type result struct {
		v  js.Value
		ok bool
	}
	settled := make(chan result, 1) // never blocks: a promise settles once
	onFulfilled := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- result{arg0(args), true}
		return nil
	})
	defer onFulfilled.Release()
	onRejected := js.FuncOf(func(_ js.Value, args []js.Value) any {
		settled <- result{arg0(args), false}
		return nil
	})
	defer onRejected.Release()

	start().Call("then", onFulfilled, onRejected)
	select {
	case r := <-settled:
		return r.v, r.ok
	case <-ctx.Done():
		abort.Call("abort")
		r := <-settled
		return r.v, r.ok
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

func jsString(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	if v.IsUndefined() || v.IsNull() {
		return ""
	}
	return v.Call("toString").String()
}
