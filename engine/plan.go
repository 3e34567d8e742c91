package engine

import (
	"context"
)

// Plan is what a run would do, worked out without doing it.
type Plan struct {
	Source      string   // where it reads (Describer), secrets left out
	FirstRead   string   // the first request or query (ReadPlanner); empty when the source cannot say
	Cursor      *Cursor  // the saved cursor the run would start from; nil: a full read
	CursorFrom  string   // "saved", "--since", "--full-refresh" or "none"
	Warehouse   string   // the warehouse, without secrets
	Table       string   // the target as the warehouse names it
	Mode        Mode     //
	Key         []string //
	Columns     []*MappedColumn
	Checks      []*Check
	DDL         []string // statements Prepare would run; nil with DDLKnown: none needed
	DDLKnown    bool     // false when the warehouse cannot tell (no TablePlanner) or is unreachable
	DDLNote     string   // why the DDL is unknown
	Incremental bool
}

// Plan works out what Run with opts would do: the source and its first
// read, the cursor it would start from, each target column with its type
// and expression, the checks, and the DDL the warehouse would apply. It
// writes nothing and migrates nothing; it reads the saved cursor and the
// table's shape when the warehouse is reachable, and says so when it is not.
func (p *Pipeline) Plan(ctx context.Context, reg *Registry, opts RunOptions) (*Plan, error) {
	sinceOpt, _, err := p.window(opts)
	if err != nil {
		return nil, err
	}
	pl := &Plan{
		Source:      p.describeSource(),
		Mode:        p.Sink.Table.Mode,
		Key:         p.Sink.Table.Key,
		Columns:     p.Columns,
		Checks:      p.Checks,
		Table:       p.Sink.Table.QualifiedName(),
		Incremental: p.Cursor != nil,
		CursorFrom:  "none",
	}
	u := p.WarehouseURL(opts.Getenv)
	if opts.WarehouseURL != "" {
		u = opts.WarehouseURL
	}
	wh, err := reg.InspectWarehouse(ctx, p.Sink.Kind, u)
	if err != nil {
		pl.Warehouse = p.Redact(u)
		pl.DDLNote = p.Redact(err.Error())
	} else {
		defer wh.Close()
		pl.Warehouse = wh.Describe()
		if tn, ok := wh.(TableNamer); ok {
			pl.Table = tn.TableName(p.Sink.Table)
		}
	}

	var since any
	switch {
	case p.Cursor == nil:
	case sinceOpt != nil:
		since, pl.CursorFrom = sinceOpt, "--since"
	case opts.FullRefresh:
		pl.CursorFrom = "--full-refresh"
	case wh != nil:
		// Plan migrates nothing: before the first run there are no engine
		// tables, and so no saved cursor.
		if c, err := wh.State(ctx, p.Name); err == nil && c != nil {
			since, pl.CursorFrom = c.Value, "saved"
		}
	}
	if since != nil {
		pl.Cursor = &Cursor{Value: since}
	}
	if rp, ok := p.Source.(ReadPlanner); ok {
		pl.FirstRead = p.Redact(rp.PlanRead(ReadOptions{Since: since, Location: p.Location}))
	}
	if wh != nil {
		tp, ok := wh.(TablePlanner)
		if !ok {
			pl.DDLNote = "this warehouse cannot plan its DDL"
			return pl, nil
		}
		ddl, err := tp.PlanTable(ctx, p.Sink.Table)
		if err != nil {
			pl.DDLNote = p.Redact(err.Error())
			return pl, nil
		}
		pl.DDL, pl.DDLKnown = ddl, true
	}
	return pl, nil
}
