package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// StoredReject is a reject as the journal keeps it (etl_rejects).
type StoredReject struct {
	ID       int64
	Pipeline string
	RunID    int64 // the run that first rejected the record
	// LastRunID is the last run that rejected it: a later run that meets
	// the same record again (same Fingerprint) updates it.
	LastRunID int64
	Created   time.Time
	Reject
	// ResolvedAt is when a replay landed the record (zero: unresolved), by
	// run ResolvedBy.
	ResolvedAt time.Time
	ResolvedBy int64
}

// RejectFilter selects stored rejects, oldest first.
type RejectFilter struct {
	Pipeline   string         // empty: every pipeline
	RunID      int64          // when set: rejects first or last rejected by this run
	Check      string         // when set: only rejects of this check ("validate has_email", "database")
	Category   RejectCategory // when set: only this category
	Unresolved bool           // only rejects not resolved yet
	Limit      int            // at most this many; 0: no limit
}

// RejectStore is implemented by warehouses that can list the rejects they
// keep: `etl rejects` and replays read them.
type RejectStore interface {
	Rejects(ctx context.Context, f RejectFilter) ([]StoredReject, error)
}

// Replay runs the pipeline's stored, unresolved rejects (of run runID
// only, when not 0) again through its current map and checks — after the
// author fixed a mapping — as a run of its own in the history (mode
// "replay"): the records that now pass land, and their rejects are marked
// resolved by the replay in the same transaction (Tally.Recovered); the
// others stay, with their new reason, counted as already rejected. A
// reject whose record cannot be replayed — the source could not parse it,
// or the pipeline masks fields, so its stored form lacks their values — is
// left as it is and counted in Result.Counters["not_replayable"]. No cursor
// is read or saved. opts.DryRun and opts.Limit are not allowed.
func (p *Pipeline) Replay(ctx context.Context, reg *Registry, runID int64, opts RunOptions) (*Result, error) {
	switch {
	case opts.DryRun:
		return nil, errors.New("replay rejects: a replay cannot be a dry run")
	case opts.Limit > 0:
		return nil, errors.New("replay rejects: a replay takes every reject; --limit does not apply")
	case p.Sink.Table.Mode == ModeReplace:
		return nil, fmt.Errorf("replay rejects of %s: its sink is in replace mode, which rebuilds the table with each run; run the pipeline again instead", p.Name)
	}
	opts.replay = &replaySource{filter: RejectFilter{Pipeline: p.Name, RunID: runID, Unresolved: true}}
	return p.Run(ctx, reg, opts)
}

// replaySource reads stored rejects back as records.
type replaySource struct {
	filter  RejectFilter
	rejects []StoredReject
	ids     map[string]int64 // reject id by Fingerprint
}

// load reads the rejects to replay from wh.
func (s *replaySource) load(ctx context.Context, wh Warehouse) error {
	rs, ok := wh.(RejectStore)
	if !ok {
		return fmt.Errorf("replay rejects: %s cannot list its rejects", wh.Describe())
	}
	var err error
	if s.rejects, err = rs.Rejects(ctx, s.filter); err != nil {
		return fmt.Errorf("replay rejects: %w", err)
	}
	s.ids = make(map[string]int64, len(s.rejects))
	for _, r := range s.rejects {
		s.ids[r.Fingerprint()] = r.ID
	}
	return nil
}

// Describe is the replay's endpoint in the history.
func (s *replaySource) Describe() string {
	if s.filter.RunID != 0 {
		return fmt.Sprintf("replay of the rejects of run %d", s.filter.RunID)
	}
	return "replay of the unresolved rejects"
}

// Read emits each replayable reject as the record it was: its stored
// fields, position and raw form (so that a record rejected again has the
// same Fingerprint).
func (s *replaySource) Read(ctx context.Context, opts ReadOptions, emit func(Record) error) error {
	for _, r := range s.rejects {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.Fields == "" {
			count(opts, "not_replayable")
			continue
		}
		fields, err := DecodeFields(r.Fields)
		if err != nil {
			count(opts, "not_replayable")
			continue
		}
		if err := emit(Record{Fields: fields, Pos: r.Pos, Raw: r.Record}); err != nil {
			return err
		}
	}
	return nil
}

func count(opts ReadOptions, name string) {
	if opts.Count != nil {
		opts.Count(name, 1)
	}
}

// id is the id of the stored reject rec was read from.
func (s *replaySource) id(rec *Record) int64 {
	return s.ids[Reject{Pos: rec.Pos, Record: rec.Raw}.Fingerprint()]
}

// MaskRecord is a stored raw record as `etl rejects` shows it: with the
// pipeline's mask applied again, so that a record stored before a field
// was masked does not show it. A record that is not a JSON object cannot
// be masked field by field and is withheld whole.
func (p *Pipeline) MaskRecord(record string) string {
	if len(p.Mask) == 0 || record == "" {
		return record
	}
	fields, err := DecodeFields(record)
	if err != nil {
		return "[masked: stored as raw text, which cannot be masked field by field]"
	}
	return p.rawRecord(&Record{Fields: fields})
}
