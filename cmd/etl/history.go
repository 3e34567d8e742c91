package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/etl-dev/etl/engine"
)

func cmdHistory(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("history", stderr)
	pipeline := fs.String("pipeline", "", "only runs of this pipeline")
	limit := fs.Int("limit", 20, "at most this many runs, newest first")
	format := fs.String("format", "table", "table or json")
	whURL := fs.String("warehouse", "", "warehouse URL (default: ETL_WAREHOUSE_URL, else etl.db here)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if len(rest) > 0 || *limit < 1 || (*format != "table" && *format != "json") {
		fmt.Fprintln(stderr, "etl history: usage: etl history [--pipeline NAME] [--limit N ≥ 1] [--format table|json] [--warehouse URL]")
		return exitUsage
	}
	wh, err := reg.InspectWarehouse(ctx, "warehouse", defaultWarehouse(*whURL))
	if err != nil {
		fmt.Fprintf(stderr, "etl history: %v\n", err)
		return exitFailed
	}
	defer wh.Close()
	if err := wh.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "etl history: %v\n", err)
		return exitFailed
	}
	runs, err := wh.Runs(ctx, engine.HistoryFilter{Pipeline: *pipeline, Limit: *limit})
	if err != nil {
		fmt.Fprintf(stderr, "etl history: %v\n", err)
		return exitFailed
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		out := make([]map[string]any, 0, len(runs))
		for _, r := range runs {
			out = append(out, historyJSON(r))
		}
		_ = enc.Encode(out)
		return exitOK
	}
	if len(runs) == 0 {
		fmt.Fprintf(stdout, "no runs recorded in %s\n", wh.Describe())
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPIPELINE\tSTARTED\tDURATION\tSTATUS\tMODE\tPROCESSED\tCREATED\tUPDATED\tUNCHANGED\tREJECTED\tFAILED\tSKIPPED\tDELETED\tALREADY REJECTED\tRECOVERED\tREJECTS BY CATEGORY\tERROR")
	for _, r := range runs {
		dur := "-"
		if !r.Finished.IsZero() {
			dur = r.Finished.Sub(r.Started).Round(time.Millisecond).String()
		}
		errText := r.Error
		if len(errText) > 60 {
			errText = errText[:57] + "..."
		}
		cats := categoriesText(r.Categories)
		if cats == "" {
			cats = "-"
		}
		name := r.Pipeline
		if r.Environment != "" {
			name += " (" + r.Environment + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.ID, name,
			r.Started.Local().Format("2006-01-02 15:04:05"), dur, r.Status, r.RunMode(),
			r.Tally.Processed, r.Tally.Created, r.Tally.Updated, r.Tally.Unchanged, r.Tally.Rejected, r.Tally.Failed,
			r.Tally.Skipped, r.Tally.Deleted, r.Tally.AlreadyRejected, r.Tally.Recovered, cats, errText)
	}
	tw.Flush()
	return exitOK
}

func historyJSON(r engine.Run) map[string]any {
	m := map[string]any{
		"id": r.ID, "pipeline": r.Pipeline, "system": r.System, "entity": r.Entity,
		"endpoint": r.Endpoint, "started_at": r.Started, "status": r.Status,
		"processed": r.Tally.Processed, "created": r.Tally.Created, "updated": r.Tally.Updated,
		"unchanged": r.Tally.Unchanged, "rejected": r.Tally.Rejected, "failed": r.Tally.Failed,
		"skipped": r.Tally.Skipped, "warned": r.Tally.Warned, "deleted": r.Tally.Deleted,
		"error": r.Error, "metrics": r.Metrics,
		"mode": r.RunMode(), "already_rejected": r.Tally.AlreadyRejected, "recovered": r.Tally.Recovered,
		"reject_categories": r.Categories,
	}
	if !r.Heartbeat.IsZero() {
		m["heartbeat_at"] = r.Heartbeat
	}
	if r.Environment != "" {
		m["environment"] = r.Environment
	}
	if !r.Finished.IsZero() {
		m["finished_at"] = r.Finished
	}
	return m
}
