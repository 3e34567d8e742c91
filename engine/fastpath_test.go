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

	"github.com/etl-dev/etl/functions"
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

// sameValue is reflect.DeepEqual, except that NaN equals NaN, inside maps
// and slices too.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok && math.IsNaN(x) && math.IsNaN(y) {
			return true
		}
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) || (x == nil) != (y == nil) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
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
	"record.a == 'x'", "record.a != nil", "record.a ? 1 : 2", "!record.a", "record.a || record.b", "record.a && record.b",
	"trim(record.a) == 'abc'", "int(record.id) == 42", "decimal(record.a) + 1", "decimal(record.a) >= 0", "record.a < record.b",
	"float(record.b) > 2",
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
		"record.a + 1", "len(record.a)", "record[record.b]", "json(record.a)[0]", "upper(string(record.a))",
		"record.a in ['x']", "-int(record.a)",
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
	c := newCompiler(time.UTC, nil)
	var total, fast int
	var slow []string
	for _, code := range shippedExpressions(t, "map", "") {
		total++
		fc, err := compileFast(c, code)
		require.NoError(t, err, code)
		if fc.fast == nil {
			slow = append(slow, code)
			continue
		}
		fast++
		for pick := range uint64(500) {
			fc.agrees(t, paletteRecord(pick*104729))
		}
	}
	t.Logf("%d of %d map expressions have a fast path; the others: %q", fast, total, slow)
	require.Greater(t, total, 300)
	require.GreaterOrEqual(t, float64(fast)/float64(total), 0.9, "expressions without a fast path: %q", slow)
}

// shippedExpressions returns the string values of pipelines/*.hcl's
// blockType blocks' attribute attr, or of all their attributes when attr is
// "".
func shippedExpressions(t *testing.T, blockType, attr string) []string {
	t.Helper()
	files, err := filepath.Glob("../pipelines/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []string
	for _, path := range files {
		f, diags := hclsyntax.ParseConfig(mustRead(t, path), path, hcl.InitialPos)
		require.False(t, diags.HasErrors(), diags.Error())
		for _, p := range f.Body.(*hclsyntax.Body).Blocks {
			for _, b := range p.Body.Blocks {
				if b.Type != blockType {
					continue
				}
				for name, a := range b.Body.Attributes {
					if attr != "" && name != attr {
						continue
					}
					if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
						out = append(out, v.AsString())
					}
				}
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

// checkColumns are mapped columns of every type, as checks see them.
func checkColumns() []*MappedColumn {
	col := func(name string, t ColumnType, typ any) *MappedColumn {
		p := &Program{}
		if typ != nil {
			p.typ = reflect.TypeOf(typ)
		}
		return &MappedColumn{Name: name, Type: t, Expr: p}
	}
	return []*MappedColumn{
		col("id", TypeInteger, nil), col("email", TypeText, nil), col("amount", TypeDecimal, functions.Decimal{}),
		col("updated_at", TypeTimestamp, nil), col("created_at", TypeTimestamp, nil), col("flag", TypeBoolean, nil),
		col("doc", TypeJSON, nil), col("score", TypeFloat, nil), col("object_id", TypeText, nil),
		col("last_update", TypeTimestamp, nil), col("add_date", TypeTimestamp, nil), col("add_datetime", TypeTimestamp, nil),
	}
}

// checkValues are, by column type, the values a check may see.
var checkValues = map[string][]any{
	"id":           {nil, int64(0), int64(42), int64(-1)},
	"email":        {nil, "", "a@b.co", "x"},
	"amount":       {nil, mustDecimal("0"), mustDecimal("-1.5"), mustDecimal("12.50")},
	"updated_at":   {nil, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
	"created_at":   {nil, time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)},
	"flag":         {nil, true, false},
	"doc":          {nil, map[string]any{"x": 1}, []any{1.5}, "text"},
	"score":        {nil, 0.0, 2.5, math.NaN()},
	"object_id":    {nil, "", "a1"},
	"last_update":  {nil, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
	"add_date":     {nil, time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)},
	"add_datetime": {nil, time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)},
}

func mustDecimal(s string) functions.Decimal {
	d, err := functions.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestFastChecksAgreeWithTheVM compiles checks and cursors (handwritten, and
// every one of pipelines/*.hcl) and compares their fast paths with the VM
// over combinations of the columns' values.
func TestFastChecksAgreeWithTheVM(t *testing.T) {
	c := newCompiler(time.UTC, nil)
	cols := checkColumns()
	checks := []string{
		"id != nil", "id != nil && id != 0", "email != nil && email != ''", "amount == nil || amount >= 0",
		"row.email != nil", "record.a != nil || email != nil", "flag", "!flag", "flag ? id > 0 : true",
		"doc.x == 1", "doc?.x != nil", "score > 1", "updated_at > created_at", "lower(email) == 'x'",
		"amount != nil && amount * 2 > 10", "email == nil or id > 3", "not (id == 1)",
	}
	cursors := []string{"updated_at ?? created_at", "updated_at", "id", "amount"}
	// The shipped checks and cursors whose columns are among checkColumns'
	// (the others read columns this test does not declare).
	declared := func(codes []string) []string {
		var out []string
		for _, code := range codes {
			opts := append([]expr.Option{expr.Env(c.rowEnv(cols))}, c.opts...)
			if _, err := expr.Compile(code, opts...); err == nil {
				out = append(out, code)
			}
		}
		return out
	}
	shippedChecks, shippedCursors := declared(shippedExpressions(t, "validate", "check")), declared(shippedExpressions(t, "incremental", "cursor"))
	require.GreaterOrEqual(t, len(shippedChecks)+len(shippedCursors), 35, "the shipped pipelines' checks and cursors")
	checks, cursors = append(checks, shippedChecks...), append(cursors, shippedCursors...)
	run := func(code string, asBool bool) {
		opts := append([]expr.Option{expr.Env(c.rowEnv(cols))}, c.opts...)
		if asBool {
			opts = append(opts, expr.AsBool())
		}
		prog, err := expr.Compile(code, opts...)
		require.NoError(t, err, code)
		fast := c.fastCompileCheck(prog.Node(), asBool)
		require.NotNil(t, fast, "%s has no fast path", code)
		var machine vm.VM
		answered := 0
		for pick := range uint64(2000) {
			env := map[string]any{}
			row := map[string]any{}
			p := pick * 2654435761
			for _, col := range cols {
				vals := checkValues[col.Name]
				env[col.Name], row[col.Name] = vals[p%uint64(len(vals))], vals[p%uint64(len(vals))]
				p /= uint64(len(vals))
			}
			rec := paletteRecord(p)
			env["row"], env["record"] = row, rec
			want, err := machine.Run(prog, env)
			fe := fastEnv{vars: env}
			fe.reset(&Record{Fields: rec})
			got, ok := fast.run(&fe)
			if !ok {
				continue
			}
			answered++
			require.NoError(t, err, "%s on %v: the fast path gave %#v", code, env, got)
			require.True(t, sameValue(got, want), "%s on %v: the fast path gave %#v, the VM %#v", code, env, got, want)
		}
		require.Greater(t, answered, 100, "%s: the fast path answered %d of 2000", code, answered)
	}
	for _, code := range checks {
		run(code, true)
	}
	for _, code := range cursors {
		run(code, false)
	}
}
