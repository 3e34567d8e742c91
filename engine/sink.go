package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
	// Deletes (sink deletes) says what a complete full read does with the
	// rows whose key it did not read; MaxDeleteShare bounds it (see Deleter).
	Deletes        DeleteMode
	MaxDeleteShare float64
	// SoftDeletes: the table has DeletedAtColumn (deletes = "soft", or a
	// map deleted expression).
	SoftDeletes bool
	// SchemaChanges is the pipeline's schema_changes: SchemaWiden or
	// SchemaFail ("" is SchemaWiden).
	SchemaChanges string
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
	Pos      Position
	Record   string // the raw record (Record.RawText), masked as the pipeline says
	Check    string // the check or stage that refused it: "validate has_email", "map email", "source", "database"
	Reason   string
	Category RejectCategory
	// Fields is the record's fields as JSON, what `etl rejects replay` runs
	// through the pipeline's current map; empty when the source could not
	// parse the record or the pipeline masks fields (a masked record cannot
	// be replayed: its masked values are gone).
	Fields string
}

// Fingerprint identifies the record of a reject across runs: its position
// (file, line, key — not the page, whose URL may carry a paging token that
// changes from run to run) and its raw record. Sinks keep one unresolved
// reject per pipeline and fingerprint: a record rejected again by a later
// run is recognised as already rejected instead of being stored twice.
func (r Reject) Fingerprint() string {
	h := sha256.New()
	for _, part := range []string{r.Pos.File, strconv.Itoa(r.Pos.Line), r.Pos.Key, r.Record} {
		h.Write([]byte(strconv.Itoa(len(part))))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// RejectCategory says at which stage a record was refused.
type RejectCategory string

// The reject categories.
const (
	// CategorySource: the source could not deliver the record whole (its
	// error says it is the transport's: ErrorCategory returns this).
	CategorySource RejectCategory = "source"
	// CategoryParse: the source could not parse the record (a ragged CSV
	// row, invalid UTF-8, a JSON value that is not an object).
	CategoryParse RejectCategory = "parse"
	// CategoryConversion: a map expression failed or its value does not fit
	// the column's type (int("abc")), or the incremental cursor did not.
	CategoryConversion RejectCategory = "conversion"
	// CategoryValidation: a validate check refused the record, or its key is null.
	CategoryValidation RejectCategory = "validation"
	// CategoryDatabase: the database refused the row.
	CategoryDatabase RejectCategory = "database"
)

// RejectCategories lists the categories in the order of a record's path.
var RejectCategories = []RejectCategory{CategorySource, CategoryParse, CategoryConversion, CategoryValidation, CategoryDatabase}

// ErrorCategory is the category of a record refused with err (Record.Err):
// the category err names when it (or an error it wraps) has a
// RejectCategory() method, else parse.
func ErrorCategory(err error) RejectCategory {
	var c interface{ RejectCategory() RejectCategory }
	if errors.As(err, &c) {
		return c.RejectCategory()
	}
	return CategoryParse
}

// RefusedReject is the reject of row i of b, which the database refused
// with reason: what a sink stores for a refused row. Its record is masked
// and redacted as the run's pipeline says.
func (b Batch) RefusedReject(i int, reason string) Reject {
	r := Reject{Check: "database", Reason: reason, Category: CategoryDatabase}
	if i >= len(b.Origins) || b.Origins[i] == nil {
		if i < len(b.Rows) {
			r.Record = fmt.Sprint(b.Rows[i])
		}
		return r
	}
	rec := b.Origins[i]
	r.Pos = rec.Pos
	if b.pipeline == nil {
		r.Record = rec.RawText()
		if rec.Err == nil {
			r.Fields = rec.FieldsJSON()
		}
		return r
	}
	p := b.pipeline
	r.Record = p.Redact(p.rawRecord(rec))
	r.Reason = p.Redact(reason)
	if rec.Err == nil && len(p.Mask) == 0 {
		r.Fields = p.Redact(rec.FieldsJSON())
	}
	return r
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
	// Tally is the engine's part of the batch's counts (processed, rejected,
	// skipped, warned). When RunID is set, the sink adds the batch's whole
	// tally (Landed) and its Categories to the run's row in the sync
	// history and sets its heartbeat, in the same transaction: an
	// interrupted run shows what it landed, and when it last did.
	Tally Tally
	// Resolve, in a replay, is parallel to Rows: Resolve[i] is the id of
	// the stored reject that Rows[i] came from (0: none). The sink marks
	// the rejects of the rows that land as resolved by RunID, in the same
	// transaction.
	Resolve []int64
	// Inbox holds the inbox ids (Record.InboxID) of the batch's records,
	// landed, rejected or skipped; the sink marks them processed by RunID in
	// the same transaction.
	Inbox []int64

	pipeline *Pipeline // masks and redacts the rows the database refuses
}

// Empty reports whether b has nothing for a sink to do.
func (b Batch) Empty() bool {
	return len(b.Rows) == 0 && len(b.Rejects) == 0 && b.State == nil && b.Tally == (Tally{}) && len(b.Inbox) == 0
}

// Categories counts by category the records b refuses: its rejects and
// refused of its rows that the database refused.
func (b Batch) Categories(refused int) map[RejectCategory]int64 {
	if len(b.Rejects) == 0 && refused == 0 {
		return nil
	}
	m := map[RejectCategory]int64{}
	for _, r := range b.Rejects {
		m[r.Category]++
	}
	if refused > 0 {
		m[CategoryDatabase] += int64(refused)
	}
	return m
}

// Landed is the batch's tally once the sink landed it with counts c: the
// engine's counts with the sink's added, and the rejects the sink found
// already stored moved from rejected and failed to already rejected.
func (b Batch) Landed(c Counts) Tally {
	t := b.Tally
	t.Created = int64(c.Created)
	t.Updated = int64(c.Updated)
	t.Unchanged = int64(c.Unchanged)
	t.Failed = int64(c.Failed)
	t.Rejected -= int64(c.KnownRejected)
	t.AlreadyRejected += int64(c.KnownRejected + c.KnownFailed)
	t.Recovered += int64(c.Resolved)
	return t
}

// Counts is what a sink did with a batch's rows.
type Counts struct {
	Created   int
	Updated   int
	Unchanged int
	// Failed rows were refused by the database even one at a time; the sink
	// stored each in the rejects table with the database's message.
	Failed int
	// KnownRejected of the batch's Rejects, and KnownFailed of the rows the
	// database refused (not in Failed), were already stored as unresolved
	// rejects of the pipeline with the same Fingerprint: the sink updated
	// their reason and last run instead of storing them again.
	KnownRejected, KnownFailed int
	// Resolved rows of the batch's Resolve landed, and their rejects were
	// marked resolved.
	Resolved int
}

// Add sums two counts.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Created + o.Created, c.Updated + o.Updated, c.Unchanged + o.Unchanged, c.Failed + o.Failed,
		c.KnownRejected + o.KnownRejected, c.KnownFailed + o.KnownFailed, c.Resolved + o.Resolved}
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
// Rejected + Failed + AlreadyRejected once the run is over.
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
	// AlreadyRejected records were refused again, as an earlier run refused
	// them: their reject is stored once and counts against no budget again.
	AlreadyRejected int64 `json:"already_rejected"`
	// Recovered records, in a replay, were rejects that now landed.
	Recovered int64 `json:"recovered"`
	// Deleted rows were deleted or marked deleted (sink deletes, map
	// deleted); they are rows of the table, not records read.
	Deleted int64 `json:"deleted"`
}

