package engine

import (
	"reflect"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
)

// The fast path evaluates the expressions most pipelines are made of —
// `record.x`, `record?.a?.b`, library calls such as `int(record.id)` or
// `nullif(trim(record.name), '')`, literals, `??`, and in checks the
// columns, comparisons, `||`, `&&`, `!`, `?:` and the decimal operators —
// by walking a tree of closures compiled once, instead of running expr's
// VM, whose member access goes through reflection and whose calls allocate
// their arguments. A top-level field of a record in the Values form is read
// by its slot in the record's schema.
//
// It never decides an outcome the VM would decide differently: it handles
// only the cases whose result is certain (a map[string]any to index, a
// function that returned without error or panic, a bool where expr wants
// one) and gives up on anything else (a member of a nil or of a non-map, a
// function's error, …), and the caller then runs the expression on the VM,
// which produces the result or the error exactly as before. Re-running is
// safe: library functions are pure. fastpath_test.go compares the two on
// every map expression of the shipped pipelines, on their checks and
// cursors, and on handwritten and fuzzed ones.

// fastStatus is how evaluating a fast node ended.
type fastStatus uint8

const (
	fastOK       fastStatus = iota
	fastGiveUp              // run the whole expression on the VM instead
	fastChainNil            // an optional member (?.) met nil: the chain is nil
)

// fastEnv is what fast nodes evaluate against: the record, and a stack that
// calls take their arguments from (reused across records, so a call
// allocates nothing for its arguments). It belongs to one goroutine.
type fastEnv struct {
	rec  *Record
	args []any
	// recMap is rec's fields as a map, built on demand for a record in the
	// Values form (the VM, and a bare `record`, need one).
	recMap   map[string]any
	recBuilt bool
	// fields names the record fields the expressions read at the top level
	// (compiler.fieldSlot); idx[k] is where fields[k] is in schema's Values,
	// or -1.
	fields []string
	schema *Schema
	idx    []int
	// vars are the variables of checks and the cursor: each column read by
	// name, and row (the transformer's env).
	vars map[string]any
}

// reset points e at rec.
func (e *fastEnv) reset(rec *Record) {
	e.rec, e.recMap, e.recBuilt = rec, nil, false
	if rec.Schema != nil && rec.Schema != e.schema {
		e.schema = rec.Schema
		e.idx = e.idx[:0]
		for _, name := range e.fields {
			i, ok := rec.Schema.index[name]
			if !ok {
				i = -1
			}
			e.idx = append(e.idx, i)
		}
	}
}

// recordMap is the record as the map expressions see `record`.
func (e *fastEnv) recordMap() map[string]any {
	if !e.recBuilt {
		e.recMap, e.recBuilt = e.rec.Map(), true
	}
	return e.recMap
}

// field is the top-level field fields[k] of the record: nil when missing,
// as a map gives.
func (e *fastEnv) field(k int, name string) any {
	r := e.rec
	if r.Schema == nil {
		return r.Fields[name]
	}
	if k < len(e.idx) {
		if i := e.idx[k]; i >= 0 && i < len(r.Values) {
			return r.Values[i]
		}
		return nil
	}
	v, _ := r.Get(name) // a slot compiled after e was made
	return v
}

type fastNode func(e *fastEnv) (any, fastStatus)

// fastExpr is a compiled fast path of one expression.
type fastExpr struct{ eval fastNode }

// run evaluates the expression for the record e was reset to; ok is false
// when the VM must run it instead.
func (f *fastExpr) run(e *fastEnv) (v any, ok bool) {
	defer func() {
		clear(e.args[:cap(e.args)]) // drop references to this record's values
		e.args = e.args[:0]
		if recover() != nil {
			v, ok = nil, false // a function panicked: the VM turns that into an error
		}
	}()
	out, st := f.eval(e)
	switch st {
	case fastOK:
		return out, true
	case fastChainNil:
		return nil, true
	}
	return nil, false
}

// fastCompile compiles the checked and patched AST of a map expression
// (whose environment holds only `record`) into a fast path, or returns nil
// when some node is of a kind it does not handle.
func (c *compiler) fastCompile(root ast.Node) *fastExpr {
	n := c.fastNode(root, false)
	if n == nil {
		return nil
	}
	return &fastExpr{eval: n}
}

