package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Position locates a record in its source, for rejects and error messages.
// Every field is optional; a source fills what it knows.
type Position struct {
	File string `json:"file,omitempty"` // file the record was read from
	Line int    `json:"line,omitempty"` // 1-based line where the record starts
	Page string `json:"page,omitempty"` // page URL (without secrets) or page number
	Key  string `json:"key,omitempty"`  // the record's key in the source, when known
}

// String renders the position the way error messages print it:
// "users.csv:12", "page 3", "key 42", joined by ", ".
func (p Position) String() string {
	var parts []string
	switch {
	case p.File != "" && p.Line > 0:
		parts = append(parts, p.File+":"+strconv.Itoa(p.Line))
	case p.File != "":
		parts = append(parts, p.File)
	case p.Line > 0:
		parts = append(parts, "line "+strconv.Itoa(p.Line))
	}
	if p.Page != "" {
		parts = append(parts, "page "+p.Page)
	}
	if p.Key != "" {
		parts = append(parts, "key "+p.Key)
	}
	return strings.Join(parts, ", ")
}

// Record is one record read from a source.
//
// Its fields come in one of two forms. Fields holds the values by field
// name. A source whose records all have the same fields (a CSV file's
// header, a query's columns) may instead give Values, in the order of a
// Schema shared by its records: Values[i] is the field Schema.Names()[i].
// That form saves a map per record, the largest part of a record's cost in
// memory and time. Get and Map read either form.
//
// Values are what the source naturally has: string, json.Number, int64,
// float64, bool, time.Time, nil, map[string]any and []any. A source must not
// reuse a Fields map or a Values slice after emitting it: the engine keeps
// records until their batch has landed.
//
// A source that cannot parse a record (a ragged CSV row, invalid UTF-8) still
// emits it, with Err set and Raw holding what it read; the engine rejects that
// record with Err as the reason and goes on.
type Record struct {
	Fields map[string]any
	Values []any   // with Schema, instead of Fields
	Schema *Schema // the names of Values
	Pos    Position
	Raw    string // the record as the source had it (a CSV line); optional
	Err    error  // non-nil: the source could not parse this record
	// InboxID, when not 0, is the record's id in the pipeline's inbox
	// (engine.Inbox): the sink marks it processed with the record's batch.
	InboxID int64
}

// Get returns the field name, and whether the record has it.
func (r *Record) Get(name string) (any, bool) {
	if r.Schema == nil {
		v, ok := r.Fields[name]
		return v, ok
	}
	if i, ok := r.Schema.index[name]; ok && i < len(r.Values) {
		return r.Values[i], true
	}
	return nil, false
}

// Map returns the record's fields by name: Fields itself, or a new map of
// Values (nil when the record has neither).
func (r *Record) Map() map[string]any {
	if r.Schema == nil {
		return r.Fields
	}
	m := make(map[string]any, len(r.Values))
	for i, v := range r.Values {
		if i < len(r.Schema.names) {
			m[r.Schema.names[i]] = v
		}
	}
	return m
}

// Schema names the Values of records that share their fields. When a name
// comes twice (a join's columns), the last value of that name is the
// field, as it would be in a map.
type Schema struct {
	names []string
	index map[string]int
}

// NewSchema returns the schema of records whose Values are named names.
func NewSchema(names []string) *Schema {
	s := &Schema{names: slices.Clone(names), index: make(map[string]int, len(names))}
	for i, n := range names {
		s.index[n] = i
	}
	return s
}

// Names returns the field names, in the order of Values.
func (s *Schema) Names() []string { return slices.Clone(s.names) }

// RawText is the record's raw form for the rejects table: Raw when the source
// kept it, else its fields as JSON.
func (r *Record) RawText() string {
	if r.Raw != "" {
		return r.Raw
	}
	fields := r.Map()
	if fields == nil {
		return ""
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return fmt.Sprintf("%v", fields)
	}
	return string(b)
}

// FieldsJSON is the record's fields as a JSON object, what a replay decodes
// back into a record (DecodeFields); "" when the record has no fields or
// they do not encode.
func (r *Record) FieldsJSON() string {
	fields := r.Map()
	if fields == nil {
		return ""
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return ""
	}
	return string(b)
}

