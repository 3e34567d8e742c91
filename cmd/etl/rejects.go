package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/etl-dev/etl/engine"
)

const rejectsUsage = `usage: etl rejects [NAME|FILE] [--pipeline NAME] [--run N] [--check C] [--category K] [--all] [--limit N] [--format table|json] [--warehouse URL]
       etl rejects replay [FILE|DIR]... [--pipeline NAME] [--run N] [--warehouse URL]`

// cmdRejects lists stored rejects, or replays them.
func cmdRejects(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "replay" {
		return cmdReplay(ctx, reg, args[1:], stdout, stderr)
	}
	fs := newFlagSet("rejects", stderr)
	f := engine.RejectFilter{}
	fs.StringVar(&f.Pipeline, "pipeline", "", "only the rejects of this pipeline")
	fs.Int64Var(&f.RunID, "run", 0, "only the rejects this run met (first or again)")
	fs.StringVar(&f.Check, "check", "", `only the rejects of this check ("validate has_email", "map email", "database")`)
	category := fs.String("category", "", "only this category: source, parse, conversion, validation or database")
	all := fs.Bool("all", false, "resolved rejects too (by default only the unresolved)")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many, oldest first; 0: all")
	format := fs.String("format", "table", "table or json")
	whURL := fs.String("warehouse", "", "warehouse URL (default: the pipeline file's sink url, else ETL_WAREHOUSE_URL, else etl.db here)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "etl rejects: %s\n%s\n", msg, rejectsUsage)
		return exitUsage
	}
	switch {
	case len(pos) > 1:
		return usageErr("give at most one pipeline name or file")
	case *format != "table" && *format != "json":
		return usageErr("--format is table or json")
	case f.Limit < 0 || f.RunID < 0:
		return usageErr("--limit and --run are ≥ 0")
	case *category != "" && !knownCategory(engine.RejectCategory(*category)):
		return usageErr(fmt.Sprintf("--category %q: use one of %s", *category, categoryNames()))
	}
	f.Category = engine.RejectCategory(*category)
	f.Unresolved = !*all
	var p *engine.Pipeline // its mask is applied to the records shown
	url := *whURL
	if len(pos) == 1 {
		if _, err := os.Stat(pos[0]); err != nil && !strings.HasSuffix(pos[0], ".hcl") {
			f.Pipeline = pos[0]
		} else {
			loader := engine.NewLoader(reg)
			pl, ds := loader.Load(pos[0])
			writeDiagnostics(stderr, ds, loader.Files())
			if ds.HasErrors() {
				fmt.Fprintf(stderr, "etl rejects: %s is invalid\n", pos[0])
				return exitFailed
			}
			p, f.Pipeline = pl, pl.Name
			if url == "" {
				url = pl.WarehouseURL(nil)
			}
		}
	}
	wh, err := reg.InspectWarehouse(ctx, "warehouse", defaultWarehouse(url))
	if err == nil {
		defer wh.Close()
		err = wh.Migrate(ctx)
	}
	var rejects []engine.StoredReject
	if err == nil {
		rs, ok := wh.(engine.RejectStore)
		if !ok {
			err = fmt.Errorf("%s cannot list its rejects", wh.Describe())
		} else {
			rejects, err = rs.Rejects(ctx, f)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "etl rejects: %v\n", err)
		return exitFailed
	}
	if p != nil {
		for i := range rejects {
			rejects[i].Record = p.MaskRecord(rejects[i].Record)
		}
	}
	writeRejects(stdout, rejects, *format, wh.Describe())
	return exitOK
}

// rejectsSummary is the summary's part about rejects: the replay's
// recovered share, and the records refused by category
// ("rejects: validation 3, database 1"); "" when there are none.
func rejectsSummary(r *engine.Result) string {
	var parts []string
	if r.Mode == engine.RunModeReplay {
		total := r.Tally.Processed + r.Counters["not_replayable"]
		parts = append(parts, fmt.Sprintf("recovered %d of %d", r.Tally.Recovered, total))
	}
	if c := categoriesText(r.Categories); c != "" {
		parts = append(parts, "rejects: "+c)
	}
	return strings.Join(parts, ", ")
}

