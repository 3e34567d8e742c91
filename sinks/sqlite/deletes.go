package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/etl-dev/etl/engine"
)

// Deletes (see engine.Deleter): the keys a full read brings are recorded,
// after each batch is written, in a table of the run's own,
// etl_seen_<run id>, holding the key columns in their stored form; after a
// complete read one statement deletes (or marks) the target's rows that
// have no seen key, and the table is dropped.

var _ engine.Deleter = (*Warehouse)(nil)

func seenTable(run int64) string { return quote("etl_seen_" + strconv.FormatInt(run, 10)) }

var deletedAt = quote(engine.DeletedAtColumn)

// keyMatch is the condition that row alias a's key equals b's; with b ""
// it compares with parameters ?1, ?2, … offset by first.
func keyMatch(cols []engine.Column, a, b string, first int) string {
	var conds []string
	for i, c := range cols {
		rhs := "?" + strconv.Itoa(first+i)
		if b != "" {
			rhs = b + "." + quote(c.Name)
		}
		conds = append(conds, a+"."+quote(c.Name)+" = "+rhs)
	}
	return strings.Join(conds, " AND ")
}

// encodeKey returns the stored form of a key's values; ok is false when
// one is NULL.
func encodeKey(cols []engine.Column, key []any) ([]any, bool, error) {
	out := make([]any, len(key))
	for i, v := range key {
		if v == nil {
			return nil, false, nil
		}
		e, err := encode(cols[i].Type, v)
		if err != nil {
			return nil, false, fmt.Errorf("key column %s: %w", cols[i].Name, err)
		}
		out[i] = e
	}
	return out, true, nil
}

