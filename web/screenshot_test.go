//go:build !js

package web_test

import (
	"bytes"
	"cmp"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// screenshots saves the full page, light and dark, in a directory that
// outlives the test (ssevsws-screenshots in the system's temp dir; the log
// gives the paths), and the light one also where SSEVSWS_SCREENSHOT says.
// Nothing is compared: CI must not depend on pixels.
func (p *page) screenshots(t *testing.T) {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "ssevsws-screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var light, dark []byte
	var darkOK bool
	p.run(t, "screenshot", chromedp.FullScreenshot(&light, 100))
	p.run(t, "dark screenshot",
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}),
		chromedp.Poll(`getComputedStyle(document.body).backgroundColor !== "rgb(255, 255, 255)"`, &darkOK,
			chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.FullScreenshot(&dark, 100),
		emulation.SetEmulatedMedia().WithFeatures([]*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}),
	)
	for name, b := range map[string][]byte{"page.png": light, "page-dark.png": dark} {
		if _, err := png.DecodeConfig(bytes.NewReader(b)); err != nil {
			t.Errorf("%s is not a PNG: %v", name, err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d KB)", path, len(b)/1024)
	}
	if path := os.Getenv("SSEVSWS_SCREENSHOT"); path != "" {
		// Three quarters of the size, rendered so (not scaled down after),
		// and 256 colours: small enough to commit, sharp enough to read.
		var shot []byte
		p.run(t, "small screenshot", chromedp.ActionFunc(func(ctx context.Context) error {
			_, _, _, _, _, size, err := cdppage.GetLayoutMetrics().Do(ctx)
			if err != nil {
				return err
			}
			shot, err = cdppage.CaptureScreenshot().
				WithFormat(cdppage.CaptureScreenshotFormatPng).
				WithCaptureBeyondViewport(true).
				WithFromSurface(true).
				WithClip(&cdppage.Viewport{Width: size.Width, Height: size.Height, Scale: 0.75}).
				Do(ctx)
			return err
		}))
		small, err := smallPNG(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, small, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot also written to %s (SSEVSWS_SCREENSHOT, %d KB, 256 colours)", path, len(small)/1024)
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
