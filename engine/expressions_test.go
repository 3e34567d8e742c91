package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

func TestPluginExpressionsUseTheLibraryAndReportPositions(t *testing.T) {
	src := `pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
    key     = "upper(fields.code) + '-' + string(fields.id)"
    records = [{ id = 1, code = "ab" }, { id = 2, code = "cd" }]
  }
  map { id = "int(record.id)" }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
`
	p, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", []byte(src))
	require.False(t, diags.HasErrors(), "%v", diags)
	var keys []string
	require.NoError(t, p.Preview(context.Background(), engine.RunOptions{}, func(o engine.Outcome) error {
		keys = append(keys, o.Pos.Key)
		return nil
	}))
	assert.Equal(t, []string{"AB-1", "CD-2"}, keys)

	bad := []byte(`pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
    key     = "uper(fields.code)"
    records = []
  }
  map { id = "int(record.id)" }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
`)
	_, diags = engine.NewLoader(testRegistry()).LoadSource("p.hcl", bad)
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Unknown name", diags[0].Summary)
	assert.Equal(t, 5, diags[0].Subject.Start.Line)
	assert.Equal(t, 16, diags[0].Subject.Start.Column)
	assert.Contains(t, diags[0].Detail, `Did you mean "upper"?`)
}

func TestANullKeyRejectsTheRecord(t *testing.T) {
	src := `pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
    records = [{ id = "1" }, { id = "" }, { name = "no id" }]
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
`
	p, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", []byte(src))
	require.False(t, diags.HasErrors(), "%v", diags)
	var got []string
	require.NoError(t, p.Preview(context.Background(), engine.RunOptions{}, func(o engine.Outcome) error {
		if o.Reject != nil {
			got = append(got, o.Reject.Check+": "+o.Reject.Reason)
		} else {
			got = append(got, "row")
		}
		return nil
	}))
	assert.Equal(t, []string{"row", "map id: key column id is null", "map id: key column id is null"}, got)
}

func TestProgressETA(t *testing.T) {
	cases := []struct {
		name string
		p    engine.Progress
		want time.Duration
		ok   bool
	}{
		{"a quarter in ten seconds", engine.Progress{Elapsed: 10 * time.Second, SourceDone: 25, SourceTotal: 100}, 30 * time.Second, true},
		{"done", engine.Progress{Elapsed: time.Second, SourceDone: 100, SourceTotal: 100}, 0, true},
		{"size unknown", engine.Progress{Elapsed: time.Second, SourceDone: 100}, 0, false},
		{"nothing read yet", engine.Progress{Elapsed: time.Second, SourceTotal: 100}, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			left, ok := c.p.ETA()
			assert.Equal(t, c.ok, ok)
			assert.Equal(t, c.want, left)
		})
	}
}

func TestEqualityIsNilSafe(t *testing.T) {
	src := `pipeline "p" {
  system      = "s"
  entity      = "e"
  max_rejects = 10
  source "inline" {
    records = [{ id = "1", label = "HubSpot", name = "x" }, { id = "2" }]
  }
  map {
    id      = "int(record.id)"
    hubspot = "lower(record.label) == 'hubspot'"
    other   = "lower(record.label) != 'hubspot'"
    same_id = "int(record.n) == int(record.id)"
    name    = "trim(record.name)"
  }
  validate "not_y" {
    check = "name != 'y' && row.name != 'y'"
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
`
	p, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", []byte(src))
	require.False(t, diags.HasErrors(), "%v", diags)
	var rows []map[string]any
	require.NoError(t, p.Preview(context.Background(), engine.RunOptions{}, func(o engine.Outcome) error {
		require.Nil(t, o.Reject, "%+v", o.Reject)
		rows = append(rows, o.Row)
		return nil
	}))
	require.Len(t, rows, 2)
	assert.Equal(t, true, rows[0]["hubspot"])
	assert.Equal(t, false, rows[0]["other"])
	assert.Equal(t, false, rows[1]["hubspot"], "a missing label is not hubspot")
	assert.Equal(t, true, rows[1]["other"])
	assert.Equal(t, false, rows[1]["same_id"])
}

func TestUnknownNameSuggestsThePluginsVariables(t *testing.T) {
	src := []byte(`pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
    key     = "string(feilds.id)"
    records = []
  }
  map { id = "int(record.id)" }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
`)
	_, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", src)
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags[0].Detail, `Did you mean "fields"?`)
	assert.Contains(t, diags[0].Detail, "Variables here: fields;")
}
