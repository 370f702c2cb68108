package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/png"
	"io/fs"
	"os"
	"strings"
	"testing"
)

// The committed screenshot (web/screenshot.png, shown in the README) must
// show the page as its sources are now. Git does not keep modification
// times, so "newer than the sources" cannot be told from the files; instead
// the page test writes, together with the screenshot, a hash of the
// sources it was taken from (web/screenshot.sources), and this plain test
// compares that hash with the sources' hash now.

const refreshHint = "run `SSEVSWS_SCREENSHOT=web/screenshot.png go test -run TestPage ./web/` " +
	"and commit web/screenshot.png and web/screenshot.sources together"

// SourcesHash is the hash web/screenshot.sources records: SHA-256 over the
// files of web/static, in name order, each as its name, its length and its
// content. Line ends count as LF, so a checkout with CRLF agrees.
func SourcesHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SourcesFile is the content of web/screenshot.sources for a hash.
func SourcesFile(sum string) string {
	return "# SHA-256 of web/static when web/screenshot.png was taken (see web/sources_test.go).\n" +
		"# To refresh both: SSEVSWS_SCREENSHOT=web/screenshot.png go test -run TestPage ./web/\n" +
		"sha256 " + sum + "\n"
}

func TestScreenshotCurrent(t *testing.T) {
	b, err := os.ReadFile("screenshot.sources")
	if err != nil {
		t.Fatalf("%v: %s", err, refreshHint)
	}
	var recorded string
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "sha256 "); ok {
			recorded = v
		}
	}
	now, err := SourcesHash()
	if err != nil {
		t.Fatal(err)
	}
	if recorded != now {
		t.Errorf("web/screenshot.png was taken from other page sources than web/static has now "+
			"(recorded %.12s…, now %.12s…): %s", recorded, now, refreshHint)
	}
	shot, err := os.ReadFile("screenshot.png")
	if err != nil {
		t.Fatal(err)
	}
	c, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot.png: %v", err)
	}
	if c.Width != 1280 || c.Height != 720 {
		t.Errorf("screenshot.png is %d×%d, want the stage at 1280×720: %s", c.Width, c.Height, refreshHint)
	}
}
