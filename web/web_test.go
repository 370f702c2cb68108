package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestIndex(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	res, body := get(t, srv, http.MethodGet, "/", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET / Content-Type = %q, want text/html", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET / Cache-Control = %q, want no-cache", cc)
	}
	for _, want := range []string{`<script type="module"`, `data-panel`, `The same clock, two transports.`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / body lacks %q", want)
		}
	}
}

var (
	// src="/app.js", href="/style.css" in index.html (data: URLs excluded).
	htmlRef = regexp.MustCompile(`(?:src|href)="(/[^"]*)"`)
	// import ... from "./panel.js" in the modules.
	jsImport = regexp.MustCompile(`(?m)^import .* from "\./([^"]+)";`)
)

// assets returns every file the page loads: the ones index.html names and,
// transitively, the ones the JS modules import.
func assets(t *testing.T) []string {
	t.Helper()
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range htmlRef.FindAllStringSubmatch(string(index), -1) {
		out = append(out, m[1])
	}
	for i := 0; i < len(out); i++ {
		if !strings.HasSuffix(out[i], ".js") {
			continue
		}
		src, err := fs.ReadFile(static, strings.TrimPrefix(out[i], "/"))
		if err != nil {
			t.Fatalf("%s is referenced but not embedded: %v", out[i], err)
		}
		for _, m := range jsImport.FindAllStringSubmatch(string(src), -1) {
			if p := "/" + m[1]; !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func TestAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	refs := assets(t)
	for _, want := range []string{"/style.css", "/app.js", "/panel.js", "/sse-panel.js", "/ws-panel.js",
		"/chart.js", "/timeline.js", "/diagram.js", "/stats.js", "/limit.js", "/measure.js", "/views.js", "/keys.js",
		"/watchdog.js", "/hop.js", "/timeline.css"} {
		if !slices.Contains(refs, want) {
			t.Errorf("the page does not load %s (found %v)", want, refs)
		}
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, ref := range refs {
		res, body := get(t, srv, http.MethodGet, ref, nil)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", ref, res.StatusCode)
			continue
		}
		ext := ref[strings.LastIndexByte(ref, '.'):]
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType[ext]) || wantType[ext] == "" {
			t.Errorf("GET %s Content-Type = %q, want %s", ref, ct, wantType[ext])
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q, want no-cache", ref, cc)
		}
		if body == "" {
			t.Errorf("GET %s: empty body", ref)
		}
	}
}

// Every embedded file must be used by the page: a stray file would be
// served to the world for nothing.
func TestNoStrayFiles(t *testing.T) {
	refs := assets(t)
	err := fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "index.html" {
			return err
		}
		if !slices.Contains(refs, "/"+name) {
			t.Errorf("%s is embedded but the page never loads it", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	for _, p := range []string{"/nope.js", "/static/index.html", "/web.go", "/../web.go"} {
		if res, _ := get(t, srv, http.MethodGet, p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, res.StatusCode)
		}
	}
	res, body := get(t, srv, http.MethodHead, "/app.js", nil)
	if res.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD /app.js = %d with %d body bytes, want 200 and none", res.StatusCode, len(body))
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		res, _ := get(t, srv, m, "/", nil)
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s / = %d, want 405", m, res.StatusCode)
		}
		if allow := res.Header.Get("Allow"); allow != "GET, HEAD" {
			t.Errorf("%s / Allow = %q, want GET, HEAD", m, allow)
		}
	}
}

func TestRevalidate(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	res, _ := get(t, srv, http.MethodGet, "/app.js", nil)
	tag := res.Header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag on /app.js")
	}
	res, _ = get(t, srv, http.MethodGet, "/app.js", http.Header{"If-None-Match": {tag}})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("GET /app.js with If-None-Match = %d, want 304", res.StatusCode)
	}
}

// The page must never turn server or chat text into HTML: a chat text such
// as <img src=x onerror=alert(1)> has to show as text. The modules build
// the DOM with textContent and createElement only; this guards that.
func TestNoHTMLSinks(t *testing.T) {
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)
	err := fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(name, ".js") {
			return err
		}
		src, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		if m := sinks.Find(src); m != nil {
			t.Errorf("%s uses %s: build DOM with textContent instead", name, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The data-field hooks in the panel template are what browser tests drive;
// each must be listed in the comment at the top of index.html.
func TestFieldsDocumented(t *testing.T) {
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	s := string(index)
	end := strings.Index(s, "-->")
	if end < 0 {
		t.Fatal("index.html has no leading comment")
	}
	doc := s[:end]
	fields := regexp.MustCompile(`data-field="([^"]+)"`).FindAllStringSubmatch(s[end:], -1)
	if len(fields) < 10 {
		t.Fatalf("found only %d data-field hooks in the template", len(fields))
	}
	for _, f := range fields {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(f[1]) + `\b`).MatchString(doc) {
			t.Errorf("data-field %q is not listed in the comment at the top of index.html", f[1])
		}
	}
}

// The two panels share their rows (CSS subgrid), one row per part of the
// panel template: style.css must know how many there are, or the parts of
// one panel would spill into rows the other does not line up with.
func TestPanelParts(t *testing.T) {
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	css, err := fs.ReadFile(static, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	tpl := string(index)
	tpl = tpl[strings.Index(tpl, `<template id="panel-template">`):]
	tpl = tpl[:strings.Index(tpl, "</template>")]
	parts := strings.Count(tpl, "data-part=")
	m := regexp.MustCompile(`--parts:\s*(\d+);`).FindStringSubmatch(string(css))
	if m == nil {
		t.Fatal("style.css does not set --parts")
	}
	if m[1] != strconv.Itoa(parts) {
		t.Errorf("style.css says --parts: %s; the panel template has %d parts", m[1], parts)
	}
}