// hasColumn reports whether table has the column (folded names).
func hasColumn(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table, column string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) WHERE lower(name) = lower(?)`, table, column).Scan(&n)
	return n > 0, err
}

// PrepareDeletes adds _etl_deleted_at to a soft-deleting table.
func (w *Warehouse) PrepareDeletes(ctx context.Context, t engine.Table) error {
	if !t.SoftDeletes {
		return nil
	}
	has, err := hasColumn(ctx, w.db, TableName(t), engine.DeletedAtColumn)
	if err == nil && !has {
		_, err = w.db.ExecContext(ctx, "ALTER TABLE "+quote(TableName(t))+" ADD COLUMN "+deletedAt+" TEXT")
	}
	if err != nil {
		return fmt.Errorf("sink sqlite: add %s to %s: %w", engine.DeletedAtColumn, TableName(t), err)
	}
	return nil
}

// MarkKeys marks m.Deleted rows deleted, clears the mark of m.Live rows,
// and with m.Track records both as seen, in one transaction.
func (w *Warehouse) MarkKeys(ctx context.Context, t engine.Table, m engine.KeyMarks) (int64, error) {
	n, err := w.markKeys(ctx, t, m)
	if err != nil {
		return 0, fmt.Errorf("sink sqlite: %s: %w", TableName(t), err)
	}
	return n, nil
}

func (w *Warehouse) markKeys(ctx context.Context, t engine.Table, m engine.KeyMarks) (int64, error) {
	cols, err := t.KeyColumns()
	if err != nil {
		return 0, err
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	target := quote(TableName(t))
	var marked int64
	each := func(sqlText string, keys [][]any, prefix []any, f func(sql.Result)) error {
		if len(keys) == 0 {
			return nil
		}
		st, err := tx.PrepareContext(ctx, sqlText)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range keys {
			args, ok, err := encodeKey(cols, k)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			res, err := st.ExecContext(ctx, append(append([]any(nil), prefix...), args...)...)
			if err != nil {
				return err
			}
			if f != nil {
				f(res)
			}
		}
		return nil
	}
	if t.SoftDeletes {
		if err := each("UPDATE "+target+" AS t SET "+deletedAt+" = ?1 WHERE "+keyMatch(cols, "t", "", 2)+" AND t."+deletedAt+" IS NULL",
			m.Deleted, []any{formatTime(m.At)}, func(r sql.Result) {
				n, _ := r.RowsAffected()
				marked += n
			}); err != nil {
			return 0, fmt.Errorf("mark deleted rows: %w", err)
		}
		if err := each("UPDATE "+target+" AS t SET "+deletedAt+" = NULL WHERE "+keyMatch(cols, "t", "", 1)+" AND t."+deletedAt+" IS NOT NULL",
			m.Live, nil, nil); err != nil {
			return 0, fmt.Errorf("undo the delete mark of rows read again: %w", err)
		}
	}
	if m.Track {
		var defs, params []string
		for i, c := range cols {
			typ, _ := sqlType(c.Type)
			defs = append(defs, quote(c.Name)+" "+typ)
			params = append(params, "?"+strconv.Itoa(i+1))
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+seenTable(m.RunID)+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return 0, fmt.Errorf("create the table of seen keys: %w", err)
		}
		all := append(append([][]any(nil), m.Live...), m.Deleted...)
		if err := each("INSERT INTO "+seenTable(m.RunID)+" VALUES ("+strings.Join(params, ", ")+")", all, nil, nil); err != nil {
			return 0, fmt.Errorf("record the keys seen: %w", err)
		}
	}
	return marked, tx.Commit()
}

// DeleteUnseen deletes (or marks) the live rows whose key the run did not
// see, unless they are more than maxShare of the live rows.
func (w *Warehouse) DeleteUnseen(ctx context.Context, t engine.Table, run int64, maxShare float64, at time.Time) (engine.DeleteOutcome, error) {
	out, err := w.deleteUnseen(ctx, t, run, maxShare, at)
	if err != nil {
		return engine.DeleteOutcome{}, fmt.Errorf("sink sqlite: %s: %w", TableName(t), err)
	}
	return out, nil
}

func (w *Warehouse) deleteUnseen(ctx context.Context, t engine.Table, run int64, maxShare float64, at time.Time) (engine.DeleteOutcome, error) {
	var out engine.DeleteOutcome
	cols, err := t.KeyColumns()
	if err != nil {
		return out, err
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return out, err
	}
	defer tx.Rollback()
	target := quote(TableName(t))
	live := "1"
	if t.SoftDeletes {
		live = "t." + deletedAt + " IS NULL"
	}
	exists, err := tableExists(ctx, tx, "etl_seen_"+strconv.FormatInt(run, 10))
	if err != nil {
		return out, err
	}
	unseen := "1"
	if exists {
		unseen = "NOT EXISTS (SELECT 1 FROM " + seenTable(run) + " AS s WHERE " + keyMatch(cols, "t", "s", 0) + ")"
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*), coalesce(sum("+unseen+"), 0) FROM "+target+" AS t WHERE "+live).Scan(&out.Rows, &out.Unseen); err != nil {
		return out, fmt.Errorf("count the rows not seen: %w", err)
	}
	if out.Unseen == 0 {
		return out, nil
	}
	if float64(out.Unseen) > maxShare*float64(out.Rows) {
		out.Refused = true
		return out, nil
	}
	var res sql.Result
	if t.Deletes == engine.DeletesHard {
		res, err = tx.ExecContext(ctx, "DELETE FROM "+target+" AS t WHERE "+live+" AND "+unseen)
	} else {
		res, err = tx.ExecContext(ctx, "UPDATE "+target+" AS t SET "+deletedAt+" = ?1 WHERE "+live+" AND "+unseen, formatTime(at))
	}
	if err != nil {
		return out, fmt.Errorf("delete the rows not seen: %w", err)
	}
	out.Deleted, _ = res.RowsAffected()
	return out, tx.Commit()
}

// ForgetSeen drops the run's table of seen keys.
func (w *Warehouse) ForgetSeen(ctx context.Context, t engine.Table, run int64) error {
	_, err := w.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+seenTable(run))
	return err
}

// HasRows reports whether t's table exists and holds a live row.
func (w *Warehouse) HasRows(ctx context.Context, t engine.Table) (bool, error) {
	name := TableName(t)
	var n int
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil || n == 0 {
		return false, err
	}
	soft, err := hasColumn(ctx, w.db, name, engine.DeletedAtColumn)
	if err != nil {
		return false, err
	}
	q := "SELECT EXISTS (SELECT 1 FROM " + quote(name)
	if soft {
		q += " WHERE " + deletedAt + " IS NULL"
	}
	var has bool
	if err := w.db.QueryRowContext(ctx, q+")").Scan(&has); err != nil {
		return false, fmt.Errorf("sink sqlite: look for rows in %s: %w", name, err)
	}
	return has, nil
}
