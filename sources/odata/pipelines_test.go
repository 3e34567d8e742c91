package odata_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/etl-dev/etl/engine"
)

// shippedPipelines lists pipelines/marketsharp_*.hcl, test cases left out.
func shippedPipelines(t *testing.T) []string {
	m, err := filepath.Glob(filepath.Join("..", "..", "pipelines", "marketsharp_*.hcl"))
	require.NoError(t, err)
	var files []string
	for _, f := range m {
		if !strings.HasSuffix(f, ".test.hcl") {
			files = append(files, f)
		}
	}
	require.Len(t, files, 5)
	return files
}

// TestShippedPipelinesLoad loads every MarketSharp pipeline, as `etl
// validate` would (no secrets set: missing env vars are warnings), and this
// package's example.
func TestShippedPipelinesLoad(t *testing.T) {
	files := append(shippedPipelines(t), "example.hcl")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			l := engine.NewLoader(registry())
			l.LookupEnv = func(string) (string, bool) { return "", false }
			p, diags := l.Load(f)
			var b strings.Builder
			w := hcl.NewDiagnosticTextWriter(&b, l.Files(), 100, false)
			_ = w.WriteDiagnostics(diags)
			require.False(t, diags.HasErrors(), b.String())
			for _, d := range diags {
				assert.Equal(t, "Value not available", d.Summary, "only missing secrets may warn: %s", b.String())
			}
			assert.Equal(t, "odata", p.SourceKind)
			if strings.HasPrefix(filepath.Base(f), "marketsharp_") {
				o, ok := p.Source.(engine.CursorOrdered)
				require.True(t, ok)
				assert.True(t, o.CursorOrdered())
				assert.Contains(t, p.Source.(engine.ReadPlanner).PlanRead(engine.ReadOptions{}), "$orderby=lastUpdate%20asc&$top=5000")
			}
		})
	}
}

// The schema of an `etl test` file (cmd/etl/test.go), to run the cases
// beside each MarketSharp pipeline here, before cmd/etl knows the odata
// kind.
type testFile struct {
	Pipeline *string     `hcl:"pipeline,optional"`
	Tests    []testBlock `hcl:"test,block"`
}

type testBlock struct {
	Name     string         `hcl:"name,label"`
	Record   hcl.Expression `hcl:"record"`
	Want     hcl.Expression `hcl:"want,optional"`
	Reject   *rejectBlock   `hcl:"reject,block"`
	Warnings []string       `hcl:"warnings,optional"`
}

type rejectBlock struct {
	Check  string  `hcl:"check"`
	Reason *string `hcl:"reason,optional"`
}

// TestShippedPipelineCases runs each marketsharp_*.test.hcl case through
// its pipeline's map and checks, as `etl test` does.
func TestShippedPipelineCases(t *testing.T) {
	for _, pf := range shippedPipelines(t) {
		tf := strings.TrimSuffix(pf, ".hcl") + ".test.hcl"
		t.Run(filepath.Base(tf), func(t *testing.T) {
			l := engine.NewLoader(registry())
			l.LookupEnv = func(string) (string, bool) { return "", false }
			p, diags := l.Load(pf)
			require.False(t, diags.HasErrors(), diags.Error())
			parser := hclparse.NewParser()
			f, diags := parser.ParseHCLFile(tf)
			require.False(t, diags.HasErrors(), diags.Error())
			var file testFile
			diags = gohcl.DecodeBody(f.Body, nil, &file)
			require.False(t, diags.HasErrors(), diags.Error())
			require.GreaterOrEqual(t, len(file.Tests), 3)
			types := map[string]engine.ColumnType{}
			for _, c := range p.Sink.Table.Columns {
				types[c.Name] = c.Type
			}
			for _, tc := range file.Tests {
				t.Run(tc.Name, func(t *testing.T) {
					rec, ok := hclToGo(t, tc.Record).(map[string]any)
					require.True(t, ok)
					outs, err := p.Transform([]engine.Record{{Fields: rec}})
					require.NoError(t, err)
					o := outs[0]
					if tc.Reject != nil {
						require.NotNil(t, o.Reject, "want a reject by %q, got %v", tc.Reject.Check, o.Row)
						assert.Equal(t, tc.Reject.Check, o.Reject.Check, o.Reject.Reason)
						if tc.Reject.Reason != nil {
							assert.Equal(t, *tc.Reject.Reason, o.Reject.Reason)
						}
						return
					}
					require.Nil(t, o.Reject, "want a row, got a reject: %+v", o.Reject)
					if tc.Want != nil {
						want, ok := hclToGo(t, tc.Want).(map[string]any)
						require.True(t, ok)
						cols := make([]string, 0, len(want))
						for c := range want {
							cols = append(cols, c)
						}
						sort.Strings(cols)
						for _, c := range cols {
							got, ok := o.Row[c]
							require.True(t, ok, "the pipeline maps no column %s", c)
							assert.Equal(t, jsonText(want[c]), jsonText(got), "column %s (%s)", c, types[c])
						}
					}
					assert.Equal(t, strings.Join(tc.Warnings, ","), strings.Join(o.Warnings, ","))
				})
			}
		})
	}
}

func hclToGo(t *testing.T, e hcl.Expression) any {
	v, diags := e.Value(nil)
	require.False(t, diags.HasErrors(), diags.Error())
	b, err := ctyjson.Marshal(v, v.Type())
	require.NoError(t, err)
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&out))
	return out
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
