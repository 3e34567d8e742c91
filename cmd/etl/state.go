package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/etl-dev/etl/engine"
)

// stdin and stdinIsTerminal are where etl state asks for confirmation;
// tests replace them.
var (
	stdin           io.Reader = os.Stdin
	stdinIsTerminal           = func() bool { return term.IsTerminal(int(os.Stdin.Fd())) }
)

const stateUsage = `usage: etl state [NAME|FILE] [--format table|json] [--warehouse URL]
       etl state reset NAME|FILE [--yes] [--warehouse URL]
       etl state set NAME|FILE VALUE [--yes] [--warehouse URL]`

// cmdState shows and changes pipelines' saved incremental cursors.
func cmdState(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("state", stderr)
	format := fs.String("format", "table", "table or json")
	whURL := fs.String("warehouse", "", "warehouse URL (default: the pipeline file's sink url, else ETL_WAREHOUSE_URL, else etl.db here)")
	yes := fs.Bool("yes", false, "change the cursor without asking")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	usageErr := func(msg string) int {
		if msg != "" {
			fmt.Fprintf(stderr, "etl state: %s\n", msg)
		}
		fmt.Fprintln(stderr, stateUsage)
		return exitUsage
	}
	if *format != "table" && *format != "json" {
		return usageErr("--format is table or json")
	}
	verb := "show"
	if len(pos) > 0 && (pos[0] == "reset" || pos[0] == "set") {
		verb, pos = pos[0], pos[1:]
	}
	want := map[string]int{"show": 1, "reset": 1, "set": 2}[verb]
	if len(pos) > want || (verb != "show" && len(pos) != want) {
		return usageErr("")
	}
	target := stateTarget{}
	if len(pos) > 0 {
		if target, err = resolveStateTarget(reg, pos[0], stderr); err != nil {
			return usageErr(err.Error())
		}
	}
	u := *whURL
	if u == "" {
		u = target.url
	}
	wh, err := reg.InspectWarehouse(ctx, "warehouse", defaultWarehouse(u))
	if err == nil {
		defer wh.Close()
		err = wh.Migrate(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "etl state: %v\n", err)
		return exitFailed
	}
	ed, ok := wh.(engine.StateEditor)
	if !ok {
		fmt.Fprintf(stderr, "etl state: %s cannot list or change saved cursors\n", wh.Describe())
		return exitFailed
	}
	states, err := ed.States(ctx, target.name)
	if err != nil {
		fmt.Fprintf(stderr, "etl state: %v\n", err)
		return exitFailed
	}
	switch verb {
	case "show":
		writeStates(stdout, states, *format, target.name, wh.Describe())
		return exitOK
	case "reset":
		if len(states) == 0 {
			fmt.Fprintf(stdout, "%s has no saved cursor in %s; nothing to reset\n", target.name, wh.Describe())
			return exitOK
		}
		q := fmt.Sprintf("Forget the cursor of %s (%s)? Its next run reads everything.", target.name, states[0].Cursor)
		if code, ok := confirm(q, *yes, stdout, stderr); !ok {
			return code
		}
		if _, err := ed.ResetState(ctx, target.name); err != nil {
			fmt.Fprintf(stderr, "etl state: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "reset the cursor of %s (was %s); its next run reads everything\n", target.name, states[0].Cursor)
		return exitOK
	}
	// set
	kind, from := target.kind, "the pipeline's cursor expression"
	if kind == "" && len(states) > 0 {
		kind, from = states[0].Kind, "the saved cursor"
	}
	if kind == "" {
		return usageErr(fmt.Sprintf("cannot tell the type of %s's cursor (no saved cursor, and no pipeline file whose cursor has a known type): give the pipeline file", target.name))
	}
	v, err := engine.ParseCursorValue(kind, pos[1], target.loc)
	if err != nil {
		return usageErr(fmt.Sprintf("VALUE: %v (type from %s)", err, from))
	}
	cur := engine.Cursor{Value: v}
	old := "none"
	if len(states) > 0 {
		old = states[0].Cursor.String()
	}
	q := fmt.Sprintf("Set the cursor of %s from %s to %s? Its next run reads records from it on.", target.name, old, cur)
	if code, ok := confirm(q, *yes, stdout, stderr); !ok {
		return code
	}
	if err := ed.SetState(ctx, target.name, cur); err != nil {
		fmt.Fprintf(stderr, "etl state: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "set the cursor of %s to %s (%s; was %s)\n", target.name, cur, kind, old)
	return exitOK
}

// stateTarget is the pipeline etl state is about.
type stateTarget struct {
	name string
	kind string // the cursor's type from the pipeline file; "" when unknown
	url  string // the pipeline's warehouse; "" without a file
	loc  *time.Location
}

// resolveStateTarget reads arg as a pipeline file (NAME.hcl, or any file
// that exists) or else as a pipeline name.
func resolveStateTarget(reg *engine.Registry, arg string, stderr io.Writer) (stateTarget, error) {
	if _, err := os.Stat(arg); err != nil && !strings.HasSuffix(arg, ".hcl") {
		return stateTarget{name: arg, loc: time.UTC}, nil
	}
	loader := engine.NewLoader(reg)
	p, diags := loader.Load(arg)
	if diags.HasErrors() {
		writeDiagnostics(stderr, diags, loader.Files())
		return stateTarget{}, fmt.Errorf("%s is invalid", arg)
	}
	if p.Cursor == nil {
		return stateTarget{}, fmt.Errorf("pipeline %s has no incremental block, so no cursor", p.Name)
	}
	return stateTarget{name: p.Name, kind: p.CursorKind(), url: p.WarehouseURL(nil), loc: p.Location}, nil
}

// confirm asks q on a terminal; elsewhere it needs --yes. ok is false
// when the change must not be made, with the exit code to return.
func confirm(q string, yes bool, stdout, stderr io.Writer) (code int, ok bool) {
	if yes {
		return exitOK, true
	}
	if !stdinIsTerminal() {
		fmt.Fprintf(stderr, "etl state: %s\netl state: not on a terminal, so not asking: add --yes to do it\n", q)
		return exitUsage, false
	}
	fmt.Fprintf(stdout, "%s [y/N] ", q)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a == "y" || a == "yes" {
		return exitOK, true
	}
	fmt.Fprintln(stdout, "nothing changed")
	return exitFailed, false
}

func writeStates(w io.Writer, states []engine.SavedState, format, name, where string) {
	if format == "json" {
		out := make([]map[string]any, 0, len(states))
		for _, s := range states {
			m := map[string]any{"pipeline": s.Pipeline, "cursor": s.Cursor.String(), "type": s.Kind, "saved_at": s.Saved}
			if s.RunID > 0 {
				m["run_id"] = s.RunID
			} else {
				m["run_id"] = nil
			}
			out = append(out, m)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	if len(states) == 0 {
		if name != "" {
			fmt.Fprintf(w, "%s has no saved cursor in %s: its next run reads everything\n", name, where)
		} else {
			fmt.Fprintf(w, "no saved cursors in %s\n", where)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tCURSOR\tTYPE\tSAVED\tBY")
	for _, s := range states {
		by := "etl state set"
		if s.RunID > 0 {
			by = fmt.Sprintf("run %d", s.RunID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Pipeline, s.Cursor, s.Kind, s.Saved.Local().Format("2006-01-02 15:04:05"), by)
	}
	tw.Flush()
}

// defaultWarehouse is u, else ETL_WAREHOUSE_URL, else the default SQLite file.
func defaultWarehouse(u string) string {
	if u == "" {
		u = os.Getenv("ETL_WAREHOUSE_URL")
	}
	if u == "" {
		u = engine.DefaultWarehouseURL
	}
	return u
}
