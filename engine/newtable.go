package engine

import "context"

// NewTableDropper is implemented by warehouses that can take back a table
// their Prepare created: a run that fails before any row landed leaves
// nothing new behind.
type NewTableDropper interface {
	// DropIfNew drops t's table when this warehouse's Prepare created it
	// (it did not exist before) and it holds no rows; dropped says whether
	// it did. Replace mode has nothing to drop here: Finish drops its new
	// table.
	DropIfNew(ctx context.Context, t Table) (dropped bool, err error)
}
