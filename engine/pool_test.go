package engine

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type sliceSource struct{ records []Record }

func (s *sliceSource) Read(ctx context.Context, _ ReadOptions, emit func(Record) error) error {
	for _, r := range s.records {
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

// poolPipeline loads a pipeline with a cursor, rejects, warnings and
// (when abortAt is set) an abort check.
func poolPipeline(t *testing.T, abort string) *Pipeline {
	t.Helper()
	reg := NewRegistry()
	reg.RegisterSource("records", func(hcl.Body, *hcl.EvalContext, PluginContext) (Source, hcl.Diagnostics) {
		return &sliceSource{}, nil
	})
	src := `pipeline "pool" {
  system = "t"
  entity = "pool"
  source "records" {}
  incremental {
    cursor = "n"
  }
  map {
    id   = "int(record.id)"
    n    = "int(record.n)"
    name = "upper(record.name)"
    kind = "record.n % 7 == 0 ? 'seven' : 'other'"
  }
  validate "not_thirteen" {
    check   = "n % 13 != 0"
    message = "thirteen"
  }
  validate "short" {
    check   = "len(name) < 5"
    on_fail = "warn"
  }
` + abort + `
  sink "warehouse" {
    table = "pool"
    key   = ["id"]
  }
}`
	p, diags := NewLoader(reg).LoadSource("pool.hcl", []byte(src))
	require.False(t, diags.HasErrors(), diags.Error())
	return p
}

func poolRecords(n int) []Record {
	schema := NewSchema([]string{"id", "n", "name"})
	out := make([]Record, n)
	for i := range out {
		id := strconv.Itoa(i + 1)
		if i%101 == 0 {
			id = "x" + id // int() fails: a map reject
		}
		out[i] = Record{Schema: schema, Values: []any{id, int64(i % 1000), fmt.Sprintf("n%d", i%5000)}, Pos: Position{Line: i + 1}}
	}
	return out
}

// TestTransformPoolMatchesOneGoroutine maps one batch with 1 and with 4
// workers: every result and every row is the same.
func TestTransformPoolMatchesOneGoroutine(t *testing.T) {
	p := poolPipeline(t, "")
	records := poolRecords(5000)
	run := func(workers int) ([]recordResult, []any) {
		vals := make([]any, len(records)*len(p.Columns))
		res, err := newTransformPool(p, int64(20), workers).apply(records, vals)
		require.NoError(t, err)
		return res, vals
	}
	want, wantVals := run(1)
	got, gotVals := run(4)
	assert.Equal(t, wantVals, gotVals)
	require.Equal(t, len(want), len(got))
	var loads, rejects, skips, warns int
	for i := range want {
		require.Equal(t, want[i], got[i], "record %d", i+1)
		switch want[i].out {
		case outLoad:
			loads++
		case outReject:
			rejects++
		case outSkip:
			skips++
		}
		if len(want[i].warns) > 0 {
			warns++
		}
	}
	assert.Positive(t, loads)
	assert.Positive(t, rejects)
	assert.Positive(t, skips, "n below since (20) is skipped")
	assert.Positive(t, warns)
}

// TestTransformPoolReportsTheFirstAbort: abort checks fail in several
// workers' chunks; the error is the first in record order.
func TestTransformPoolReportsTheFirstAbort(t *testing.T) {
	p := poolPipeline(t, `  validate "no_999" {
    check   = "n != 999"
    on_fail = "abort"
    message = "999 is not allowed"
  }`)
	records := poolRecords(5000) // n = 999 at records 1000, 2000, 3000, 4000, 5000
	for _, workers := range []int{1, 4} {
		_, err := newTransformPool(p, nil, workers).apply(records, make([]any, len(records)*len(p.Columns)))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "line 1000", "workers %d", workers)
	}
}

// TestTransformPoolSmallBatchesStayOnOneGoroutine: a batch under two
// chunks is mapped by the first transformer alone.
func TestTransformPoolSmallBatchesStayOnOneGoroutine(t *testing.T) {
	p := poolPipeline(t, "")
	pool := newTransformPool(p, nil, 4)
	records := poolRecords(2*minChunk - 1)
	_, err := pool.apply(records, make([]any, len(records)*len(p.Columns)))
	require.NoError(t, err)
	assert.NotNil(t, pool.trs[0].fast.rec, "the first transformer mapped the batch")
	for _, tr := range pool.trs[1:] {
		assert.Nil(t, tr.fast.rec, "another transformer was used for a small batch")
	}
}
