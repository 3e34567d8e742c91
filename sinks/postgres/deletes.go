package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/etl-dev/etl/engine"
)

// Deletes (see engine.Deleter). The keys a full read brings are recorded,
// after each batch is written, in an UNLOGGED table of the run's own,
// etl_seen_<run id>, with the key columns' types; after a complete read one
// statement deletes (or marks) the target's rows that have no seen key, and
// the table is dropped. This does not depend on which rows a batch sent to
// the target: a row left out as unchanged (by its hash) is seen all the
// same. Soft deletes and their undoing run as the sink's own writes (the
// row-hash edit trigger ignores them: _etl_deleted_at is not hashed); a
// hard delete does not, so the trigger notes it and the next run forgets
// the table's row hashes (a deleted key that comes back must be written).

var _ engine.Deleter = (*Warehouse)(nil)

// seenTable names the table holding the keys run saw.
func seenTable(run int64) string {
	return pgx.Identifier{"etl_seen_" + strconv.FormatInt(run, 10)}.Sanitize()
}

var deletedAt = pgx.Identifier{engine.DeletedAtColumn}.Sanitize()

// keyArrays turns keys (each the values of the key columns) into one
// array per key column, for unnest; a key holding NULL is left out.
func keyArrays(cols []engine.Column, keys [][]any) []any {
	arrays := make([][]any, len(cols))
outer:
	for _, k := range keys {
		for _, v := range k {
			if v == nil {
				continue outer
			}
		}
		for i, v := range k {
			arrays[i] = append(arrays[i], v)
		}
	}
	out := make([]any, len(cols))
	for i := range cols {
		out[i] = arrays[i]
	}
	return out
}

// unnestKeys is `unnest($first::T1[], …) AS k("c1", …)`, the key columns
// at parameters first, first+1, ….
func unnestKeys(cols []engine.Column, first int) string {
	var params, names []string
	for i, c := range cols {
		params = append(params, "$"+strconv.Itoa(first+i)+"::"+wireType(c.Type)+"[]")
		names = append(names, pgx.Identifier{c.Name}.Sanitize())
	}
	return "unnest(" + strings.Join(params, ", ") + ") AS k(" + strings.Join(names, ", ") + ")"
}

// keyMatch is the condition that row alias a's key equals k's.
func keyMatch(cols []engine.Column, a, k string) string {
	var conds []string
	for _, c := range cols {
		n := pgx.Identifier{c.Name}.Sanitize()
		conds = append(conds, a+"."+n+" = "+fromWire(c.Type, k+"."+n))
	}
	return strings.Join(conds, " AND ")
}

// PrepareDeletes adds _etl_deleted_at to a soft-deleting table.
func (w *Warehouse) PrepareDeletes(ctx context.Context, t engine.Table) error {
	if !t.SoftDeletes {
		return nil
	}
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "ALTER TABLE "+ident(t, t.Name).Sanitize()+" ADD COLUMN IF NOT EXISTS "+deletedAt+" timestamptz")
		return err
	})
	if err != nil {
		return fmt.Errorf("sink postgres: add %s to %s: %w", engine.DeletedAtColumn, t.QualifiedName(), err)
	}
	return nil
}