// fastCompileCheck compiles a check or the cursor, whose environment also
// holds the mapped columns by name and row, read from fastEnv.vars. A check
// must give a bool (expr.AsBool): any other result is left to the VM, which
// reports it.
func (c *compiler) fastCompileCheck(root ast.Node, wantBool bool) *fastExpr {
	c.fastVars = true
	defer func() { c.fastVars = false }()
	n := c.fastNode(root, false)
	if n == nil {
		return nil
	}
	if wantBool {
		inner := n
		n = func(e *fastEnv) (any, fastStatus) {
			v, st := inner(e)
			if _, ok := v.(bool); st != fastOK || !ok {
				return nil, fastGiveUp
			}
			return v, fastOK
		}
	}
	return &fastExpr{eval: n}
}

func (c *compiler) fastNode(n ast.Node, inChain bool) fastNode {
	if t := n.Type(); t != nil && t.Kind() == reflect.Pointer {
		return nil // the VM dereferences pointers in places; leave them to it
	}
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if n.Value == "record" {
			return func(e *fastEnv) (any, fastStatus) { return e.recordMap(), fastOK }
		}
		if !c.fastVars {
			return nil
		}
		name := n.Value
		return func(e *fastEnv) (any, fastStatus) { return e.vars[name], fastOK }
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil
		}
		inner := c.fastNode(n.Node, false)
		if inner == nil {
			return nil
		}
		return func(e *fastEnv) (any, fastStatus) {
			v, st := inner(e)
			b, ok := v.(bool)
			if st != fastOK || !ok {
				return nil, fastGiveUp // expr's ! wants a bool
			}
			return !b, fastOK
		}
	case *ast.ConditionalNode:
		cond, yes, no := c.fastNode(n.Cond, false), c.fastNode(n.Exp1, false), c.fastNode(n.Exp2, false)
		if cond == nil || yes == nil || no == nil {
			return nil
		}
		return func(e *fastEnv) (any, fastStatus) {
			v, st := cond(e)
			b, ok := v.(bool)
			if st != fastOK || !ok {
				return nil, fastGiveUp
			}
			if b {
				return yes(e)
			}
			return no(e)
		}
	case *ast.StringNode:
		v := any(n.Value)
		return func(*fastEnv) (any, fastStatus) { return v, fastOK }
	case *ast.IntegerNode:
		v := any(n.Value)
		return func(*fastEnv) (any, fastStatus) { return v, fastOK }
	case *ast.FloatNode:
		v := any(n.Value)
		return func(*fastEnv) (any, fastStatus) { return v, fastOK }
	case *ast.BoolNode:
		v := any(n.Value)
		return func(*fastEnv) (any, fastStatus) { return v, fastOK }
	case *ast.NilNode:
		return func(*fastEnv) (any, fastStatus) { return nil, fastOK }
	case *ast.ConstantNode:
		v := n.Value
		return func(*fastEnv) (any, fastStatus) { return v, fastOK }
	case *ast.ChainNode:
		inner := c.fastNode(n.Node, true)
		if inner == nil {
			return nil
		}
		// A chain that met nil, or ended in a typed nil, is plain nil.
		return func(e *fastEnv) (any, fastStatus) {
			v, st := inner(e)
			switch {
			case st == fastChainNil:
				return nil, fastOK
			case st != fastOK:
				return nil, st
			case runtime.IsNil(v):
				return nil, fastOK
			}
			return v, fastOK
		}
	case *ast.MemberNode:
		return c.fastMember(n, inChain)
	case *ast.CallNode:
		return c.fastCall(n, inChain)
	case *ast.BinaryNode:
		left, right := c.fastNode(n.Left, false), c.fastNode(n.Right, false)
		if left == nil || right == nil {
			return nil
		}
		if n.Operator != "??" {
			return fastBinary(n.Operator, left, right)
		}
		return func(e *fastEnv) (any, fastStatus) {
			v, st := left(e)
			switch {
			case st == fastGiveUp:
				return nil, st
			case st == fastChainNil || runtime.IsNil(v):
				return right(e)
			}
			return v, fastOK
		}
	}
	return nil
}

