package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// palette is the values fast-path tests put in records: every Go type a
// source gives, the nils that trip member access, and values that make
// library functions fail.
var palette = []any{
	nil, "", "  ", "42", " 7 ", "12.50", "abc", "A@B.co", "+1 (555) 123-4567", "2024-01-02T03:04:05Z",
	"0000-00-00", "yes", "[1,2]", "{\"a\":1}", "NaN", "a\x00b",
	int64(0), int64(-3), int64(1700000000), int(5), float64(2.5), math.NaN(), float32(1.25), true, false,
	json.Number("9007199254740993"), time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), []byte("bytes"),
	[]any{int64(1), "x"}, map[string]any(nil),
	map[string]any{"b": "inner", "c": map[string]any{"d": int64(1)}, "createdate": "2024-01-01"},
	map[string]string{"b": "typed map"},
}

// record builds a record whose fields a, b, c and id take palette values
// chosen by pick.
func paletteRecord(pick uint64) map[string]any {
	r := map[string]any{}
	for _, name := range []string{"a", "b", "c", "id"} {
		i := int(pick % uint64(len(palette)+1))
		pick /= uint64(len(palette) + 1)
		if i == len(palette) {
			continue // absent
		}
		r[name] = palette[i]
	}
	return r
}

// fastCase is one expression compiled for the VM and, when it has one, for
// the fast path.
type fastCase struct {
	code string
	c    *compiler
	prog *vm.Program
	fast *fastExpr
	env  fastEnv
	vm   vm.VM
}

func compileFast(c *compiler, code string) (*fastCase, error) {
	opts := append([]expr.Option{expr.Env(c.recordEnv())}, c.opts...)
	prog, err := expr.Compile(code, opts...)
	if err != nil {
		return nil, err
	}
	return &fastCase{code: code, c: c, prog: prog, fast: c.fastCompile(prog.Node())}, nil
}

// agrees checks, on rec, that whenever the fast path gives a result the VM
// gives the same one without error, with the record in either form (a map,
// or values in a schema's order), and reports whether the fast path gave
// it.
func (fc *fastCase) agrees(t testing.TB, rec map[string]any) (answered bool) {
	t.Helper()
	if fc.fast == nil {
		return false
	}
	want, err := fc.vm.Run(fc.prog, map[string]any{"record": rec})
	fc.env.fields = fc.c.slotNames
	var names []string
	for name := range rec {
		names = append(names, name)
	}
	values := make([]any, len(names))
	for i, name := range names {
		values[i] = rec[name]
	}
	forms := []*Record{{Fields: rec}, {Values: values, Schema: NewSchema(names)}}
	answered = true
	for _, r := range forms {
		fc.env.reset(r)
		got, ok := fc.fast.run(&fc.env)
		if !ok {
			answered = false
			continue
		}
		if err != nil {
			t.Fatalf("%s on %#v: the fast path gave %#v, the VM failed: %v", fc.code, r, got, err)
		}
		if !sameValue(got, want) {
			t.Fatalf("%s on %#v: the fast path gave %#v (%T), the VM %#v (%T)", fc.code, r, got, got, want, want)
		}
	}
	return answered
}

func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		if fb, ok := b.(float64); ok && math.IsNaN(fa) && math.IsNaN(fb) {
			return true
		}
	}
	return reflect.DeepEqual(a, b)
}

var fastExpressions = []string{
	"record.a", "record.a.b", "record.a.c.d", "record?.a?.b", "record.a?.b", "record?.a?.c?.d", "record?.a.b",
	"record['a']", "int(record.id)", "int(record.a) ?? 0", "nullif(trim(record.a), '')",
	"nullif(lower(trim(record.b)), '')", "timestamp(record.a)", "timestamp(coalesce(record?.a?.createdate, record.b))",
	"coalesce(record.a, record.b, record.c, 'none')", "bool(record.a)", "decimal(record.a)", "float(record.b)",
	"json(record.a)", "email(record.a)", "phone(record.b)", "date(record.a, '2006-01-02')", "record.a ?? record.b ?? 3",
	"trim(record?.a?.b) ?? ''", "sha256(record.a)", "upper(record.a.b)", "nil", "1.5", "true", "'x'", "7",
	"regex_replace(record.a, '[0-9]', '#')", "base64_encode(record.a)", "nullif(record.a, 0)",
}

