package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// unsetValue is a config-time call whose value was not available while
// loading without Strict (etl validate, plan, test): env(name) of an unset
// variable, file(path) of an unreadable file.
type unsetValue struct {
	fn, arg string // the function and its argument as written
	shown   string // what the warning names: the variable, or the file's path
}

// configCall is an env() or file() call with a literal argument, and the
// attribute that holds it.
type configCall struct {
	fn, arg string
	call    hcl.Range
	attr    hcl.Range
}

// configCalls finds the env() and file() calls with a literal argument in
// the file's attributes, nested blocks included.
func configCalls(f *hcl.File) []configCall {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []configCall
	hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		a, ok := n.(*hclsyntax.Attribute)
		if !ok {
			return nil
		}
		hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
			c, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || (c.Name != "env" && c.Name != "file") || len(c.Args) == 0 {
				return nil
			}
			v, diags := c.Args[0].Value(nil)
			if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(cty.String) {
				return nil
			}
			out = append(out, configCall{fn: c.Name, arg: v.AsString(), call: c.Range(), attr: a.SrcRange})
			return nil
		})
		return nil
	})
	return out
}

// unsetDiagnostics turns the values that were not available into warnings
// at their env()/file() calls, and drops the errors a plugin reported for
// the attributes that hold such a call (the empty value stood in for the
// real one: "Empty path" says nothing about the file). An unset value is a
// warning wherever it is used, so `etl validate` passes in CI without
// secrets; `etl run` loads with Strict, where it is an error at the call.
// dropped reports whether an error was dropped.
func unsetDiagnostics(diags hcl.Diagnostics, unset []unsetValue, calls []configCall, fallback hcl.Range) (out hcl.Diagnostics, dropped bool) {
	if len(unset) == 0 {
		return diags, false
	}
	var attrs []hcl.Range
	var warns hcl.Diagnostics
	for _, u := range unset {
		rng := fallback
		var held []string
		for _, c := range calls {
			if c.fn == u.fn && c.arg == u.arg {
				if rng == fallback {
					rng = c.call
				}
				attrs = append(attrs, c.attr)
				held = append(held, fmt.Sprintf("line %d", c.attr.Start.Line))
			}
		}
		detail := fmt.Sprintf("%s is not set or not readable here; etl run will fail without it.", u.shown)
		if len(held) > 0 {
			detail += fmt.Sprintf(" The attribute that uses it (%s) is not checked further here.", strings.Join(held, ", "))
		}
		r := rng
		warns = append(warns, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Value not available", Detail: detail, Subject: &r})
	}
	for _, d := range diags {
		if d.Severity == hcl.DiagError && d.Subject != nil && withinAny(*d.Subject, attrs) {
			dropped = true
			continue
		}
		out = append(out, d)
	}
	return append(out, warns...), dropped
}

func withinAny(r hcl.Range, outer []hcl.Range) bool {
	for _, o := range outer {
		if r.Filename == o.Filename && r.Start.Byte >= o.Start.Byte && r.End.Byte <= o.End.Byte {
			return true
		}
	}
	return false
}

// unavailableSource stands in for a source whose configuration could not
// be built because a value was not available (see unsetDiagnostics).
type unavailableSource struct{ why string }

func (s unavailableSource) Read(context.Context, ReadOptions, func(Record) error) error {
	return fmt.Errorf("the source is not configured: %s", s.why)
}
