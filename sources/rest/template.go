package rest

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/etl-dev/etl/engine"
)

// A template is a value from the pipeline file (a query, headers or body
// value, the url) whose strings may hold {{ expr }} parts evaluated for each
// request. A string that is exactly one {{ expr }} takes the expression's
// value with its type (a number stays a number in a JSON body) and nil
// leaves the key out; a string that mixes text and {{ expr }} parts is
// rendered as text, nil parts as "".
type template interface {
	eval(env map[string]any) (any, error)
}

// requestVars are the variables request templates see, with sample values
// that give their static types (nil: any).
var requestVars = map[string]any{
	"since":  nil, // the incremental lower bound (inclusive) or nil
	"cursor": nil, // the paging cursor: the value to send back, nil at first
	"page":   0,   // the page number, from 1
	"offset": 0,   // records before this page
}

type literal struct{ v any }

func (l literal) eval(map[string]any) (any, error) { return l.v, nil }

type objectTmpl struct {
	keys []string
	vals []template
}

func (o *objectTmpl) eval(env map[string]any) (any, error) {
	out := make(map[string]any, len(o.keys))
	for i, k := range o.keys {
		v, err := o.vals[i].eval(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if _, omit := v.(omitted); omit {
			continue
		}
		out[k] = v
	}
	return out, nil
}

type listTmpl []template

func (l listTmpl) eval(env map[string]any) (any, error) {
	out := make([]any, 0, len(l))
	for i, t := range l {
		v, err := t.eval(env)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		if _, omit := v.(omitted); omit {
			v = nil
		}
		out = append(out, v)
	}
	return out, nil
}

// omitted is what a whole-string {{ expr }} gives when expr is nil: the
// key it is the value of is left out.
type omitted struct{}

type exprTmpl struct{ p *engine.Program }

func (e exprTmpl) eval(env map[string]any) (any, error) {
	v, err := e.p.Eval(env)
	if err != nil {
		return nil, fmt.Errorf("{{ %s }}: %w", strings.TrimSpace(e.p.Source), err)
	}
	if v == nil {
		return omitted{}, nil
	}
	return v, nil
}

type interpTmpl struct {
	parts []template // literal strings and exprTmpl
}

func (t interpTmpl) eval(env map[string]any) (any, error) {
	var b strings.Builder
	for _, p := range t.parts {
		v, err := p.eval(env)
		if err != nil {
			return nil, err
		}
		if _, omit := v.(omitted); omit {
			continue
		}
		b.WriteString(formatScalar(v))
	}
	return b.String(), nil
}

var templateRE = regexp.MustCompile(`\{\{(.*?)\}\}`)

// compileTemplate turns attribute expression e (already known to be
// present) into a template, compiling every {{ expr }} against vars. It
// walks object and tuple constructors so diagnostics point at the value at
// fault.
func compileTemplate(name string, e hcl.Expression, ctx *hcl.EvalContext, x *engine.Expressions, vars map[string]any) (template, hcl.Diagnostics) {
	switch s := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		var diags hcl.Diagnostics
		o := &objectTmpl{}
		seen := map[string]bool{}
		for _, item := range s.Items {
			kv, kd := item.KeyExpr.Value(ctx)
			if kd.HasErrors() {
				diags = append(diags, kd...)
				continue
			}
			if kv.IsNull() || !kv.IsKnown() || kv.Type() != cty.String {
				diags = append(diags, errorAt(item.KeyExpr.Range(), "Invalid key", fmt.Sprintf("In %s: keys are names or strings.", name)))
				continue
			}
			k := kv.AsString()
			if seen[k] {
				diags = append(diags, errorAt(item.KeyExpr.Range(), "Duplicate key", fmt.Sprintf("In %s: %q appears twice.", name, k)))
				continue
			}
			seen[k] = true
			t, d := compileTemplate(name+"."+k, item.ValueExpr, ctx, x, vars)
			diags = append(diags, d...)
			o.keys = append(o.keys, k)
			o.vals = append(o.vals, t)
		}
		return o, diags
	case *hclsyntax.TupleConsExpr:
		var diags hcl.Diagnostics
		l := make(listTmpl, 0, len(s.Exprs))
		for i, ie := range s.Exprs {
			t, d := compileTemplate(fmt.Sprintf("%s[%d]", name, i), ie, ctx, x, vars)
			diags = append(diags, d...)
			l = append(l, t)
		}
		return l, diags
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	return templateOf(name, v, e.Range(), x, vars)
}

// templateOf turns an evaluated value into a template.
func templateOf(name string, v cty.Value, rng hcl.Range, x *engine.Expressions, vars map[string]any) (template, hcl.Diagnostics) {
	if v.IsNull() {
		return literal{nil}, nil
	}
	if !v.IsKnown() {
		return literal{nil}, nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return stringTemplate(name, v.AsString(), rng, x, vars)
	case t == cty.Number:
		return literal{numberOf(v.AsBigFloat())}, nil
	case t == cty.Bool:
		return literal{v.True()}, nil
	case t.IsObjectType() || t.IsMapType():
		var diags hcl.Diagnostics
		o := &objectTmpl{}
		m := v.AsValueMap()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ct, d := templateOf(name+"."+k, m[k], rng, x, vars)
			diags = append(diags, d...)
			o.keys = append(o.keys, k)
			o.vals = append(o.vals, ct)
		}
		return o, diags
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		var diags hcl.Diagnostics
		var l listTmpl
		for i, ev := range v.AsValueSlice() {
			ct, d := templateOf(fmt.Sprintf("%s[%d]", name, i), ev, rng, x, vars)
			diags = append(diags, d...)
			l = append(l, ct)
		}
		return l, diags
	}
	return nil, hcl.Diagnostics{errorAt(rng, "Unsupported value", fmt.Sprintf("In %s: a %s cannot be sent; use strings, numbers, booleans, objects and lists.", name, t.FriendlyName()))}
}