// DecodeFields reads FieldsJSON back into a record's fields: numbers stay
// json.Number (as the JSON sources give them), a time.Time is its RFC 3339
// text, which the date and time functions read alike.
func DecodeFields(s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode the stored fields: %w", err)
	}
	if m == nil {
		return nil, errors.New("decode the stored fields: not a JSON object")
	}
	return m, nil
}

// ReadOptions are what the engine tells a source at the start of a run.
type ReadOptions struct {
	// Since is the inclusive lower bound of the incremental cursor (the saved
	// cursor or --since), or nil for a full load. A source that can filter on
	// it server-side may; the engine filters client-side in any case.
	Since any
	// Location is the pipeline's timezone, for naive date-times.
	Location *time.Location
	// Logger receives the source's own progress and retry messages.
	Logger *slog.Logger
	// Progress, when not nil, may be called by a source that knows how far
	// it has come: done and total in one unit (bytes of a file, records an
	// API reported), total 0 when unknown. It is cheap and safe to call from
	// any goroutine; calling it every few hundred kilobytes is plenty.
	Progress func(done, total int64)
	// Count, when not nil, adds n to the run's counter name: a source's
	// count of something worth a line in the summary that is not a record
	// (characters XML forbids that were removed, zero dates read as null).
	// Counters are kept in the history's performance_metrics. Safe from any
	// goroutine.
	Count func(name string, n int64)
	// State keeps small values from one run to the next for this pipeline
	// (a rotated OAuth refresh token); nil when the warehouse keeps none or
	// in a dry run. Its values are treated as secrets.
	State SourceState
	// Inbox holds the pipeline's delivered records (webhook deliveries);
	// nil when the warehouse keeps none or in a dry run.
	Inbox Inbox
}

// SourceState keeps small string values a source needs from one run to the
// next, per pipeline. Put commits at once, not with a batch: an OAuth
// provider's old refresh token is dead as soon as it hands out a new one.
type SourceState interface {
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	Put(ctx context.Context, key, value string) error
}

// Source reads records from one system.
//
// Read calls emit once per record, in source order, and returns nil when the
// source is exhausted. It stops and returns the error when emit returns one or
// ctx is done. Errors that end the run (an unreadable file, a refused request)
// are returned wrapped with what was being done; errors confined to one
// record are reported through Record.Err instead.
type Source interface {
	Read(ctx context.Context, opts ReadOptions, emit func(Record) error) error
}

// CursorOrdered is implemented by sources that deliver records in ascending
// order of the pipeline's incremental cursor. The engine then saves the cursor
// with every batch; for other sources it saves it only once the whole source
// has been read, so an interrupted run never skips records on the rerun.
type CursorOrdered interface {
	CursorOrdered() bool
}

// FieldLister is implemented by sources that know their field names before
// reading (declared CSV columns, a table's columns). The engine then reports
// `record.<name>` references to unknown fields as validation errors.
type FieldLister interface {
	Fields() []string
}

// Describer is implemented by sources that can say in a few words where they
// read from, without secrets ("csv users/*.csv"). It feeds the sync history's
// endpoint column and the run summary.
type Describer interface {
	Describe() string
}

// ReadPlanner is implemented by sources that can describe, without
// sending it, the first request or query a run with opts would make
// ("GET https://api.hubapi.com/crm/v3/objects/contacts?limit=100", "SELECT …
// WHERE updated_at >= ? ORDER BY …"), secrets left out. `etl plan` shows it.
type ReadPlanner interface {
	PlanRead(opts ReadOptions) string
}

// Closer is implemented by sources that hold resources between runs.
type Closer interface {
	Close() error
}

// PluginContext is what a plugin's constructor may need besides its body.
type PluginContext struct {
	Pipeline string // the pipeline's name
	// Connection is the connection the source block names; nil when none.
	Connection *Connection
	Dir        string    // directory of the pipeline file; relative paths are relative to it
	DefRange   hcl.Range // the block's header, for diagnostics about the block as a whole
	// Expressions compiles expr code with the pipeline's function library.
	Expressions *Expressions
	// Location is the pipeline's timezone, for naive date-times.
	Location *time.Location
}

// SourceFactory builds a Source from the body of its `source "kind" {}` block.
// The body holds only what the engine did not decode itself; decode it with
// gohcl (ctx provides env() and file()) and return diagnostics with the
// narrowest Subject, never a plain error.
type SourceFactory func(body hcl.Body, ctx *hcl.EvalContext, pc PluginContext) (Source, hcl.Diagnostics)