// categoriesText lists counts by category in the order of a record's
// path: "parse 1, validation 3".
func categoriesText(m map[engine.RejectCategory]int64) string {
	var parts []string
	for _, c := range engine.RejectCategories {
		if n := m[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
		}
	}
	return strings.Join(parts, ", ")
}

func knownCategory(c engine.RejectCategory) bool {
	for _, k := range engine.RejectCategories {
		if c == k {
			return true
		}
	}
	return false
}

func categoryNames() string {
	var names []string
	for _, c := range engine.RejectCategories {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

func writeRejects(w io.Writer, rejects []engine.StoredReject, format, where string) {
	if format == "json" {
		out := make([]map[string]any, 0, len(rejects))
		for _, r := range rejects {
			m := map[string]any{
				"id": r.ID, "pipeline": r.Pipeline, "run_id": r.RunID, "last_run_id": r.LastRunID, "created_at": r.Created,
				"category": r.Category, "check": r.Check, "reason": r.Reason, "position": r.Pos, "where": r.Pos.String(),
				"record": r.Record, "replayable": r.Fields != "", "resolved_at": nil, "resolved_by_run": nil,
			}
			if !r.ResolvedAt.IsZero() {
				m["resolved_at"], m["resolved_by_run"] = r.ResolvedAt, r.ResolvedBy
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	if len(rejects) == 0 {
		fmt.Fprintf(w, "no rejects in %s\n", where)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPIPELINE\tRUN\tCATEGORY\tCHECK\tWHERE\tREASON\tRECORD\tRESOLVED")
	for _, r := range rejects {
		run := fmt.Sprint(r.RunID)
		if r.LastRunID != r.RunID {
			run += fmt.Sprintf("…%d", r.LastRunID)
		}
		resolved := "-"
		if !r.ResolvedAt.IsZero() {
			resolved = fmt.Sprintf("by run %d", r.ResolvedBy)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Pipeline, run, r.Category, r.Check,
			cellTail(r.Pos.String(), 40), cell(r.Reason, 60), cell(r.Record, 60), resolved)
	}
	tw.Flush()
}

// cell fits s on one table line of at most n characters.
func cell(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// cellTail is cell keeping the end of s: a path's file name and line.
func cellTail(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return "…" + string(r[len(r)-n+1:])
	}
	return cell(s, n)
}

// cmdReplay replays the stored rejects of the pipelines in FILE|DIR.
func cmdReplay(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rejects replay", stderr)
	name := fs.String("pipeline", "", "only this pipeline")
	run := fs.Int64("run", 0, "only the rejects this run met")
	var opts engine.RunOptions
	fs.StringVar(&opts.WarehouseURL, "warehouse", "", "warehouse URL (overrides the sink url and ETL_WAREHOUSE_URL)")
	paths, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if *run < 0 {
		fmt.Fprintf(stderr, "etl rejects replay: --run is ≥ 0\n%s\n", rejectsUsage)
		return exitUsage
	}
	if len(paths) == 0 {
		paths = []string{"pipelines"}
	}
	files, err := pipelineFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "etl rejects replay: %v\n", err)
		return exitUsage
	}
	code, replayed := exitOK, 0
	for _, file := range files {
		loader := engine.NewLoader(reg)
		loader.Strict = true
		p, diags := loader.Load(file)
		if p != nil && *name != "" && p.Name != *name {
			continue
		}
		writeDiagnostics(stderr, diags, loader.Files())
		if diags.HasErrors() {
			fmt.Fprintf(stderr, "etl rejects replay: %s is invalid; its rejects were not replayed\n", file)
			code = exitFailed
			continue
		}
		replayed++
		res, err := p.Replay(ctx, reg, *run, opts)
		if res != nil {
			fmt.Fprintln(stdout, summary(res, false))
		}
		if err != nil {
			fmt.Fprintf(stderr, "etl rejects replay: %s failed: %v\n", p.Name, err)
			code = exitFailed
		}
	}
	if replayed == 0 && code == exitOK {
		fmt.Fprintf(stderr, "etl rejects replay: no pipeline %q in %s\n", *name, strings.Join(paths, " "))
		return exitUsage
	}
	return code
}
