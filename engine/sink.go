package engine

import (
	"context"
	"errors"
	"time"
)

// ColumnType is a warehouse column type, portable across sinks.
type ColumnType string

// The column types. Each sink maps them to its own SQL types. The engine
// converts every value to the Go type listed before handing it to a sink.
const (
	TypeText      ColumnType = "text"      // string
	TypeInteger   ColumnType = "integer"   // int64
	TypeFloat     ColumnType = "float"     // float64
	TypeBoolean   ColumnType = "boolean"   // bool
	TypeTimestamp ColumnType = "timestamp" // time.Time (an instant)
	TypeDate      ColumnType = "date"      // time.Time at 00:00 UTC of the date
	TypeDecimal   ColumnType = "decimal"   // string holding an exact decimal, e.g. "-12.50"
	TypeJSON      ColumnType = "json"      // string holding JSON text
)

// Column is one target column.
type Column struct {
	Name string
	Type ColumnType
}

// Mode says how a sink lands rows.
type Mode string

// The load modes.
const (
	// ModeUpsert inserts new keys and updates changed rows; unchanged rows are
	// left alone and counted as unchanged.
	ModeUpsert Mode = "upsert"
	// ModeAppend inserts every row; every row counts as created.
	ModeAppend Mode = "append"
	// ModeReplace loads into a new table and swaps it in for the target when
	// the run finishes; a failed run leaves the old table untouched.
	ModeReplace Mode = "replace"
)

// Table describes the target of one run.
type Table struct {
	Schema  string   // may be empty: the sink's default schema
	Name    string   // the table's name, never quoted by the caller
	Columns []Column // in declaration order
	Key     []string // column names; required for upsert
	Mode    Mode
	RunID   int64 // the run loading it (replace mode names its new table after it)
	// VerifyUnchanged (sink verify_unchanged = true) makes an upsert compare
	// every row with the stored one, never skipping a row as unchanged by the
	// hash the sink kept of what it last wrote.
	VerifyUnchanged bool
}

// QualifiedName is "schema.name", or "name" without a schema, unquoted; for
// messages only — sinks quote each part themselves.
func (t Table) QualifiedName() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// Reject is one record that did not land, with why and where it came from.
type Reject struct {
	Pos    Position
	Record string // the raw record (Record.RawText)
	Check  string // the check or stage that refused it: "validate has_email", "map email", "source", "database"
	Reason string
}

// Batch is what one Write lands atomically.
type Batch struct {
	RunID    int64
	Pipeline string
	// Rows holds the values of each row in Table.Columns order, converted to
	// the Go types of the column types; nil is NULL.
	Rows [][]any
	// Origins[i] is the source record of Rows[i]; the sink uses it to reject a
	// row the database refuses (Origins[i].Pos and RawText()).
	Origins []*Record
	// Rejects are records the engine refused; the sink stores them with the
	// rows, in the same transaction.
	Rejects []Reject
	// State, when non-nil, is saved as the pipeline's cursor in the same
	// transaction as the rows.
	State *Cursor
}

// Counts is what a sink did with a batch's rows.
type Counts struct {
	Created   int
	Updated   int
	Unchanged int
	// Failed rows were refused by the database even one at a time; the sink
	// stored each in the rejects table with the database's message.
	Failed int
}

// Add sums two counts.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Created + o.Created, c.Updated + o.Updated, c.Unchanged + o.Unchanged, c.Failed + o.Failed}
}

// Sink lands batches in a warehouse table.
type Sink interface {
	// Prepare creates the target's schema and table when missing and checks
	// that an existing table has the columns (adding missing ones). In
	// replace mode it creates the new table that Finish swaps in.
	Prepare(ctx context.Context, t Table) error
	// Write lands b's rows into t (as t.Mode says), stores b's rejects, and
	// saves b.State, all in one transaction. When the database refuses the
	// batch as a whole, Write retries it row by row: refused rows become
	// rejects with the database's message (Counts.Failed) and the rest land.
	// An error means nothing of b was committed.
	Write(ctx context.Context, t Table, b Batch) (Counts, error)
	// Finish ends the load of t. With ok, replace mode swaps the new table in
	// atomically; without, it drops the new table and leaves the target as
	// it was.
	Finish(ctx context.Context, t Table, ok bool) error
}

