package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/ssevsws/ssevsws/web"
)

// The page is usually mounted at the root of the server's router, next to
// /sse, /ws, /chat and /drop, which it talks to on its own origin.
func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("GET /", web.Handler())

	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, path := range []string{"/", "/app.js", "/style.css"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		res.Body.Close()
		fmt.Println(path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	// Output:
	// / 200 text/html; charset=utf-8
	// /app.js 200 text/javascript; charset=utf-8
	// /style.css 200 text/css; charset=utf-8
}