// MarkKeys marks m.Deleted rows deleted, clears the mark of m.Live rows,
// and with m.Track records both as seen, in one transaction.
func (w *Warehouse) MarkKeys(ctx context.Context, t engine.Table, m engine.KeyMarks) (int64, error) {
	cols, err := t.KeyColumns()
	if err != nil {
		return 0, err
	}
	target := ident(t, t.Name).Sanitize()
	var marked int64
	err = w.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sinkWriteSQL); err != nil {
				return err
			}
			if t.SoftDeletes && len(m.Deleted) > 0 {
				args := append([]any{m.At}, keyArrays(cols, m.Deleted)...)
				tag, err := tx.Exec(ctx, "UPDATE "+target+" AS t SET "+deletedAt+" = $1 FROM "+unnestKeys(cols, 2)+
					" WHERE "+keyMatch(cols, "t", "k")+" AND t."+deletedAt+" IS NULL", args...)
				if err != nil {
					return fmt.Errorf("mark deleted rows: %w", err)
				}
				marked = tag.RowsAffected()
			}
			if t.SoftDeletes && len(m.Live) > 0 {
				if _, err := tx.Exec(ctx, "UPDATE "+target+" AS t SET "+deletedAt+" = NULL FROM "+unnestKeys(cols, 1)+
					" WHERE "+keyMatch(cols, "t", "k")+" AND t."+deletedAt+" IS NOT NULL", keyArrays(cols, m.Live)...); err != nil {
					return fmt.Errorf("undo the delete mark of rows read again: %w", err)
				}
			}
			if !m.Track {
				return nil
			}
			var defs []string
			for _, c := range cols {
				defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" "+sqlType[c.Type])
			}
			if _, err := tx.Exec(ctx, "CREATE UNLOGGED TABLE IF NOT EXISTS "+seenTable(m.RunID)+" ("+strings.Join(defs, ", ")+")"); err != nil {
				return fmt.Errorf("create the table of seen keys: %w", err)
			}
			all := append(append([][]any(nil), m.Live...), m.Deleted...)
			var sel []string
			for _, c := range cols {
				sel = append(sel, fromWire(c.Type, "k."+pgx.Identifier{c.Name}.Sanitize()))
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+seenTable(m.RunID)+" SELECT "+strings.Join(sel, ", ")+" FROM "+unnestKeys(cols, 1), keyArrays(cols, all)...); err != nil {
				return fmt.Errorf("record the keys seen: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("sink postgres: %s: %w", t.QualifiedName(), err)
	}
	return marked, nil
}

// DeleteUnseen deletes (or marks) the live rows whose key the run did not
// see, unless they are more than maxShare of the live rows.
func (w *Warehouse) DeleteUnseen(ctx context.Context, t engine.Table, run int64, maxShare float64, at time.Time) (engine.DeleteOutcome, error) {
	var out engine.DeleteOutcome
	cols, err := t.KeyColumns()
	if err != nil {
		return out, err
	}
	target := ident(t, t.Name).Sanitize()
	live := "TRUE"
	if t.SoftDeletes {
		live = "t." + deletedAt + " IS NULL"
	}
	err = w.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, seenTable(run)).Scan(&exists); err != nil {
				return err
			}
			unseen := "TRUE"
			if exists {
				unseen = "NOT EXISTS (SELECT 1 FROM " + seenTable(run) + " AS s WHERE " + keyMatch(cols, "t", "s") + ")"
			}
			if err := tx.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE "+unseen+") FROM "+target+" AS t WHERE "+live).Scan(&out.Rows, &out.Unseen); err != nil {
				return fmt.Errorf("count the rows not seen: %w", err)
			}
			if out.Unseen == 0 {
				return nil
			}
			if float64(out.Unseen) > maxShare*float64(out.Rows) {
				out.Refused = true
				return nil
			}
			var tag pgconn.CommandTag
			var err error
			if t.Deletes == engine.DeletesHard {
				tag, err = tx.Exec(ctx, "DELETE FROM "+target+" AS t WHERE "+live+" AND "+unseen)
			} else {
				if _, err = tx.Exec(ctx, sinkWriteSQL); err == nil {
					tag, err = tx.Exec(ctx, "UPDATE "+target+" AS t SET "+deletedAt+" = $1 WHERE "+live+" AND "+unseen, at)
				}
			}
			if err != nil {
				return fmt.Errorf("delete the rows not seen: %w", err)
			}
			out.Deleted = tag.RowsAffected()
			return nil
		})
	})
	if err != nil {
		return engine.DeleteOutcome{}, fmt.Errorf("sink postgres: %s: %w", t.QualifiedName(), err)
	}
	return out, nil
}

// ForgetSeen drops the run's table of seen keys.
func (w *Warehouse) ForgetSeen(ctx context.Context, t engine.Table, run int64) error {
	return w.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DROP TABLE IF EXISTS "+seenTable(run))
		return err
	})
}

// HasRows reports whether t's target exists and holds a live row.
func (w *Warehouse) HasRows(ctx context.Context, t engine.Table) (bool, error) {
	target := ident(t, t.Name).Sanitize()
	var has bool
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		var exists, soft bool
		if err := c.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL,
			EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped)`,
			target, engine.DeletedAtColumn).Scan(&exists, &soft); err != nil || !exists {
			return err
		}
		q := "SELECT EXISTS (SELECT 1 FROM " + target
		if soft {
			q += " WHERE " + deletedAt + " IS NULL"
		}
		return c.QueryRow(ctx, q+")").Scan(&has)
	})
	if err != nil {
		return false, fmt.Errorf("sink postgres: look for rows in %s: %w", t.QualifiedName(), err)
	}
	return has, nil
}
