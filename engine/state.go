package engine

import (
	"context"
	"time"
)

// SavedState is a pipeline's saved incremental cursor, with when and by
// which run it was saved.
type SavedState struct {
	Pipeline string
	Cursor   Cursor
	Kind     string    // as stored: CursorTime, CursorInt, CursorFloat or CursorString
	RunID    int64     // the run that saved it; 0 when set by hand (etl state set)
	Saved    time.Time // when it was saved
}

// StateEditor is implemented by journals whose saved cursors can be listed
// and changed by hand (etl state).
type StateEditor interface {
	// States lists the saved cursors by pipeline name; pipeline "" lists
	// them all.
	States(ctx context.Context, pipeline string) ([]SavedState, error)
	// SetState saves c as the pipeline's cursor, recorded as set by hand
	// (no run).
	SetState(ctx context.Context, pipeline string, c Cursor) error
	// ResetState forgets the pipeline's cursor, so its next run reads
	// everything; false when there was none.
	ResetState(ctx context.Context, pipeline string) (bool, error)
}
