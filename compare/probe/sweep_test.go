package probe_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ssevsws/ssevsws/compare"
	"github.com/ssevsws/ssevsws/compare/probe"
)

// init makes this test binary Sweep's client process when started with
// probe.SweepClientEnv set (see clientProcess). It is init and not
// TestMain, which main_test.go has, and it runs before the testing flags
// are parsed, so the arguments do not matter.
func init() {
	if os.Getenv(probe.SweepClientEnv) == "" {
		return
	}
	if err := probe.RunSweepClient(os.Stdin, os.Stdout); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// clientProcess is this test binary again, running no test.
func clientProcess() (*exec.Cmd, error) { return probe.SweepClientCommand("-test.run=^$") }

// tinySweep is a sweep small and short enough for go test -race on a busy
// machine: 10 and 20 clients, a few ticks each.
var tinySweep = probe.SweepOptions{Clients: []int{10, 20}, Window: 10 * time.Millisecond, MinRounds: 3, ClientProcess: clientProcess}

// A tiny sweep, end to end: every count and transport has a row whose CPU
// figures and rounds are there, and its chart is SVG with a line and a
// legend entry per series in each panel.
func TestSweep(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, err := probe.Sweep(context.Background(), tinySweep)
		if err != probe.ErrSweepUnsupported {
			t.Fatalf("Sweep on %s: %v, want ErrSweepUnsupported", runtime.GOOS, err)
		}
		t.Skip("the sweep is Linux only")
	}
	rep, err := probe.Sweep(context.Background(), tinySweep)
	if err != nil {
		t.Fatal(err)
	}
	checkSweepReport(t, rep, tinySweep.Clients)
	var svg bytes.Buffer
	if err := probe.WriteSweepSVG(&svg, rep); err != nil {
		t.Fatal(err)
	}
	checkSweepSVG(t, svg.Bytes())
}

// checkSweepReport checks what every sweep report must hold.
func checkSweepReport(t *testing.T, rep *probe.SweepReport, clients []int) {
	t.Helper()
	if !slices.Equal(rep.Clients, clients) || rep.Go == "" || rep.CPUs < 1 || rep.Window == "" || rep.Wall == "" {
		t.Errorf("report header %+v", rep)
	}
	if len(rep.Rows) != 2*len(clients) {
		t.Fatalf("%d rows, want %d: %+v", len(rep.Rows), 2*len(clients), rep.Rows)
	}
	for i, r := range rep.Rows {
		if r.Clients != clients[i/2] || r.Transport != compare.Transports[i%2] {
			t.Errorf("row %d is %s with %d clients, want %s with %d", i, r.Transport, r.Clients, compare.Transports[i%2], clients[i/2])
		}
		if r.CPU <= 0 || r.FloorCPU <= 0 || r.XFloor != r.CPU/r.FloorCPU || r.Rounds < 3 || r.FloorRounds < 3 || r.TickBytes < 50 {
			t.Errorf("row %d: %+v", i, r)
		}
	}
}

// checkSweepSVG checks that svg parses as XML and names every series in
// both panels' legends.
func checkSweepSVG(t *testing.T, svg []byte) {
	t.Helper()
	texts := map[string]int{}
	d := xml.NewDecoder(bytes.NewReader(svg))
	var inText bool
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts[string(tok)]++
			}
		case xml.EndElement:
			inText = false
		}
	}
	for _, s := range append(slices.Clone(probe.SweepSeries), "CPU per delivered tick", "memory per idle connection") {
		want := 2
		if s[0] == 'C' || s[0] == 'm' {
			want = 1
		}
		if texts[s] != want {
			t.Errorf("the chart has %q %d times, want %d", s, texts[s], want)
		}
	}
}

// The sweep needs its client process.
func TestSweepNeedsClients(t *testing.T) {
	opts := tinySweep
	opts.ClientProcess = nil
	if _, err := probe.Sweep(context.Background(), opts); err == nil {
		t.Error("no error")
	}
	opts = tinySweep
	opts.Clients = []int{}
	if _, err := probe.Sweep(context.Background(), opts); err == nil {
		t.Error("no error for no counts")
	}
}

// Sweep measures, for each transport at each count, the server's CPU per
// delivered tick against its floor, and its memory per idle connection; its
// clients run in a second process, here this test binary again (see init).
func ExampleSweep() {
	rep, err := probe.Sweep(context.Background(), probe.SweepOptions{
		Clients:   []int{10},
		Window:    10 * time.Millisecond,
		MinRounds: 2,
		ClientProcess: func() (*exec.Cmd, error) {
			return probe.SweepClientCommand("-test.run=^$")
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rep.Rows {
		fmt.Printf("%d %s clients: CPU measured %v, floor measured %v\n", r.Clients, r.Transport.Name(), r.CPU > 0, r.FloorCPU > 0)
	}
	if err := probe.WriteSweepSVG(io.Discard, rep); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 10 SSE clients: CPU measured true, floor measured true
	// 10 WebSocket clients: CPU measured true, floor measured true
}

// Chart axes are labelled at round steps, with as many digits as the step
// needs.
func TestRoundTicks(t *testing.T) {
	for _, tt := range []struct {
		lo, hi float64
		want   []string
	}{
		{0, 26, []string{"0", "5", "10", "15", "20", "25"}},
		{0, 46, []string{"0", "10", "20", "30", "40"}},
		{0, 0.9, []string{"0.0", "0.2", "0.4", "0.6", "0.8"}},
		{-1, 7, []string{"0", "2", "4", "6"}},
		{-3, 30, []string{"0", "5", "10", "15", "20", "25", "30"}},
	} {
		var got []string
		for _, tk := range probe.RoundTicks(tt.lo, tt.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%v to %v: %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}
