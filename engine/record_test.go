package engine_test

import (
	"context"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// valuesForm turns records into the Values form, with a new schema whenever
// the field names change and a field order unlike the map's.
func valuesForm(records []engine.Record) []engine.Record {
	out := make([]engine.Record, len(records))
	var schema *engine.Schema
	var last []string
	for i, r := range records {
		names := []string{}
		for _, n := range []string{"z", "c", "b", "a", "id"} { // a fixed order, not the map's
			if _, ok := r.Fields[n]; ok {
				names = append(names, n)
			}
		}
		if schema == nil || !equalNames(names, last) {
			schema, last = engine.NewSchema(names), names
		}
		vals := make([]any, len(names))
		for j, n := range names {
			vals[j] = r.Fields[n]
		}
		out[i] = engine.Record{Values: vals, Schema: schema, Pos: r.Pos}
	}
	return out
}

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestValuesRecordsMapLikeFieldRecords runs one pipeline — fast-path
// columns, columns only the VM runs, a bare `record`, a check reading
// `record`, a masked field, rejects — over records in the Fields form and
// the same records in the Values form (two schemas, a missing field), and
// wants the same outcomes.
func TestValuesRecordsMapLikeFieldRecords(t *testing.T) {
	fields := []engine.Record{
		{Fields: map[string]any{"id": "1", "a": "x", "b": " Bob ", "c": map[string]any{"d": "deep"}}},
		{Fields: map[string]any{"id": "2", "a": "y", "b": nil, "c": nil}},
		{Fields: map[string]any{"id": "3", "b": "no a", "z": "only here"}},
		{Fields: map[string]any{"id": "x4", "a": "bad id", "b": "b", "c": map[string]any{}}},
		{Fields: map[string]any{"id": "5", "a": nil}},
	}
	for i := range fields {
		fields[i].Pos = engine.Position{Line: i + 1}
	}
	const pipeline = `pipeline "forms" {
  system = "t"
  entity = "forms"
  mask   = ["b"]
  source "records" {}
  map {
    id    = "int(record.id)"
    a     = "record.a"
    b     = "nullif(trim(record.b), '') ?? 'none'"
    d     = "record?.c?.d"
    both  = "record.a + '/' + (record.z ?? '-')"
    whole = "len(record)"
  }
  validate "has_a" {
    check   = "record.a != nil || record.z != nil"
    message = "no a"
  }
  sink "warehouse" {
    table = "forms"
    key   = ["id"]
  }
}`
	outcomes := func(records []engine.Record) []engine.Outcome {
		reg := engine.NewRegistry()
		reg.RegisterSource("records", func(hcl.Body, *hcl.EvalContext, engine.PluginContext) (engine.Source, hcl.Diagnostics) {
			return &memorySource{records: records}, nil
		})
		p, diags := engine.NewLoader(reg).LoadSource("forms.hcl", []byte(pipeline))
		require.False(t, diags.HasErrors(), diags.Error())
		var out []engine.Outcome
		require.NoError(t, p.Preview(context.Background(), engine.RunOptions{}, func(o engine.Outcome) error {
			out = append(out, o)
			return nil
		}))
		return out
	}
	want := outcomes(fields)
	got := outcomes(valuesForm(fields))
	require.Len(t, want, len(fields))
	assert.Equal(t, want, got)

	// The outcomes themselves, so that equal but wrong would fail too.
	assert.Equal(t, map[string]any{"id": int64(1), "a": "x", "b": "Bob", "d": "deep", "both": "x/-", "whole": int64(4)}, want[0].Row)
	assert.Equal(t, map[string]any{"id": int64(2), "a": "y", "b": "none", "d": nil, "both": "y/-", "whole": int64(4)}, want[1].Row)
	require.NotNil(t, want[2].Reject, "record.a + … fails for a missing a")
	assert.Equal(t, "map both", want[2].Reject.Check)
	require.NotNil(t, want[3].Reject)
	assert.Equal(t, "map id", want[3].Reject.Check)
	assert.JSONEq(t, `{"id":"x4","a":"bad id","b":"[masked]","c":{}}`, want[3].Reject.Record)
	require.NotNil(t, want[4].Reject)
}