// fastMember indexes a map[string]any by a constant name: a missing name is
// nil, as in expr. Anything but a map (nil included, unless the access is
// optional) is left to the VM, which reports it.
func (c *compiler) fastMember(n *ast.MemberNode, inChain bool) fastNode {
	prop, ok := n.Property.(*ast.StringNode)
	if !ok || n.Method {
		return nil
	}
	base := c.fastNode(n.Node, inChain)
	if base == nil {
		return nil
	}
	name := prop.Value
	if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "record" {
		// A field of the record: read in place, whatever its form. (The
		// record is never nil: `record?.x` is `record.x`.)
		k := c.fieldSlot(name)
		return func(e *fastEnv) (any, fastStatus) { return e.field(k, name), fastOK }
	}
	optional := n.Optional && inChain
	return func(e *fastEnv) (any, fastStatus) {
		v, st := base(e)
		if st != fastOK {
			return nil, st
		}
		if m, ok := v.(map[string]any); ok {
			return m[name], fastOK
		}
		if optional && runtime.IsNil(v) {
			return nil, fastChainNil
		}
		return nil, fastGiveUp
	}
}

// fieldSlot numbers the top-level record fields the pipeline's fast paths
// read, for fastEnv to find each in a schema once.
func (c *compiler) fieldSlot(name string) int {
	if k, ok := c.slots[name]; ok {
		return k
	}
	if c.slots == nil {
		c.slots = map[string]int{}
	}
	k := len(c.slotNames)
	c.slots[name] = k
	c.slotNames = append(c.slotNames, name)
	return k
}

// fastBinary is a comparison or a logical operator, as expr's VM runs it:
// == and != by runtime.Equal (the nil-safe rewrite and the decimal
// overloads are calls, not operators, by now), ordering by runtime.Less and
// its kin (which panic, so give up, on operands they cannot order), and ||
// and && short-circuiting on a bool left operand and giving the right one
// as it is.
func fastBinary(op string, left, right fastNode) fastNode {
	both := func(f func(a, b any) any) fastNode {
		return func(e *fastEnv) (any, fastStatus) {
			a, st := left(e)
			if st != fastOK {
				return nil, fastGiveUp
			}
			b, st := right(e)
			if st != fastOK {
				return nil, fastGiveUp
			}
			return f(a, b), fastOK
		}
	}
	logical := func(shortOn bool) fastNode {
		return func(e *fastEnv) (any, fastStatus) {
			a, st := left(e)
			b, ok := a.(bool)
			if st != fastOK || !ok {
				return nil, fastGiveUp // expr's jump wants a bool
			}
			if b == shortOn {
				return a, fastOK
			}
			v, st := right(e)
			if st != fastOK {
				return nil, fastGiveUp
			}
			return v, fastOK
		}
	}
	switch op {
	case "==":
		return both(func(a, b any) any { return runtime.Equal(a, b) })
	case "!=":
		return both(func(a, b any) any { return !runtime.Equal(a, b) })
	case "<":
		return both(func(a, b any) any { return runtime.Less(a, b) })
	case "<=":
		return both(func(a, b any) any { return runtime.LessOrEqual(a, b) })
	case ">":
		return both(func(a, b any) any { return runtime.More(a, b) })
	case ">=":
		return both(func(a, b any) any { return runtime.MoreOrEqual(a, b) })
	case "||", "or":
		return logical(true)
	case "&&", "and":
		return logical(false)
	}
	return nil
}

// fastFunc is the Go function an expr function name calls: a library
// function, one of its operators, or the nil-safe equality.
func (c *compiler) fastFunc(name string) func(...any) (any, error) {
	if f, ok := c.library[name]; ok {
		return f.Func
	}
	if name == nilSafeEqualName {
		return nilSafeEqual
	}
	for _, f := range c.library {
		if op, ok := f.Operators[name]; ok {
			return op
		}
	}
	return nil
}

// fastCall calls a library function with its arguments evaluated onto the
// env's argument stack; an error from the function is left to the VM.
func (c *compiler) fastCall(n *ast.CallNode, inChain bool) fastNode {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	fn := c.fastFunc(id.Value)
	if fn == nil {
		return nil
	}
	args := make([]fastNode, len(n.Arguments))
	for i, a := range n.Arguments {
		if args[i] = c.fastNode(a, inChain); args[i] == nil {
			return nil
		}
	}
	return func(e *fastEnv) (any, fastStatus) {
		base := len(e.args)
		for _, a := range args {
			v, st := a(e)
			if st != fastOK {
				e.args = e.args[:base]
				return nil, st
			}
			e.args = append(e.args, v)
		}
		out, err := fn(e.args[base:]...)
		e.args = e.args[:base]
		if err != nil {
			return nil, fastGiveUp
		}
		return out, fastOK
	}
}
