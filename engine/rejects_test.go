package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// twentyRecords are n = 1…20; the last one has no name.
func twentyRecords() string {
	var recs []string
	for n := 1; n <= 20; n++ {
		name := fmt.Sprintf("r%d", n)
		if n == 20 {
			name = ""
		}
		recs = append(recs, fmt.Sprintf("{n = %d, name = %q}", n, name))
	}
	return "[" + strings.Join(recs, ", ") + "]"
}

const namedCheck = `validate "named" {
    check   = "name != ''"
    message = "no name"
  }`

// TestKnownRejectsDoNotWedgeIncrementalRuns: the rerun reads the last
// record again (the cursor is inclusive) and rejects it again; it is
// recognised as already rejected — stored once, counted apart, not against
// max_rejects — so the rerun succeeds instead of failing "1 of 1 rejected"
// forever.
func TestKnownRejectsDoNotWedgeIncrementalRuns(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	settings := `max_rejects = "10%"`
	first, err := runInlineAt(t, db, twentyRecords(), namedCheck, settings, engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, engine.StatusPartial, first.Status)
	assert.Equal(t, engine.Tally{Processed: 20, Created: 19, Rejected: 1}, first.Tally)
	assert.Equal(t, map[engine.RejectCategory]int64{engine.CategoryValidation: 1}, first.Categories)

	for i := range 2 {
		again, err := runInlineAt(t, db, twentyRecords(), namedCheck, settings, engine.RunOptions{})
		require.NoError(t, err, "rerun %d", i+1)
		assert.Equal(t, engine.StatusSuccess, again.Status, "no new rejects")
		assert.Equal(t, engine.Tally{Processed: 1, Unchanged: 0, AlreadyRejected: 1, Skipped: 19}, again.Tally)
		assert.Equal(t, map[engine.RejectCategory]int64{engine.CategoryValidation: 1}, again.Categories)
	}
	assert.Equal(t, "1", query(t, db, "SELECT count(*) FROM etl_rejects"), "stored once")
	assert.Equal(t, "1|3|validation", query(t, db, "SELECT run_id || '|' || last_run_id || '|' || category FROM etl_rejects"))
	assert.Equal(t, "0|1|{\"validation\":1},0|1|{\"validation\":1},1|0|{\"validation\":1}",
		query(t, db, "SELECT rejected || '|' || already_rejected || '|' || reject_categories FROM etl_sync_history ORDER BY id DESC"))
}

// TestEveryRejectHasACategory: each stage's refusal is stored and counted
// under its category.
func TestEveryRejectHasACategory(t *testing.T) {
	records := `[{n = 1, name = "a"}, {n = "x", name = "b"}, {n = 3, name = ""}, {n = 4, name = "d"}]`
	res, db, err := runInlineWith(t, records, namedCheck, "max_rejects = 10", engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[engine.RejectCategory]int64{engine.CategoryConversion: 1, engine.CategoryValidation: 1}, res.Categories)
	assert.Equal(t, "map n|conversion,validate named|validation",
		query(t, db, "SELECT check_name || '|' || category FROM etl_rejects ORDER BY id"))
	assert.Equal(t, `{"conversion":1,"validation":1}`, query(t, db, "SELECT reject_categories FROM etl_sync_history"))
}

// TestReplayLandsWhatTheFixedPipelinePasses: after the author fixes a
// check, a replay lands the rejects that now pass and marks them resolved,
// leaves the others with their new reason, and is a run of its own.
func TestReplayLandsWhatTheFixedPipelinePasses(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	records := `[{n = 1, name = "a"}, {n = 2, name = ""}, {n = 3, name = ""}, {n = 4, name = "d"}]`
	first, err := runInlineAt(t, db, records, namedCheck, "max_rejects = 5", engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), first.Tally.Rejected)

	fixed := `validate "named" {
    check   = "name != '' || n == 2"
    message = "no name, and not 2"
  }`
	p, reg := loadInline(t, db, records, fixed, "max_rejects = 5")
	res, err := p.Replay(context.Background(), reg, 0, engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{Processed: 2, Created: 1, AlreadyRejected: 1, Recovered: 1}, res.Tally)
	assert.Equal(t, engine.StatusSuccess, res.Status)
	assert.Equal(t, "1,2,4", query(t, db, "SELECT n FROM t ORDER BY n"))
	assert.Equal(t, fmt.Sprintf("2|%d,3|", res.RunID), query(t, db, "SELECT line || '|' || coalesce(resolved_by_run, '') FROM etl_rejects ORDER BY line"))
	assert.Equal(t, "no name, and not 2", query(t, db, "SELECT reason FROM etl_rejects WHERE resolved_at IS NULL"), "the reject left has its new reason")
	assert.Equal(t, "replay|1|1|1", query(t, db, fmt.Sprintf("SELECT mode || '|' || recovered || '|' || created || '|' || already_rejected FROM etl_sync_history WHERE id = %d", res.RunID)))
	assert.Equal(t, "1", query(t, db, "SELECT count(*) FROM etl_state"), "a replay saves no cursor")

	again, err := p.Replay(context.Background(), reg, 0, engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{Processed: 1, AlreadyRejected: 1}, again.Tally, "only the unresolved reject is replayed")

	none, err := p.Replay(context.Background(), reg, first.RunID+100, engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{}, none.Tally, "another run's rejects only")
}

// TestReplayLeavesMaskedRecordsAlone: a masked record's stored form lacks
// the masked values, so a replay never lands it.
func TestReplayLeavesMaskedRecordsAlone(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	records := `[{n = 1, name = "", email = "ann@example.com"}]`
	settings := "max_rejects = 5\n  mask = [\"email\"]"
	_, err := runInlineAt(t, db, records, namedCheck, settings, engine.RunOptions{})
	require.NoError(t, err)
	p, reg := loadInline(t, db, records, "", settings)
	res, err := p.Replay(context.Background(), reg, 0, engine.RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, engine.Tally{}, res.Tally)
	assert.Equal(t, map[string]int64{"not_replayable": 1}, res.Counters)
	assert.Equal(t, "", query(t, db, "SELECT n FROM t"))
	assert.Equal(t, "1", query(t, db, "SELECT count(*) FROM etl_rejects WHERE resolved_at IS NULL"))
}

// TestMaskRecordHidesFieldsStoredBeforeTheMask: `etl rejects` applies the
// pipeline's current mask to what it shows.
func TestMaskRecordHidesFieldsStoredBeforeTheMask(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	p, _ := loadInline(t, db, "[]", "", "mask = [\"email\"]")
	assert.Equal(t, `{"email":"[masked]","n":1}`, p.MaskRecord(`{"n": 1, "email": "ann@example.com"}`))
	assert.Equal(t, "[masked: stored as raw text, which cannot be masked field by field]", p.MaskRecord("1,ann@example.com"))
	unmasked, _ := loadInline(t, db, "[]", "", "")
	assert.Equal(t, "1,ann@example.com", unmasked.MaskRecord("1,ann@example.com"))
}

type transportError struct{}

func (transportError) Error() string                         { return "the response ended mid-record" }
func (transportError) RejectCategory() engine.RejectCategory { return engine.CategorySource }

func TestErrorCategory(t *testing.T) {
	assert.Equal(t, engine.CategorySource, engine.ErrorCategory(fmt.Errorf("record 3: %w", transportError{})), "an error that names its category")
	assert.Equal(t, engine.CategoryParse, engine.ErrorCategory(fmt.Errorf("ragged row")), "a source's record error is a parse error by default")
}
