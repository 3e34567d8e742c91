package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// DeleteMode says what a full read does with the rows whose key it did not
// read (sink deletes = "soft" | "hard").
type DeleteMode string

// The delete modes.
const (
	DeletesNone DeleteMode = ""     // rows deleted in the source stay
	DeletesSoft DeleteMode = "soft" // they are marked: _etl_deleted_at = the time the run noticed
	DeletesHard DeleteMode = "hard" // they are deleted
)

// DeletedAtColumn is the column a soft delete sets. Sinks add it (nullable
// timestamp) to a table whose Table.SoftDeletes is set.
const DeletedAtColumn = "_etl_deleted_at"

// DeletedAttr is the map attribute that says a record is deleted in the
// source (HubSpot archived, a deleted_at column): not a column, a
// condition. Its row lands and is marked deleted.
const DeletedAttr = "deleted"

// DefaultMaxDeleteShare is the largest share of a table a full read may
// delete when the pipeline declares no max_delete_share.
const DefaultMaxDeleteShare = 0.10

// KeyMarks is what one batch says about keys, for deletes: Live rows were
// read and are not deleted, Deleted ones the map's deleted expression marked.
// Each key is the values of Table.Key in order, as in Batch.Rows.
type KeyMarks struct {
	RunID   int64
	Live    [][]any
	Deleted [][]any
	// Track records Live and Deleted as seen by the run (a full read that
	// may delete the keys it did not see at its end).
	Track bool
	At    time.Time // the time a soft delete records
}

// DeleteOutcome is what DeleteUnseen did.
type DeleteOutcome struct {
	Rows    int64 // live rows in the table before (not soft-deleted)
	Unseen  int64 // of them, rows whose key the run did not read
	Deleted int64 // rows deleted or marked; 0 when Refused
	Refused bool  // Unseen was more than the allowed share: nothing deleted
}

// Deleter is implemented by warehouses that carry deletes over from the
// source (sink deletes, map deleted).
type Deleter interface {
	// PrepareDeletes adds DeletedAtColumn to t's table when t.SoftDeletes
	// and it lacks it. Called after Prepare.
	PrepareDeletes(ctx context.Context, t Table) error
	// MarkKeys records a batch's keys (see KeyMarks), after the batch was
	// written: it soft-deletes m.Deleted rows not marked yet, clears the mark
	// of m.Live rows (t.SoftDeletes only), and with m.Track records both as
	// seen by the run. It returns how many rows it newly marked deleted.
	MarkKeys(ctx context.Context, t Table, m KeyMarks) (int64, error)
	// DeleteUnseen ends a complete read: the live rows whose key run did
	// not see are deleted (t.Deletes hard) or marked deleted at at (soft),
	// unless they are more than maxShare of the live rows.
	DeleteUnseen(ctx context.Context, t Table, run int64, maxShare float64, at time.Time) (DeleteOutcome, error)
	// ForgetSeen drops what MarkKeys recorded for run. Safe to call when
	// nothing was recorded.
	ForgetSeen(ctx context.Context, t Table, run int64) error
	// HasRows reports whether t's table exists and holds a row (a live one,
	// when it has DeletedAtColumn).
	HasRows(ctx context.Context, t Table) (bool, error)
}

