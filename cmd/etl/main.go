// Command etl runs declarative ETL pipelines: each pipelines/*.hcl file
// declares a source, field mappings and checks written in expr-lang, and a
// warehouse sink.
//
//	etl validate [FILE|DIR]...      check pipeline files; exit 1 when any is invalid
//	etl run FILE [flags]            run one pipeline
//	etl plan FILE                   what run would do, without doing it
//	etl history [flags]             show recent runs
//	etl state [reset|set] [NAME]    show or change saved cursors
//	etl rejects [replay] [flags]    list stored rejects, or replay them
//	etl test [FILE|DIR]...          run pipelines' test cases
//	etl fmt [-check] [FILE|DIR]...  format pipeline files
//	etl serve [DIR] [flags]         run every pipeline on its schedule (River)
//	etl list [DIR]                  every pipeline, its schedule, last and next run
//	etl trigger NAME                queue a run for etl serve
//
// Run `etl help` for the flags of each command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sinks/postgres"
	"github.com/etl-dev/etl/sinks/sqlite"
	"github.com/etl-dev/etl/sources/csv"
	"github.com/etl-dev/etl/sources/mysql"
	"github.com/etl-dev/etl/sources/odata"
	"github.com/etl-dev/etl/sources/rest"
	"github.com/etl-dev/etl/sources/webhook"
	xmlsource "github.com/etl-dev/etl/sources/xml"
)

// Exit codes.
const (
	exitOK      = 0 // success; validate: every file is valid
	exitFailed  = 1 // the run failed; validate: a file is invalid
	exitUsage   = 2 // bad command line
	exitPartial = 3 // the run finished, but some records were rejected or failed
	exitWarning = 4 // the run succeeded, but warns of something to look at (Result.Warnings)
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// tuneGC trades memory the run does not need for CPU it does: a run's live
// heap is the records of a few batches in flight, in proportion to
// batch_size (about 40 MB at 10,000 in the MySQL benchmark, by gctrace; the
// CSV bench peaks at 56 MB RSS at the default 2000), so the collector may
// let the heap grow 3× between cycles (GOGC=200) rather than 2×. There is no
// memory limit: one set below a large pipeline's live heap would make the
// collector run without pause. GOGC or GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}

// newRegistry wires every source and sink this program knows.
func newRegistry() *engine.Registry {
	r := engine.NewRegistry()
	csv.Register(r)
	mysql.Register(r)
	rest.Register(r)
	odata.Register(r)
	xmlsource.Register(r)
	webhook.Register(r)
	postgres.Register(r)
	sqlite.Register(r)
	return r
}

// Main runs the etl command line and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	reg := newRegistry()
	switch args[0] {
	case "validate":
		return cmdValidate(reg, args[1:], stdout, stderr)
	case "run":
		return cmdRun(ctx, reg, args[1:], stdout, stderr)
	case "history":
		return cmdHistory(ctx, reg, args[1:], stdout, stderr)
	case "test":
		return cmdTest(reg, args[1:], stdout, stderr)
	case "fmt":
		return cmdFmt(args[1:], stdout, stderr)
	case "plan":
		return cmdPlan(ctx, reg, args[1:], stdout, stderr)
	case "state":
		return cmdState(ctx, reg, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, version(debug.ReadBuildInfo()))
		return exitOK
	case "serve":
		return cmdServe(ctx, reg, args[1:], stdout, stderr)
	case "list":
		return cmdList(ctx, reg, args[1:], stdout, stderr)
	case "trigger":
		return cmdTrigger(ctx, reg, args[1:], stdout, stderr)
	case "rejects":
		return cmdRejects(ctx, reg, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "etl: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `etl: declarative ETL pipelines

Usage:
  etl validate [--format text|json] [FILE|DIR]...   check pipeline files (default: pipelines/)
  etl run FILE [flags]                              run one pipeline
      --dry-run          read, map and check; write nothing
      --limit N          stop after N source records
      --batch-size N     records per batch (overrides batch_size)
      --since VALUE      read records from this cursor value on (overrides the saved cursor);
                         a date or timestamp, an integer or text, as the cursor's type says
      --until VALUE      skip records whose cursor is after VALUE (a backfill window); the
                         saved cursor does not move
      --full-refresh     ignore the saved cursor and read everything
      --warehouse URL    land in this warehouse (overrides the sink url and ETL_WAREHOUSE_URL)
      --lock-wait D      wait this long for another run of the pipeline to finish (default 10s)
      --warehouse-retry D  ride out the warehouse going away this long (overrides warehouse_retry)
      --log-level LEVEL  debug, info, warn or error
      --log-format FMT   text or json
  etl plan FILE [--since VALUE] [--full-refresh] [--warehouse URL]
                                                    what run would do: source, cursor, columns, checks, DDL
  etl history [--pipeline NAME] [--limit N] [--format table|json] [--warehouse URL]
  etl state [NAME|FILE] [--format table|json] [--warehouse URL]
                                                    saved cursors: value, type, when and by which run
  etl state reset NAME|FILE [--yes]                 forget a cursor: the next run reads everything
  etl state set NAME|FILE VALUE [--yes]             set a cursor (VALUE checked against its type)
  etl rejects [NAME|FILE] [--pipeline NAME] [--run N] [--check C] [--category K] [--all] [--limit N]
              [--format table|json] [--warehouse URL]
                                                    stored rejects: category, check, reason, where, masked record
  etl rejects replay [FILE|DIR]... [--pipeline NAME] [--run N] [--warehouse URL]
                                                    run the unresolved rejects through the pipelines' current
                                                    map and checks; land and resolve those that pass
  etl test [-v] [FILE|DIR]...                       run the *.test.hcl cases beside pipelines (default: pipelines/)
  etl fmt [-check] [FILE|DIR]...                    rewrite files in canonical HCL layout (-check: list, exit 1)
  etl run DIR | --all [-j N] [--warehouse URL]      run every pipeline of a folder (default pipelines/), in depends_on order
  etl serve [DIR] [--listen ADDR] [--workers N] [--warehouse URL] [--rescue-after D] [--grace D]
            [--auth-token-env VAR | --auth-token-file F] [--basic-auth-env VAR | --basic-auth-file F]
                                                    run every enabled pipeline on its schedule; HTTP: /, /metrics, /healthz, /readyz
  etl list [DIR] [--warehouse URL]                  every pipeline: schedule, enabled, last run, next run
  etl trigger NAME [--dir DIR] [--warehouse URL]    queue a run now; an etl serve on the warehouse works it

  etl --version                                     the module version and VCS revision of this build

Exit codes: 0 success, 1 failure (validate: invalid files), 2 usage, 3 partial run,
4 success with a warning (a full read of no records while the table holds rows; deletes
refused by max_delete_share).
The warehouse is the sink's url, else ETL_WAREHOUSE_URL, else the SQLite file etl.db here.
`)
}

// parseArgs parses flags wherever they stand among the positional
// arguments (`etl run FILE --dry-run` and `etl run --dry-run FILE` alike).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("etl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func isUsage(err error) bool { return err != nil && !errors.Is(err, flag.ErrHelp) }

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
