package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// shippedCase is one shipped pipeline's map and the source records of its
// `etl test` file.
type shippedCase struct {
	file     string
	location *time.Location
	columns  map[string]string // column name → map expression
	records  []map[string]any
}

// shippedCases reads pipelines/*.test.hcl and the pipeline beside each: the
// test blocks' records, decoded as `etl test` decodes them (JSON-like
// values, numbers as json.Number), and the pipeline's map and timezone.
func shippedCases(t *testing.T) []shippedCase {
	t.Helper()
	tests, err := filepath.Glob("../pipelines/*.test.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	var out []shippedCase
	for _, testPath := range tests {
		sc := shippedCase{file: strings.TrimSuffix(testPath, ".test.hcl") + ".hcl", location: time.UTC, columns: map[string]string{}}
		f, diags := hclsyntax.ParseConfig(mustRead(t, testPath), testPath, hcl.InitialPos)
		require.False(t, diags.HasErrors(), diags.Error())
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			a, ok := b.Body.Attributes["record"]
			if b.Type != "test" || !ok {
				continue
			}
			v, diags := a.Expr.Value(nil)
			require.False(t, diags.HasErrors(), diags.Error())
			js, err := ctyjson.Marshal(v, v.Type())
			require.NoError(t, err)
			dec := json.NewDecoder(bytes.NewReader(js))
			dec.UseNumber()
			var rec map[string]any
			require.NoError(t, dec.Decode(&rec), "%s: %s", testPath, b.Labels)
			sc.records = append(sc.records, rec)
		}
		p, diags := hclsyntax.ParseConfig(mustRead(t, sc.file), sc.file, hcl.InitialPos)
		require.False(t, diags.HasErrors(), diags.Error())
		for _, pb := range p.Body.(*hclsyntax.Body).Blocks {
			if a, ok := pb.Body.Attributes["timezone"]; ok {
				v, _ := a.Expr.Value(nil)
				loc, err := time.LoadLocation(v.AsString())
				require.NoError(t, err)
				sc.location = loc
			}
			for _, b := range pb.Body.Blocks {
				if b.Type != "map" {
					continue
				}
				for name, a := range b.Body.Attributes {
					v, diags := a.Expr.Value(nil)
					require.False(t, diags.HasErrors(), diags.Error())
					sc.columns[name] = v.AsString()
				}
			}
		}
		require.NotEmpty(t, sc.records, testPath)
		require.NotEmpty(t, sc.columns, sc.file)
		out = append(out, sc)
	}
	return out
}

// TestFastPathAgreesOnShippedTestRecords compares, for every map expression
// of the shipped pipelines, the fast path with the VM on that pipeline's
// own `etl test` records (real field names, real values, as a source gives
// them), in both record forms. The palette test above feeds fields a, b, c
// and id, which most shipped expressions never read: here each one reads
// the fields it was written for.
func TestFastPathAgreesOnShippedTestRecords(t *testing.T) {
	var total, fast, compared, real int
	var unseen []string
	for _, sc := range shippedCases(t) {
		c := newCompiler(sc.location, nil)
		names := make([]string, 0, len(sc.columns))
		for name := range sc.columns {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			code := sc.columns[name]
			total++
			fc, err := compileFast(c, code)
			require.NoError(t, err, "%s: %s", sc.file, code)
			if fc.fast == nil {
				continue
			}
			fast++
			answered, sawValue := false, false
			for _, rec := range sc.records {
				if fc.agrees(t, rec) {
					answered = true
				}
				if v, err := fc.vm.Run(fc.prog, map[string]any{"record": rec}); err == nil && v != nil {
					sawValue = true
				}
			}
			if !sawValue {
				// No test record holds the fields it reads: give them, in
				// turn, every value the pipeline's test records hold.
				fields := newCompiler(sc.location, nil)
				if fc2, err := compileFast(fields, code); err == nil && fc2.fast != nil {
					for _, v := range valuePool(sc.records) {
						rec := map[string]any{}
						for k, x := range sc.records[0] {
							rec[k] = x
						}
						for _, f := range fields.slotNames {
							rec[f] = v
						}
						fc.agrees(t, rec)
						if v, err := fc.vm.Run(fc.prog, map[string]any{"record": rec}); err == nil && v != nil {
							sawValue = true
						}
					}
				}
			}
			if answered {
				compared++
			}
			if sawValue {
				real++
			} else {
				unseen = append(unseen, filepath.Base(sc.file)+" "+name)
			}
		}
	}
	t.Logf("%d map expressions, %d with a fast path; %d compared with the VM on their pipeline's test records (and, for those whose fields no test record holds, on the values the others hold), %d of them giving a value (not nil) on at least one; never a value: %q",
		total, fast, compared, real, unseen)
	require.Greater(t, total, 300)
	require.Equal(t, fast, compared, "every fast path answered at least one real record")
	require.Empty(t, unseen, "every expression sees a real value")
}

// valuePool is every distinct top-level value of records (maps and lists
// left out), in a stable order.
func valuePool(records []map[string]any) []any {
	seen := map[string]bool{}
	var out []any
	for _, r := range records {
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := r[k]
			switch v.(type) {
			case map[string]any, []any:
				continue
			}
			id := fmt.Sprintf("%T %v", v, v)
			if !seen[id] {
				seen[id] = true
				out = append(out, v)
			}
		}
	}
	return out
}
