package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/etl-dev/etl/engine"
)

var _ engine.NewTableDropper = (*Warehouse)(nil)

// targetExists reports whether t's target table exists.
func targetExists(ctx context.Context, tx pgx.Tx, t engine.Table) (bool, error) {
	var exists bool
	err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, ident(t, t.Name).Sanitize()).Scan(&exists)
	return exists, err
}

// noteNew remembers whether Prepare created t's target (replace mode
// creates only its new table, which Finish drops on failure).
func (w *Warehouse) noteNew(t engine.Table, created bool) {
	key := ident(t, t.Name).Sanitize()
	if created && t.Mode != engine.ModeReplace {
		w.newTables.Store(key, true)
	} else {
		w.newTables.Delete(key)
	}
}

// DropIfNew drops t's target when this Warehouse's Prepare created it and
// it holds no rows (under an exclusive lock, so no concurrent writer's row
// is lost).
func (w *Warehouse) DropIfNew(ctx context.Context, t engine.Table) (bool, error) {
	key := ident(t, t.Name).Sanitize()
	if _, ok := w.newTables.LoadAndDelete(key); !ok {
		return false, nil
	}
	dropped := false
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "LOCK TABLE "+key+" IN ACCESS EXCLUSIVE MODE"); err != nil {
				return err
			}
			var empty bool
			if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+key+")").Scan(&empty); err != nil || !empty {
				return err
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+key); err != nil {
				return err
			}
			dropped = true
			return nil
		})
	})
	if err != nil {
		return false, fmt.Errorf("sink postgres: drop the table %s this run created: %w", t.QualifiedName(), err)
	}
	return dropped, nil
}
