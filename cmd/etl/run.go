package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/etl-dev/etl/engine"
)

func cmdRun(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", stderr)
	var opts engine.RunOptions
	fs.BoolVar(&opts.DryRun, "dry-run", false, "read, map and check; write nothing")
	fs.IntVar(&opts.Limit, "limit", 0, "stop after N source records")
	fs.IntVar(&opts.BatchSize, "batch-size", 0, "records per batch (overrides batch_size)")
	fs.StringVar(&opts.Since, "since", "", "read from this cursor value on (overrides the saved cursor)")
	fs.StringVar(&opts.Until, "until", "", "skip records whose cursor is after this value; the saved cursor does not move")
	fs.BoolVar(&opts.FullRefresh, "full-refresh", false, "ignore the saved cursor")
	fs.StringVar(&opts.WarehouseURL, "warehouse", "", "warehouse URL (overrides the sink url and ETL_WAREHOUSE_URL)")
	fs.DurationVar(&opts.LockWait, "lock-wait", 10*time.Second, "how long to wait for another run of the pipeline to finish")
	warehouseRetry := fs.Duration("warehouse-retry", 0, "how long to ride out the warehouse going away (overrides warehouse_retry; 0s: fail at once)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file` (go tool pprof reads it)")
	all := fs.Bool("all", false, "run every pipeline of pipelines/ (see runall.go)")
	jobs := fs.Int("j", 1, "with a folder or --all: pipelines run at once")
	applyEnv := envFlags(fs)
	files, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if *all || (len(files) == 1 && isDir(files[0])) {
		return cmdRunAll(ctx, reg, files, *jobs, opts, *logLevel, *logFormat, stdout, stderr)
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "etl run: give exactly one pipeline file, e.g. etl run pipelines/salespro_users.hcl")
		return exitUsage
	}
	if opts.Limit < 0 || opts.BatchSize < 0 || opts.BatchSize > 100000 {
		fmt.Fprintln(stderr, "etl run: --limit must be ≥ 0 and --batch-size between 1 and 100000")
		return exitUsage
	}
	if (opts.Since != "" || opts.Until != "") && opts.FullRefresh {
		fmt.Fprintln(stderr, "etl run: --since/--until and --full-refresh contradict each other; give one")
		return exitUsage
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "warehouse-retry" {
			opts.WarehouseRetry = *warehouseRetry
			if opts.WarehouseRetry <= 0 {
				opts.WarehouseRetry = -1 // 0s: fail at once
			}
		}
	})
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "etl run: %v\n", err)
		return exitUsage
	}
	opts.Logger = log

	loader := engine.NewLoader(reg)
	loader.Strict = !opts.DryRun
	applyEnv(loader)
	p, diags := loader.Load(files[0])
	writeDiagnostics(stderr, diags, loader.Files())
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "etl run: %s is invalid; nothing was run\n", files[0])
		return exitFailed
	}
	if err := p.CheckOptions(opts); err != nil {
		fmt.Fprintf(stderr, "etl run: %v; nothing was run\n", err)
		return exitUsage
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "etl run: --cpuprofile: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	prog := newProgress(stderr, p.Name, log)
	opts.Progress = prog.update
	res, err := p.Run(ctx, reg, opts)
	prog.done()
	if *logFormat == "json" {
		// One JSON event each, so a log collector needs no second parser.
		slog.New(slog.NewJSONHandler(stdout, nil)).Info("run finished", summaryAttrs(res, opts.DryRun)...)
		if err != nil {
			log.Error("run failed", "pipeline", p.Name, "run_id", res.RunID, "error", err.Error())
		}
	} else {
		fmt.Fprintln(stdout, summary(res, opts.DryRun))
		if err != nil {
			fmt.Fprintf(stderr, "etl run: %s failed: %v\n", p.Name, err)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "etl run: warning: %s\n", w)
		}
	}
	if err != nil {
		if engine.IsUsage(err) {
			return exitUsage
		}
		return exitFailed
	}
	if res.Status == engine.StatusPartial {
		return exitPartial
	}
	if len(res.Warnings) > 0 {
		return exitWarning
	}
	return exitOK
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	hopts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// summary is the run's one closing line.
func summary(r *engine.Result, dry bool) string {
	t := r.Tally
	d := r.Duration()
	rate := 0.0
	if d > 0 {
		rate = float64(t.Processed) / d.Seconds()
	}
	status := string(r.Status)
	absent := ""
	if len(r.Absent) > 0 { // the map reads them; their columns landed NULL throughout
		absent = "; absent from every record: " + strings.Join(r.Absent, ", ")
	}
	if dry {
		return fmt.Sprintf("%s (dry run): %s: processed %d (valid %d, rejected %d, skipped %d) in %s, %.0f records/s; nothing written%s",
			status, r.Pipeline, t.Processed, r.Valid, t.Rejected, t.Skipped, d.Round(time.Millisecond), rate, absent)
	}
	parts := []string{nonZero("skipped before cursor", t.Skipped), nonZero("deleted", t.Deleted), nonZero("warned", t.Warned), rejectsSummary(r)}
	names := make([]string, 0, len(r.Counters))
	for name := range r.Counters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		parts = append(parts, nonZero(strings.ReplaceAll(name, "_", " "), r.Counters[name]))
	}
	extra := joinNonEmpty(", ", parts...)
	if extra != "" {
		extra = "; " + extra
	}
	where := r.Target
	if where == "" {
		where = "nowhere"
	}
	run := ""
	if r.RunID > 0 {
		run = fmt.Sprintf(" (run %d)", r.RunID)
	}
	known := ""
	if t.AlreadyRejected > 0 {
		known = fmt.Sprintf(" + already rejected %d", t.AlreadyRejected)
	}
	return fmt.Sprintf("%s: %s%s: processed %d = created %d + updated %d + unchanged %d + rejected %d + failed %d%s%s in %s, %.0f records/s → %s%s",
		status, r.Pipeline, run, t.Processed, t.Created, t.Updated, t.Unchanged, t.Rejected, t.Failed, known, extra,
		d.Round(time.Millisecond), rate, where, absent)
}