// Add sums two tallies.
func (t Tally) Add(o Tally) Tally {
	return Tally{t.Processed + o.Processed, t.Created + o.Created, t.Updated + o.Updated, t.Unchanged + o.Unchanged,
		t.Rejected + o.Rejected, t.Failed + o.Failed, t.Skipped + o.Skipped, t.Warned + o.Warned,
		t.AlreadyRejected + o.AlreadyRejected, t.Recovered + o.Recovered, t.Deleted + o.Deleted}
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
	// Mode is what kind of run it is: ModeRun ("" is taken as it), or ModeReplay.
	Mode string
	// Categories counts the records the run refused (new or already
	// rejected) by RejectCategory.
	Categories map[RejectCategory]int64
	// Heartbeat is when the run last committed a batch (zero: never).
	Heartbeat time.Time
	// Environment is the environment the pipeline was loaded for (ETL_ENV,
	// --var-file); "" when none was chosen.
	Environment string
}

// RunMode is r.Mode, RunModeRun when it is unset.
func (r Run) RunMode() string {
	if r.Mode == "" {
		return RunModeRun
	}
	return r.Mode
}

// EncodeCategories is counts by category as the journal keeps them: a
// JSON object, "{}" when there are none.
func EncodeCategories(m map[RejectCategory]int64) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // string keys and integers always encode
	return string(b)
}

// DecodeCategories reads EncodeCategories's text; nil when there are none.
func DecodeCategories(s string) (map[RejectCategory]int64, error) {
	var m map[RejectCategory]int64
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode reject categories: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// The run modes of the sync history.
const (
	RunModeRun    = "run"    // etl run
	RunModeReplay = "replay" // etl rejects replay
)

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
	// "interrupted", their counts as their last batch left them and their
	// last heartbeat (else their start) as their end.
	StartRun(ctx context.Context, r Run) (int64, error)
	// FinishRun stores the run's end: r.Finished, r.Status, r.Tally,
	// r.Categories, r.Error, r.Metrics.
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

// Reconnecting is implemented by warehouses that can ride out their server
// going away mid-run (a restart, a crash, a network cut): a batch is one
// transaction, so its write is retried on a new connection, with backoff,
// for up to the pipeline's warehouse_retry, never landing twice. The run
// records Reconnects in its metrics.
type Reconnecting interface {
	// RetryFor sets how long to keep retrying (≤ 0: fail at once) and where
	// to log each retry.
	RetryFor(d time.Duration, log *slog.Logger)
	// Reconnects is how many retries the warehouse made.
	Reconnects() int
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
