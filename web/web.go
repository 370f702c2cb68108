// Package web serves the comparison page: one HTML file, a style sheet and a
// few plain JavaScript modules (no build step, no framework).
//
// The files are embedded with go:embed so that the server stays one binary
// that works offline: a workshop room without internet, a laptop on a
// projector, nothing to download from a CDN and no asset folder to ship next
// to the binary or to lose. Editing a file under static/ therefore needs a
// rebuild (go run picks the change up); the Cache-Control header below makes
// the browser ask again on every load so the new version shows at once.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var embedded embed.FS

// static is the page's file tree: index.html, style.css and the JS modules.
var static = mustSub(embedded, "static")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic("web: " + err.Error()) // cannot happen: dir is embedded above
	}
	return sub
}

// contentSecurityPolicy lets the page load only its own files and talk only
// to its own origin (fetch, EventSource, WebSocket: in CSP level 3 'self'
// also matches ws: and wss: to the page's own host and port). The page never
// builds HTML from strings, so this is defence in depth, not the only guard.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes are the types of the page's own files.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

// Handler serves the comparison page and its assets (GET/HEAD only).
//
// "/" is index.html; the other files are served under their own names
// (/style.css, /app.js, /panel.js, ...). Unknown paths answer 404, other
// methods 405. Every answer carries Cache-Control: no-cache (the browser
// revalidates, and the strong ETag makes that a cheap 304 when nothing
// changed).
func Handler() http.Handler {
	files := http.FileServerFS(static)
	etags := hashFiles(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the page is read-only", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		if tag, ok := etags[name]; ok {
			h.Set("ETag", tag) // http.FileServerFS answers If-None-Match with 304
			// Set the type here rather than trust the host's mime table
			// (/etc/mime.types may differ): browsers refuse to run a JS
			// module that is not served with a JavaScript type.
			if ct, ok := contentTypes[path.Ext(name)]; ok {
				h.Set("Content-Type", ct)
			}
		}
		files.ServeHTTP(w, r)
	})
}

// hashFiles returns a strong ETag for each file, computed once: embedded
// files have no modification time, so there is no Last-Modified to use.
func hashFiles(fsys fs.FS) map[string]string {
	tags := make(map[string]string)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tags[name] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	if err != nil {
		panic("web: " + err.Error()) // cannot happen: the tree is embedded
	}
	return tags
}