// summaryAttrs is the summary as the attributes of a JSON event.
func summaryAttrs(r *engine.Result, dry bool) []any {
	t := r.Tally
	attrs := []any{"pipeline", r.Pipeline, "status", string(r.Status), "dry_run", dry,
		"processed", t.Processed, "created", t.Created, "updated", t.Updated, "unchanged", t.Unchanged,
		"rejected", t.Rejected, "failed", t.Failed, "skipped", t.Skipped, "warned", t.Warned, "deleted", t.Deleted,
		"duration_ms", r.Duration().Milliseconds(), "target", r.Target}
	if r.RunID > 0 {
		attrs = append(attrs, "run_id", r.RunID)
	}
	if dry {
		attrs = append(attrs, "valid", r.Valid)
	}
	if r.Cursor != nil {
		attrs = append(attrs, "cursor", r.Cursor.String())
	}
	if len(r.Absent) > 0 {
		attrs = append(attrs, "absent_fields", r.Absent)
	}
	if len(r.Counters) > 0 {
		attrs = append(attrs, "counters", r.Counters)
	}
	if r.Err != nil {
		attrs = append(attrs, "error", r.Err.Error())
	}
	if len(r.Warnings) > 0 {
		attrs = append(attrs, "warnings", r.Warnings)
	}
	if len(r.Notes) > 0 {
		attrs = append(attrs, "notes", r.Notes)
	}
	return attrs
}

func nonZero(label string, n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%s %d", label, n)
}

// progress shows a live line on a terminal, and a log line every few
// seconds otherwise.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	name     string
	log      *slog.Logger
	last     time.Time
	shown    bool
	interval time.Duration
}

func newProgress(w io.Writer, name string, log *slog.Logger) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	iv := 10 * time.Second
	if tty {
		iv = 200 * time.Millisecond
	}
	return &progress{w: w, tty: tty, name: name, log: log, interval: iv, last: time.Now()}
}

func (p *progress) update(pr engine.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < p.interval {
		return
	}
	p.last = time.Now()
	t := pr.Tally
	rate := 0.0
	if pr.Elapsed > 0 {
		rate = float64(t.Processed) / pr.Elapsed.Seconds()
	}
	eta := ""
	if left, ok := pr.ETA(); ok {
		eta = fmt.Sprintf("  ETA %s (%.0f%%)", left.Round(time.Second), 100*float64(pr.SourceDone)/float64(pr.SourceTotal))
	}
	if p.tty {
		line := fmt.Sprintf("%s: %d records  %.0f/s  %s%s  (rejected %d)", p.name, t.Processed, rate, pr.Elapsed.Round(time.Second), eta, t.Rejected+t.Failed)
		fmt.Fprintf(p.w, "\r%s\033[K", line)
		p.shown = true
		return
	}
	args := []any{"pipeline", p.name, "processed", t.Processed, "rejected", t.Rejected + t.Failed,
		"records_per_second", int64(rate), "elapsed", pr.Elapsed.Round(time.Second).String()}
	if left, ok := pr.ETA(); ok {
		args = append(args, "eta", left.Round(time.Second).String())
	}
	p.log.Info("progress", args...)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
