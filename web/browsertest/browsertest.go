//go:build !js

// Package browsertest finds the headless browser that the browser test
// layers need, and applies the project's rule when there is none: outside CI
// the test is skipped with a one-line notice; under CI=true it fails, because
// a browser layer that silently skips proves nothing.
package browsertest

import (
	"os"
	"os/exec"
	"testing"
)

// candidates are the names Chromium and Chrome are installed under; chromedp
// and wasmbrowsertest look for the same ones.
var candidates = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"}

// Find returns the path of a Chromium or Chrome binary, or "" if there is
// none. The CHROME environment variable, if set, wins.
func Find() string {
	if p := os.Getenv("CHROME"); p != "" {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	for _, name := range candidates {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// Require returns the browser's path, or ends the test: a skip with a notice
// outside CI, a failure under CI=true.
func Require(t testing.TB) string {
	t.Helper()
	if path := Find(); path != "" {
		return path
	}
	const msg = "no Chromium or Chrome found (apt-get install -y chromium); the browser tests need one"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ", and CI=true forbids skipping them")
	}
	t.Skip(msg + "; skipping")
	return ""
}
