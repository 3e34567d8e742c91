package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/etl-dev/etl/engine"
)

// cmdPlan prints what `etl run` would do with the same flags, doing none of it.
func cmdPlan(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plan", stderr)
	var opts engine.RunOptions
	fs.StringVar(&opts.Since, "since", "", "plan a run from this cursor value")
	fs.BoolVar(&opts.FullRefresh, "full-refresh", false, "plan a run that ignores the saved cursor")
	fs.StringVar(&opts.WarehouseURL, "warehouse", "", "warehouse URL (overrides the sink url and ETL_WAREHOUSE_URL)")
	applyEnv := envFlags(fs)
	files, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "etl plan: give exactly one pipeline file, e.g. etl plan pipelines/salespro_users.hcl")
		return exitUsage
	}
	loader := engine.NewLoader(reg)
	applyEnv(loader)
	p, diags := loader.Load(files[0])
	writeDiagnostics(stderr, diags, loader.Files())
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "etl plan: %s is invalid\n", files[0])
		return exitFailed
	}
	pl, err := p.Plan(ctx, reg, opts)
	if err != nil {
		fmt.Fprintf(stderr, "etl plan: %v\n", err)
		if engine.IsUsage(err) {
			return exitUsage
		}
		return exitFailed
	}
	writePlan(stdout, p, pl)
	return exitOK
}

func writePlan(w io.Writer, p *engine.Pipeline, pl *engine.Plan) {
	fmt.Fprintf(w, "pipeline %s (%s %s) from %s\n\n", p.Name, p.System, p.Entity, p.File)
	fmt.Fprintf(w, "env:        %s\n", environmentName(p))
	fmt.Fprintf(w, "source:     %s\n", pl.Source)
	if pl.FirstRead != "" {
		fmt.Fprintf(w, "first read: %s\n", pl.FirstRead)
	}
	switch {
	case !pl.Incremental:
		fmt.Fprintln(w, "cursor:     none (not incremental): reads everything")
	case pl.Cursor == nil:
		fmt.Fprintf(w, "cursor:     none saved (%s): reads everything, then saves the largest value\n", pl.CursorFrom)
	default:
		fmt.Fprintf(w, "cursor:     %s (%s): reads records from it on, inclusive\n", pl.Cursor, pl.CursorFrom)
	}
	key := ""
	if len(pl.Key) > 0 {
		key = " on " + strings.Join(pl.Key, ", ")
	}
	fmt.Fprintf(w, "target:     %s table %s, %s%s\n\n", pl.Warehouse, pl.Table, pl.Mode, key)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tTYPE\tEXPRESSION")
	for _, c := range pl.Columns {
		typ := string(c.Type)
		if c.Declared {
			typ += " (declared)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, typ, oneLine(c.Expr.Source))
	}
	tw.Flush()

	if len(pl.Checks) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tON FAIL\tCONDITION\tMESSAGE")
		for _, c := range pl.Checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.OnFail, oneLine(c.Expr.Source), c.Message)
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	switch {
	case !pl.DDLKnown:
		fmt.Fprintf(w, "DDL: unknown (%s)\n", pl.DDLNote)
	case len(pl.DDL) == 0:
		fmt.Fprintln(w, "DDL: none; the table matches")
	default:
		fmt.Fprintln(w, "DDL:")
		for _, s := range pl.DDL {
			fmt.Fprintf(w, "  %s;\n", strings.TrimSuffix(strings.TrimSpace(s), ";"))
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
