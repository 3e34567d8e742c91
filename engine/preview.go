package engine

import (
	"context"
	"errors"
	"log/slog"
)

// Outcome is what a pipeline's map and checks make of one source record,
// without any warehouse: the mapped row, or why it was rejected.
type Outcome struct {
	Pos      Position
	Row      map[string]any // column → value as it would land; nil when rejected or skipped
	Reject   *Reject        // why the record was rejected; nil otherwise
	Skipped  bool           // before the incremental cursor (RunOptions.Since)
	Warnings []string       // names of the warn checks it failed
}

// Preview reads the source and runs map, cursor and checks on each record
// as Run would, calling fn with each outcome in source order. It opens no
// warehouse and writes nothing. An abort check that fails ends it with an
// error, as in a run.
func (p *Pipeline) Preview(ctx context.Context, opts RunOptions, fn func(Outcome) error) error {
	since, until, err := p.window(opts)
	if err != nil {
		return err
	}
	tr := newTransformer(p, since)
	tr.until = until
	n := 0
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	err = p.Source.Read(ctx, ReadOptions{Since: since, Location: p.Location, Logger: p.redactLogger(log)}, func(rec Record) error {
		if opts.Limit > 0 && n >= opts.Limit {
			return errLimit
		}
		n++
		o, err := tr.outcome(&rec)
		if err != nil {
			return err
		}
		return fn(o)
	})
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// Transform runs map and checks on the given records, with no source and
// no warehouse (for `etl test`). An abort check that fails is an error.
func (p *Pipeline) Transform(records []Record) ([]Outcome, error) {
	tr := newTransformer(p, nil)
	out := make([]Outcome, 0, len(records))
	for i := range records {
		o, err := tr.outcome(&records[i])
		if err != nil {
			return out, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (t *transformer) outcome(rec *Record) (Outcome, error) {
	row := make([]any, len(t.p.Columns))
	r, err := t.apply(rec, row)
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{Pos: rec.Pos}
	switch r.out {
	case outSkip:
		o.Skipped = true
	case outReject:
		rej := r.reject
		o.Reject = &rej
	default:
		o.Row = make(map[string]any, len(row))
		for i, c := range t.p.Columns {
			o.Row[c.Name] = row[i]
		}
		for _, c := range r.warns {
			o.Warnings = append(o.Warnings, c.Name)
		}
	}
	return o, nil
}