// stringTemplate compiles the {{ expr }} parts of s.
func stringTemplate(name, s string, rng hcl.Range, x *engine.Expressions, vars map[string]any) (template, hcl.Diagnostics) {
	locs := templateRE.FindAllStringSubmatchIndex(s, -1)
	if len(locs) == 0 {
		return literal{s}, nil
	}
	var diags hcl.Diagnostics
	compile := func(src string) template {
		p, d := x.Compile(name, hcl.StaticExpr(cty.StringVal(src), rng), nil, vars)
		diags = append(diags, d...)
		if p == nil {
			return literal{nil}
		}
		return exprTmpl{p}
	}
	if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(s) {
		return compile(s[locs[0][2]:locs[0][3]]), diags
	}
	var it interpTmpl
	prev := 0
	for _, l := range locs {
		if l[0] > prev {
			it.parts = append(it.parts, literal{s[prev:l[0]]})
		}
		it.parts = append(it.parts, compile(s[l[2]:l[3]]))
		prev = l[1]
	}
	if prev < len(s) {
		it.parts = append(it.parts, literal{s[prev:]})
	}
	return it, diags
}

// numberOf gives an HCL number as int64 when integral and in range, else as
// json.Number, so no precision is lost on its way to the wire.
func numberOf(f *big.Float) any {
	if f.IsInt() {
		if i, acc := f.Int64(); acc == big.Exact {
			return i
		}
		return json.Number(f.Text('f', 0))
	}
	return json.Number(f.Text('g', -1))
}

// formatScalar renders a value for a query parameter, a header or an
// interpolated string.
func formatScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case fmt.Stringer:
		return x.String()
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

// usesVar reports whether any {{ expr }} of t mentions variable name.
func usesVar(t template, name string) bool {
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`)
	var walk func(t template) bool
	walk = func(t template) bool {
		switch x := t.(type) {
		case exprTmpl:
			return re.MatchString(x.p.Source)
		case interpTmpl:
			for _, p := range x.parts {
				if walk(p) {
					return true
				}
			}
		case *objectTmpl:
			for _, v := range x.vals {
				if walk(v) {
					return true
				}
			}
		case listTmpl:
			for _, v := range x {
				if walk(v) {
					return true
				}
			}
		}
		return false
	}
	return t != nil && walk(t)
}

// Template is a value from the pipeline file whose strings may hold
// {{ expr }} parts evaluated for each request, as the rest source's query,
// headers and body are (see README.md): other HTTP sources use it for their
// own per-request values, such as OData's headers. It is safe for
// concurrent use.
type Template struct{ t template }

// CompileTemplate compiles attribute e into a Template, every {{ expr }}
// part against vars (each name with a sample value giving its static type;
// nil: any). name labels the value in diagnostics and errors ("headers").
// Diagnostics point at the value at fault.
func CompileTemplate(name string, e hcl.Expression, ctx *hcl.EvalContext, x *engine.Expressions, vars map[string]any) (*Template, hcl.Diagnostics) {
	t, diags := compileTemplate(name, e, ctx, x, vars)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Template{t: t}, diags
}

// IsObject reports whether the template is an object of names and values,
// as headers and query parameters must be.
func (t *Template) IsObject() bool {
	_, ok := t.t.(*objectTmpl)
	return ok
}

// Eval evaluates the template over env, which holds the variables it was
// compiled with. An object key whose value is exactly one {{ expr }} that
// gives nil is left out; a whole template that is one such value gives nil.
func (t *Template) Eval(env map[string]any) (any, error) {
	v, err := t.t.eval(env)
	if _, omit := v.(omitted); omit {
		return nil, err
	}
	return v, err
}

// Strings evaluates an object template (IsObject) to text values, the way
// the rest source renders query parameters and headers: numbers as plain
// decimals, timestamps as RFC 3339 UTC, left-out keys absent.
func (t *Template) Strings(env map[string]any) (map[string]string, error) {
	v, err := t.t.eval(env)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object of names and values")
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		out[k] = formatScalar(x)
	}
	return out, nil
}

// Keys lists an object template's keys in order; nil for other templates.
func (t *Template) Keys() []string {
	if o, ok := t.t.(*objectTmpl); ok {
		return append([]string(nil), o.keys...)
	}
	return nil
}
