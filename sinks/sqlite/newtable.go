package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/etl-dev/etl/engine"
)

var _ engine.NewTableDropper = (*Warehouse)(nil)

// tableExists reports whether the table exists.
func tableExists(ctx context.Context, tx *sql.Tx, name string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}

// noteNew remembers whether Prepare created t's table.
func (w *Warehouse) noteNew(t engine.Table, created bool) {
	if created && t.Mode != engine.ModeReplace {
		w.newTables.Store(TableName(t), true)
	} else {
		w.newTables.Delete(TableName(t))
	}
}

// DropIfNew drops t's table when this Warehouse's Prepare created it and
// it holds no rows.
func (w *Warehouse) DropIfNew(ctx context.Context, t engine.Table) (bool, error) {
	name := TableName(t)
	if _, ok := w.newTables.LoadAndDelete(name); !ok {
		return false, nil
	}
	dropped, err := w.dropIfEmpty(ctx, name)
	if err != nil {
		return false, fmt.Errorf("sink sqlite: drop the table %s this run created: %w", name, err)
	}
	return dropped, nil
}

func (w *Warehouse) dropIfEmpty(ctx context.Context, name string) (bool, error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var rows bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(name)+")").Scan(&rows); err != nil || rows {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE "+quote(name)); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