// parseShare reads max_delete_share: "10%" or a number between 0 and 1.
func parseShare(e hcl.Expression, ctx *hcl.EvalContext) (float64, hcl.Diagnostics) {
	if e == nil {
		return DefaultMaxDeleteShare, nil
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	if v.IsNull() {
		return DefaultMaxDeleteShare, nil
	}
	bad := errorAt(e.Range(), "Invalid max_delete_share",
		`max_delete_share is the largest share of the table one full read may delete: a percentage such as "10%", or a number between 0 and 1.`)
	switch {
	case v.Type() == cty.String:
		s := strings.TrimSpace(v.AsString())
		if !strings.HasSuffix(s, "%") {
			return 0, hcl.Diagnostics{bad}
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
		if err != nil || f < 0 || f > 100 {
			return 0, hcl.Diagnostics{bad}
		}
		return f / 100, nil
	case v.Type() == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if f < 0 || f > 1 {
			return 0, hcl.Diagnostics{bad}
		}
		return f, nil
	}
	return 0, hcl.Diagnostics{bad}
}

// deleteTracker carries a run's deletes: it marks each written batch's
// keys and, after a complete read, deletes the rows not read.
type deleteTracker struct {
	d     Deleter
	t     Table
	run   int64
	track bool // a complete read may delete what it did not see
	at    time.Time
	keys  []int // positions of t.Key in the rows
}

// newDeleteTracker returns nil when the run has no deletes to carry: no
// sink deletes and no map deleted, or a warehouse that cannot.
func (p *Pipeline) newDeleteTracker(ctx context.Context, wh Warehouse, t Table, fullRead bool) (*deleteTracker, error) {
	if wh == nil || (t.Deletes == DeletesNone && !t.SoftDeletes) {
		return nil, nil
	}
	d, ok := wh.(Deleter)
	if !ok {
		return nil, fmt.Errorf("%s cannot carry deletes over (sink deletes, map deleted)", wh.Describe())
	}
	if err := d.PrepareDeletes(ctx, t); err != nil {
		return nil, fmt.Errorf("prepare table %s for deletes: %w", t.QualifiedName(), err)
	}
	dt := &deleteTracker{d: d, t: t, run: t.RunID, track: fullRead && t.Deletes != DeletesNone, at: time.Now().UTC().Truncate(time.Microsecond)}
	for _, k := range t.Key {
		for i, c := range t.Columns {
			if c.Name == k {
				dt.keys = append(dt.keys, i)
			}
		}
	}
	return dt, nil
}

// afterWrite marks the keys of a batch that was written; deleted[i] says
// whether row i was marked deleted by the map (nil: none was).
func (dt *deleteTracker) afterWrite(ctx context.Context, rows [][]any, deleted []bool) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	m := KeyMarks{RunID: dt.run, Track: dt.track, At: dt.at}
	for i, row := range rows {
		key := make([]any, len(dt.keys))
		for j, k := range dt.keys {
			key[j] = row[k]
		}
		if i < len(deleted) && deleted[i] {
			m.Deleted = append(m.Deleted, key)
		} else {
			m.Live = append(m.Live, key)
		}
	}
	if !m.Track && !dt.t.SoftDeletes {
		return 0, nil
	}
	n, err := dt.d.MarkKeys(ctx, dt.t, m)
	if err != nil {
		return 0, fmt.Errorf("mark the keys of a batch for deletes: %w", err)
	}
	return n, nil
}

// compileDeleted compiles the map's deleted condition, over the record and
// the mapped columns like a check; nil when the map has none.
func compileDeleted(comp *compiler, body hcl.Body, ctx *hcl.EvalContext, cols []*MappedColumn, diags hcl.Diagnostics) (*Program, hcl.Diagnostics) {
	attrs, _ := body.JustAttributes()
	a, ok := attrs[DeletedAttr]
	if !ok {
		return nil, diags
	}
	prog, pdiags := comp.compileAttr(DeletedAttr, a.Expr, ctx, comp.rowEnv(cols), []expr.Option{expr.AsBool()})
	diags = append(diags, pdiags...)
	if prog != nil {
		prog.fast = comp.fastCompileCheck(prog.program.Node(), false)
	}
	return prog, diags
}

// buildDeletes decodes the sink's deletes and max_delete_share into t.
func buildDeletes(sc *sinkConfig, attrs hcl.Attributes, t *Table) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if sc.Deletes != nil {
		switch m := DeleteMode(*sc.Deletes); m {
		case DeletesSoft, DeletesHard:
			t.Deletes = m
		default:
			diags = append(diags, errorAt(attrRange(attrs, "deletes", sc.DefRange), "Invalid deletes",
				fmt.Sprintf("deletes is %q; use \"soft\" (mark the rows a full read did not see with %s) or \"hard\" (delete them).%s",
					*sc.Deletes, DeletedAtColumn, didYouMean(*sc.Deletes, []string{"soft", "hard"}))))
		}
		if t.Deletes != DeletesNone && (t.Mode != ModeUpsert || len(sc.Key) == 0) {
			diags = append(diags, errorAt(attrRange(attrs, "deletes", sc.DefRange), "Deletes need an upsert",
				`deletes compares the keys a full read saw with the table's: it needs mode = "upsert" and a key (replace mode rebuilds the table each run anyway).`))
		}
	}
	share, sdiags := parseShare(sc.MaxShare, nil)
	diags = append(diags, sdiags...)
	t.MaxDeleteShare = share
	return diags
}

// forget drops the keys the run recorded as seen.
func (dt *deleteTracker) forget(ctx context.Context, log *slog.Logger) {
	if !dt.track {
		return
	}
	if err := dt.d.ForgetSeen(ctx, dt.t, dt.run); err != nil {
		log.Warn("could not drop the keys this run saw", "table", dt.t.QualifiedName(), "error", err.Error())
	}
}

// finishDeletes ends a run that read and landed everything: after a
// complete full read without rejects it deletes the rows not read (within
// max_delete_share), and a full read of no records where the table holds
// rows is a warning.
func (p *Pipeline) finishDeletes(ctx context.Context, dt *deleteTracker, wh Warehouse, t Table, fullRead bool, res *Result, log *slog.Logger) error {
	if wh == nil || !fullRead {
		return nil
	}
	clean := res.Tally.Rejected+res.Tally.Failed == 0
	if res.Tally.Processed == 0 && res.Tally.Skipped == 0 {
		if d, ok := wh.(Deleter); ok {
			has, err := d.HasRows(ctx, t)
			if err != nil {
				return fmt.Errorf("check the table after a full read of no records: %w", err)
			}
			if has {
				w := fmt.Sprintf("a full read returned no records, but table %s holds rows: is the source empty by mistake?", t.QualifiedName())
				if dt != nil && dt.track {
					w += " Nothing was deleted."
				}
				res.Warnings = append(res.Warnings, w)
				log.Warn(w)
				return nil
			}
		}
	}
	if dt == nil || !dt.track || !clean {
		return nil
	}
	out, err := dt.d.DeleteUnseen(ctx, t, dt.run, t.MaxDeleteShare, dt.at)
	if err != nil {
		return fmt.Errorf("sink %s: delete the rows the source no longer has: %w", t.QualifiedName(), err)
	}
	if out.Refused {
		w := fmt.Sprintf("%d of the %d rows of %s were not in the source (%.1f%%), more than max_delete_share %.1f%%: nothing was deleted; if the source really lost them, raise max_delete_share for one run",
			out.Unseen, out.Rows, t.QualifiedName(), 100*float64(out.Unseen)/float64(max(out.Rows, 1)), 100*t.MaxDeleteShare)
		res.Warnings = append(res.Warnings, w)
		log.Warn(w)
		return nil
	}
	res.Tally.Deleted += out.Deleted
	return nil
}

// KeyColumns returns t's key columns in key order; an error when t has no
// key or names a key column that is not a column.
func (t Table) KeyColumns() ([]Column, error) {
	var out []Column
	for _, k := range t.Key {
		found := false
		for _, c := range t.Columns {
			if c.Name == k {
				out, found = append(out, c), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("key column %q is not a column", k)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the table has no key")
	}
	return out, nil
}