func TestFastPathAgreesWithTheVM(t *testing.T) {
	c := newCompiler(time.FixedZone("EST", -5*3600), nil)
	for _, code := range fastExpressions {
		fc, err := compileFast(c, code)
		require.NoError(t, err)
		require.NotNil(t, fc.fast, "%s has no fast path", code)
		answered := 0
		for pick := range uint64(3000) {
			if fc.agrees(t, paletteRecord(pick*7919)) {
				answered++
			}
		}
		// Each expression is answered by the fast path for most records;
		// one that always fell back to the VM would be slower, not wrong,
		// so this guards the speed-up rather than correctness.
		require.Greater(t, answered, 50, "%s: the fast path answered only %d of 3000 records", code, answered)
	}
}

func TestFastPathLeavesOtherExpressionsToTheVM(t *testing.T) {
	c := newCompiler(time.UTC, nil)
	for _, code := range []string{
		"record.a == 'x'", "record.a + 1", "len(record.a)", "decimal(record.a) + 1", "record.a ? 1 : 2",
		"record[record.b]", "json(record.a)[0]", "upper(string(record.a))", "!record.a",
	} {
		fc, err := compileFast(c, code)
		require.NoError(t, err, code)
		require.Nil(t, fc.fast, code)
	}
}

// TestFastPathCoversShippedPipelines compiles every map expression of
// pipelines/*.hcl: nearly all must have a fast path, and each must agree
// with the VM over the palette.
func TestFastPathCoversShippedPipelines(t *testing.T) {
	files, err := filepath.Glob("../pipelines/*.hcl")
	require.NoError(t, err)
	c := newCompiler(time.UTC, nil)
	var total, fast int
	var slow []string
	for _, path := range files {
		for _, code := range mapExpressions(t, path) {
			total++
			fc, err := compileFast(c, code)
			require.NoError(t, err, "%s: %s", path, code)
			if fc.fast == nil {
				slow = append(slow, code)
				continue
			}
			fast++
			for pick := range uint64(500) {
				fc.agrees(t, paletteRecord(pick*104729))
			}
		}
	}
	t.Logf("%d of %d map expressions have a fast path; the others: %q", fast, total, slow)
	require.Greater(t, total, 300)
	require.GreaterOrEqual(t, float64(fast)/float64(total), 0.9, "expressions without a fast path: %q", slow)
}

// mapExpressions returns the expressions of a pipeline file's map block.
func mapExpressions(t *testing.T, path string) []string {
	f, diags := hclsyntax.ParseConfig(mustRead(t, path), path, hcl.InitialPos)
	require.False(t, diags.HasErrors(), diags.Error())
	var out []string
	for _, p := range f.Body.(*hclsyntax.Body).Blocks {
		for _, b := range p.Body.Blocks {
			if b.Type != "map" {
				continue
			}
			for _, a := range b.Body.Attributes {
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() || v.Type() != cty.String {
					continue
				}
				out = append(out, v.AsString())
			}
		}
	}
	return out
}

func FuzzFastPath(f *testing.F) {
	for i, code := range fastExpressions {
		f.Add(code, uint64(i)*2654435761)
	}
	c := newCompiler(time.UTC, nil)
	f.Fuzz(func(t *testing.T, code string, pick uint64) {
		defer func() {
			if r := recover(); r != nil {
				panic(fmt.Sprintf("%s on %v: %v", code, paletteRecord(pick), r))
			}
		}()
		fc, err := compileFast(c, code)
		if err != nil {
			return
		}
		fc.agrees(t, paletteRecord(pick))
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
