package engine

import (
	"sync"

	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// Expressions lets a plugin compile expr code of its own (a REST source's
// paging condition, a header computed per request) with the pipeline's
// function library and timezone, with the same diagnostics as map and
// validate expressions. It is in PluginContext.
type Expressions struct {
	c *compiler
}

// Compile evaluates attribute e to its expr source string (HCL functions
// such as env() allowed) and compiles it. vars names the variables the
// expression may use, each with a sample value that gives its static type
// (nil: any type). name labels the expression in messages ("next", "header
// Authorization"). Errors are diagnostics on the attribute, at the line and
// column of the fault.
func (x *Expressions) Compile(name string, e hcl.Expression, ctx *hcl.EvalContext, vars map[string]any) (*Program, hcl.Diagnostics) {
	env := types.Map{}
	for k, v := range vars {
		if v == nil {
			env[k] = types.Any
		} else {
			env[k] = types.TypeOf(v)
		}
	}
	return x.c.compileAttr(name, e, ctx, env, nil)
}

var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// Eval runs the program with env, which must hold the variables it was
// compiled with. It is safe for concurrent use. Errors are one line: the
// failing function's own message when a library function failed.
func (p *Program) Eval(env map[string]any) (any, error) {
	m := vmPool.Get().(*vm.VM)
	defer vmPool.Put(m)
	out, err := m.Run(p.program, env)
	if err != nil {
		return nil, exprError{msg: exprMessage(err), err: err}
	}
	return out, nil
}

type exprError struct {
	msg string
	err error
}

func (e exprError) Error() string { return e.msg }
func (e exprError) Unwrap() error { return e.err }