// Status is a run's state in the sync history.
type Status string

// The run statuses.
const (
	StatusRunning Status = "running"
	StatusSuccess Status = "success"
	StatusPartial Status = "partial" // finished, but some records were rejected or failed
	StatusFailed  Status = "failed"
)

// Tally counts a run's records. Processed = Created + Updated + Unchanged +
// Rejected + Failed once the run is over.
type Tally struct {
	Processed int64 `json:"processed"`
	Created   int64 `json:"created"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Rejected  int64 `json:"rejected"`
	Failed    int64 `json:"failed"`
	// Skipped records were before the incremental cursor; not processed.
	Skipped int64 `json:"skipped"`
	// Warned records failed a warn check but landed.
	Warned int64 `json:"warned"`
}

// Run is one row of the sync history.
type Run struct {
	ID       int64
	Pipeline string
	System   string
	Entity   string
	Endpoint string // where the source read from, without secrets
	Started  time.Time
	Finished time.Time // zero while running
	Status   Status
	Tally    Tally
	Error    string
	Config   string         // the pipeline's configuration, secrets redacted
	Metrics  map[string]any // duration, rate, batches, …
}

// HistoryFilter selects runs for Journal.Runs.
type HistoryFilter struct {
	Pipeline string // empty: every pipeline
	Limit    int    // newest first; 0: a default of 20
}

// ErrLocked is returned by Journal.Lock when another run of the pipeline holds the lock.
var ErrLocked = errors.New("another run of this pipeline is in progress")

// Journal keeps the engine's own tables (migrations/): sync history, state and rejects.
type Journal interface {
	// Migrate applies the engine's migrations; it is idempotent and safe when
	// two processes call it at once.
	Migrate(ctx context.Context) error
	// Lock takes the pipeline's run lock without waiting: ErrLocked when
	// another process holds it. The lock dies with the process.
	Lock(ctx context.Context, pipeline string) (unlock func() error, err error)
	// StartRun records a new running run (r.ID is ignored) and returns its
	// id. Runs of r.Pipeline still marked running (their process died; the
	// caller holds the lock) are first marked failed with the error
	// "interrupted".
	StartRun(ctx context.Context, r Run) (int64, error)
	// FinishRun stores the run's end: r.Finished, r.Status, r.Tally, r.Error, r.Metrics.
	FinishRun(ctx context.Context, r Run) error
	// State returns the pipeline's saved cursor, or nil when there is none.
	State(ctx context.Context, pipeline string) (*Cursor, error)
	// Runs lists runs, newest first.
	Runs(ctx context.Context, f HistoryFilter) ([]Run, error)
}

// Warehouse is an opened sink database: it lands rows and keeps the journal.
type Warehouse interface {
	Sink
	Journal
	// Describe names the warehouse without secrets ("postgres 127.0.0.1:5432/test", "sqlite etl.db").
	Describe() string
	Close() error
}

// TableNamer is implemented by warehouses that store a Table under another
// name than its QualifiedName (SQLite has no schemas: hubspot.contacts is
// the table hubspot__contacts). Summaries and messages then use that name.
type TableNamer interface {
	TableName(t Table) string
}

// TablePlanner is implemented by warehouses that can tell, changing
// nothing, which statements Prepare would run for t: none when the table
// exists and matches. `etl plan` shows them.
type TablePlanner interface {
	PlanTable(ctx context.Context, t Table) ([]string, error)
}

// SourceStateStore is implemented by warehouses that keep SourceState
// (the etl_source_state table).
type SourceStateStore interface {
	SourceState(pipeline string) SourceState
}

// SinkDriver opens warehouses for the URL schemes it serves.
type SinkDriver struct {
	Name    string   // "postgres", "sqlite"
	Schemes []string // URL schemes: "postgres", "postgresql"; "sqlite", "file"
	// Open connects to the warehouse at url. It does not migrate.
	Open func(ctx context.Context, url string) (Warehouse, error)
	// Inspect, when set, opens the warehouse for etl plan without creating
	// anything (an SQLite file that does not exist yet); nil: Open serves.
	Inspect func(ctx context.Context, url string) (Warehouse, error)
}
