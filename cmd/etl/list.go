package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/etl-dev/etl/engine"
)

// cmdList is `etl list [DIR]`: every pipeline with its system, entity,
// source kind, schedule, whether it is enabled, its last run (status,
// when, counts) from the warehouse's history, and its next scheduled run.
func cmdList(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("list", stderr)
	whURL := fs.String("warehouse", "", "warehouse URL (default: ETL_WAREHOUSE_URL, else etl.db here)")
	paths, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	ps, diags, files, err := loadDir(reg, paths, false)
	if err != nil {
		fmt.Fprintf(stderr, "etl list: %v\n", err)
		return exitUsage
	}
	if diags.HasErrors() {
		writeDiagnostics(stderr, diags, files)
		fmt.Fprintln(stderr, "etl list: the folder has invalid pipelines (etl validate shows every problem)")
		return exitFailed
	}
	// The history, when there is one: a warehouse not created yet lists
	// every pipeline as never run.
	var wh engine.Warehouse
	if w, err := reg.InspectWarehouse(ctx, "warehouse", warehouseURL(*whURL)); err != nil {
		fmt.Fprintf(stderr, "etl list: no history: %v\n", err)
	} else {
		defer w.Close()
		wh = w
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tSYSTEM\tENTITY\tSOURCE\tSCHEDULE\tENABLED\tLAST RUN\tWHEN\tPROCESSED\tREJECTED\tNEXT RUN")
	for _, p := range ps {
		sched, next := "-", "-"
		if s := p.Serve.Schedule; s != nil {
			sched = s.Text
			if p.Location != time.UTC {
				sched += " (" + p.Location.String() + ")"
			}
			if p.Serve.Enabled {
				next = s.Next(now).In(p.Location).Format("2006-01-02 15:04:05 MST")
			}
		}
		last, when, processed, rejected := "never", "-", "-", "-"
		if wh != nil {
			if runs, err := wh.Runs(ctx, engine.HistoryFilter{Pipeline: p.Name, Limit: 1}); err == nil && len(runs) > 0 {
				r := runs[0]
				last = string(r.Status)
				when = r.Started.Local().Format("2006-01-02 15:04:05")
				processed = fmt.Sprint(r.Tally.Processed)
				rejected = fmt.Sprint(r.Tally.Rejected + r.Tally.Failed)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.System, p.Entity, p.SourceKind,
			sched, p.Serve.Enabled, last, when, processed, rejected, next)
	}
	tw.Flush()
	return exitOK
}
