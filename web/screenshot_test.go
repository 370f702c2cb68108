//go:build !js

package web_test

import (
	"bytes"
	"cmp"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ssevsws/ssevsws/web"
)

// shotDir is where screenshots go: $SSEVSWS_SCREENSHOTS if set, else
// ssevsws-screenshots in the system's temp dir. It outlives the test; the
// log gives each file's path.
func shotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SSEVSWS_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "ssevsws-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// saveShot saves what the viewport shows as name (a PNG) in shotDir and
// returns it. Nothing is compared: CI must not depend on pixels.
func (p *page) saveShot(t *testing.T, name string) []byte {
	t.Helper()
	var b []byte
	p.run(t, "screenshot "+name, chromedp.CaptureScreenshot(&b))
	p.writeShot(t, name, b)
	return b
}

// saveFullShot saves the whole page, scrolled parts included.
func (p *page) saveFullShot(t *testing.T, name string) {
	t.Helper()
	var b []byte
	p.run(t, "screenshot "+name, chromedp.FullScreenshot(&b, 100))
	p.writeShot(t, name, b)
}

func (p *page) writeShot(t *testing.T, name string, b []byte) {
	t.Helper()
	c, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s is not a PNG: %v", name, err)
	}
	path := filepath.Join(shotDir(t), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d×%d, %d KB)", path, c.Width, c.Height, len(b)/1024)
}

// screenshots saves the stage at 1280×720, light and dark (resumed.png and
// resumed-dark.png: TestPage takes them after the restart), and writes the
// light one where SSEVSWS_SCREENSHOT says (that is how web/screenshot.png
// is made), with the hash of the page's sources beside it
// (web/screenshot.sources), which TestScreenshotCurrent compares.
func (p *page) screenshots(t *testing.T) {
	t.Helper()
	p.setViewport(t, stageW, stageH)
	p.showView(t, "stage")
	p.eval(t, "leave any text field", `document.activeElement && document.activeElement.blur(), true`, nil)
	light := p.saveShot(t, "resumed.png")
	var darkOK bool
	p.run(t, "dark mode",
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Poll(`getComputedStyle(document.body).backgroundColor !== "rgb(255, 255, 255)"`, &darkOK,
			chromedp.WithPollingTimeout(5*time.Second)))
	p.saveShot(t, "resumed-dark.png")
	p.run(t, "light mode",
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}))

	path := os.Getenv("SSEVSWS_SCREENSHOT")
	if path == "" {
		return
	}
	// The README names it from the module's root (web/screenshot.png);
	// tests run in the package's directory.
	if !filepath.IsAbs(path) {
		path = filepath.Join(moduleRoot(t), path)
	}
	// 256 colours: small enough to commit, sharp enough to read.
	small, err := smallPNG(light)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := web.SourcesHash()
	if err != nil {
		t.Fatal(err)
	}
	sources := strings.TrimSuffix(path, filepath.Ext(path)) + ".sources"
	if err := os.WriteFile(path, small, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sources, []byte(web.SourcesFile(sum)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot also written to %s (SSEVSWS_SCREENSHOT, %d KB, 256 colours), its sources' hash to %s",
		path, len(small)/1024, sources)
}

// moduleRoot is the directory of go.mod, above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// smallPNG re-encodes a screenshot with its 256 most frequent colours: the
// page has few colours, the rest are anti-aliasing shades, and a paletted
// PNG is a few times smaller (web/screenshot.png is committed).
func smallPNG(b []byte) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r := src.Bounds()
	rgba := image.NewRGBA(r)
	draw.Draw(rgba, r, src, r.Min, draw.Src)
	counts := make(map[color.RGBA]int)
	for i := 0; i+3 < len(rgba.Pix); i += 4 {
		counts[color.RGBA{rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2], 255}]++
	}
	colours := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		colours = append(colours, c)
	}
	slices.SortFunc(colours, func(a, b color.RGBA) int {
		if d := counts[b] - counts[a]; d != 0 {
			return d
		}
		return cmp.Compare(uint32(a.R)<<16|uint32(a.G)<<8|uint32(a.B), uint32(b.R)<<16|uint32(b.G)<<8|uint32(b.B))
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range colours[:min(256, len(colours))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(r, pal)
	index := make(map[color.RGBA]uint8, len(colours))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := rgba.RGBAAt(x, y)
			c.A = 255
			i, ok := index[c]
			if !ok {
				i = uint8(pal.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
