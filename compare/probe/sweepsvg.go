package probe

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ssevsws/ssevsws/compare"
)

// The chart is drawn with gonum.org/v1/plot because it writes an SVG with
// no script, no stylesheet and no font file to fetch: a README on GitHub
// shows it as it is, and it scales on a projector. It is two panels side
// by side, both over the number of clients on a log scale: CPU time per
// delivered tick, and RSS per idle connection; one line per transport and
// one, dashed, per floor.

// chart sizes, in points: wide enough for two panels on a 16:9 slide, with
// type that stays readable from the back of a room.
const (
	chartWidth  = 960
	chartHeight = 480
	titleSize   = 20
	labelSize   = 15
	tickSize    = 13
)

// WriteSweepSVG draws rep as an SVG chart on w (see above). The lines
// carry the names of SweepSeries.
func WriteSweepSVG(w io.Writer, rep *SweepReport) error {
	if len(rep.Rows) == 0 {
		return fmt.Errorf("probe: no sweep to draw")
	}
	cpu := sweepPanel("CPU per delivered tick", "server CPU per tick per client (µs)", rep.Clients)
	mem := sweepPanel("memory per idle connection", "server RSS per connection (KiB)", rep.Clients)
	type series struct {
		t     compare.Transport
		floor bool
		color color.Color
	}
	blue, orange := color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xe6, G: 0x6b, B: 0x00, A: 0xff}
	all := []series{{compare.SSE, false, blue}, {compare.WS, false, orange}, {compare.SSE, true, blue}, {compare.WS, true, orange}}
	top := map[*plot.Plot]float64{}
	for i, s := range all {
		var cpuXY, memXY plotter.XYs
		for _, r := range rep.Rows {
			if r.Transport != s.t {
				continue
			}
			c, m := r.CPU, r.RSS
			if s.floor {
				c, m = r.FloorCPU, r.FloorRSS
			}
			cpuXY = append(cpuXY, plotter.XY{X: float64(r.Clients), Y: c / 1000})
			memXY = append(memXY, plotter.XY{X: float64(r.Clients), Y: m / 1024})
		}
		for _, p := range []struct {
			p   *plot.Plot
			xys plotter.XYs
		}{{cpu, cpuXY}, {mem, memXY}} {
			slices.SortFunc(p.xys, func(a, b plotter.XY) int { return int(a.X - b.X) })
			line, points, err := plotter.NewLinePoints(p.xys)
			if err != nil {
				return err
			}
			line.Color, line.Width = s.color, vg.Points(3)
			points.Color, points.Shape, points.Radius = s.color, draw.CircleGlyph{}, vg.Points(4)
			if s.floor {
				line.Width = vg.Points(2)
				line.Dashes = []vg.Length{vg.Points(8), vg.Points(5)}
				points.Shape = draw.RingGlyph{}
			}
			p.p.Add(line, points)
			p.p.Legend.Add(SweepSeries[i], line, points)
			_, _, ymin, ymax := plotter.XYRange(p.xys)
			p.p.Y.Min = min(p.p.Y.Min, ymin, 0)
			top[p.p] = max(top[p.p], ymax)
		}
	}
	// Room above the highest point for the legend, which sits there.
	for _, p := range []*plot.Plot{cpu, mem} {
		p.Y.Max = top[p] * 1.45
	}

	c := vgsvg.New(vg.Points(chartWidth), vg.Points(chartHeight))
	dc := draw.New(c)
	title := draw.TextStyle{Color: color.Black, Font: sansFont(titleSize, xfont.WeightBold),
		XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(title, vg.Point{X: vg.Points(chartWidth / 2), Y: vg.Points(chartHeight - 8)},
		"What one more client costs the server")
	sub := title
	sub.Font = sansFont(tickSize, xfont.WeightNormal)
	dc.FillText(sub, vg.Point{X: vg.Points(chartWidth / 2), Y: vg.Points(chartHeight - 12 - titleSize)},
		fmt.Sprintf("SSE and WebSocket against a raw write(2) floor · one tick to every client · %s %s/%s, %d CPUs · %s",
			rep.Go, rep.OS, rep.Arch, rep.CPUs, rep.Date.Format("2006-01-02")))
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadTop: vg.Points(titleSize + tickSize + 28), PadBottom: vg.Points(8),
		PadLeft: vg.Points(8), PadRight: vg.Points(16), PadX: vg.Points(32)}
	panels := [][]*plot.Plot{{cpu, mem}}
	canvases := plot.Align(panels, tiles, dc)
	cpu.Draw(canvases[0][0])
	mem.Draw(canvases[0][1])
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return err
	}
	// The SVG names the font the layout was computed with; Arial and
	// Helvetica have the same metrics, and a viewer with none of them
	// should still pick a sans-serif rather than its default serif.
	out := bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	_, err := w.Write(out)
	return err
}

// sweepPanel is an empty panel over clients (log scale, a tick at each
// count measured), its y axis from 0, its text large and sans-serif.
func sweepPanel(title, ylabel string, clients []int) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sansFont(labelSize+2, xfont.WeightBold)
	p.X.Label.Text = "clients (log scale)"
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sansFont(labelSize, xfont.WeightNormal)
		a.Tick.Label.Font = sansFont(tickSize, xfont.WeightNormal)
	}
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, n := range clients {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: groupThousands(n)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = float64(slices.Min(clients))/1.25, float64(slices.Max(clients))*1.25
	p.Y.Min = 0
	p.Y.Tick.Marker = roundTicks{}
	p.Legend.TextStyle.Font = sansFont(tickSize, xfont.WeightNormal)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(12)
	p.Legend.ThumbnailWidth = vg.Points(32)
	p.Legend.Padding = vg.Points(3)
	p.Add(plotter.NewGrid())
	return p
}

// roundTicks labels a linear axis at round steps (1, 2 or 5 times a power
// of ten), five or so of them, with no more digits than the step needs:
// plot's default ticker labels 0 to 25 as "0.00" and "25.00" and nothing
// between.
type roundTicks struct{}

func (roundTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return nil
	}
	// The smallest round step that leaves at most seven intervals.
	pow := math.Pow(10, math.Floor(math.Log10((hi-lo)/7)))
	step := pow
	for _, m := range []float64{2, 5, 10} {
		if (hi-lo)/step <= 7 {
			break
		}
		step = m * pow
	}
	prec := max(0, -int(math.Floor(math.Log10(step))))
	var ticks []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi+step/1e6; k++ {
		v := k * step
		if k == 0 {
			v = 0 // not -0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', prec, 64)})
		if minor := v + step/2; minor < hi {
			ticks = append(ticks, plot.Tick{Value: minor})
		}
	}
	return ticks
}

// sansFont is Liberation Sans, which gonum.org/v1/plot carries: an SVG
// names it, and a viewer without it picks its own sans-serif.
func sansFont(size float64, weight xfont.Weight) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Weight: weight, Size: font.Length(size)}
}

// groupThousands writes 10000 as "10,000", as the table does.
func groupThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
