package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ssevsws/ssevsws/compare/probe"
)

// runStorm is `ssevsws compare -storm`: probe.Storm, then the table (or
// JSON). The exit code is 0 when every run came back, 1 otherwise.
func runStorm(ctx context.Context, opts probe.StormOptions, asJSON bool, stdout, stderr io.Writer) int {
	return measure(ctx, "-storm", asJSON, stdout, stderr, func(progress func(probe.Step)) (*probe.StormReport, error) {
		opts.Progress = progress
		return probe.Storm(ctx, opts)
	}, nil, printStorm)
}

// printStorm prints the storm as one table: a row per measure, a column
// per transport and jitter, then what the rows and the runs mean.
func printStorm(w io.Writer, rep *probe.StormReport) {
	fmt.Fprintf(w, "ssevsws compare -storm: %d clients per transport, in-process server restarted, tick %dms; %s %s/%s, %d CPUs; %s; %s in all\n\n",
		rep.Clients, rep.IntervalMS, rep.Go, rep.OS, rep.Arch, rep.CPUs, rep.Date.Format("2006-01-02 15:04 UTC"), rep.Wall)
	head := []string{""}
	for _, r := range rep.Results {
		head = append(head, r.Name())
	}
	cells := [][]string{head}
	var notes []string
	for _, r := range rep.Rows {
		cells = append(cells, append([]string{r.Label}, r.Texts...))
		if r.Note != "" {
			notes = append(notes, r.Label+": "+r.Note)
		}
	}
	writeNotedCells(w, cells, append(notes, rep.Notes...))
}
