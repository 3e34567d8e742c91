package engine

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/etl-dev/etl/functions"
)

// Program is one compiled expression with where it came from.
type Program struct {
	Source  string // the expr code
	program *vm.Program
	typ     reflect.Type // static result type; nil when unknown
	fast    *fastExpr    // map expressions only; nil when the VM must run it
}

// MappedColumn is one target column: its expression and warehouse type.
type MappedColumn struct {
	Name     string
	Type     ColumnType
	Declared bool // Type comes from a columns override, not inference
	Expr     *Program
}

// OnFail says what a failed check does.
type OnFail string

// The check outcomes.
const (
	OnFailReject OnFail = "reject" // the record goes to the rejects table; the run goes on
	OnFailWarn   OnFail = "warn"   // the record lands; the failure is counted and logged
	OnFailAbort  OnFail = "abort"  // the run stops as failed
)

// Check is one compiled validate block.
type Check struct {
	Name    string
	Message string
	OnFail  OnFail
	Expr    *Program
}

type compiler struct {
	opts    []expr.Option
	library map[string]functions.Function
	names   []string // function names, for suggestions
	record  types.Type
	fields  []string // the source's declared fields; nil when unknown
	// slots numbers the record fields fast paths read (see fieldSlot).
	slots     map[string]int
	slotNames []string
	fastVars  bool // compiling a check or the cursor: names are variables (see fastCompileCheck)
}

func newCompiler(loc *time.Location, fields []string) *compiler {
	fopts := functions.Options{Location: loc}
	c := &compiler{
		opts:    append(functions.ExprOptions(fopts), nilSafeEqualityOptions...),
		library: map[string]functions.Function{},
		record:  types.TypeOf(map[string]any{}),
	}
	for _, f := range functions.Library(fopts) {
		c.library[f.Name] = f
		c.names = append(c.names, f.Name)
	}
	c.fields = fields
	return c
}

// recordEnv is the environment of map expressions: the source record.
func (c *compiler) recordEnv() types.Map {
	return types.Map{"record": c.record}
}

// rowEnv is the environment of checks and the cursor: the source record,
// each mapped column by name, and `row`, a map of the mapped columns (for a
// column whose name is also a function's).
func (c *compiler) rowEnv(cols []*MappedColumn) types.Map {
	env := types.Map{"record": c.record}
	row := types.Map{}
	for _, col := range cols {
		t := typeOfColumn(col)
		row[col.Name] = t
		env[col.Name] = t
	}
	env["row"] = row
	return env
}

// typeOfColumn is the static type a check sees for a mapped column: the
// value converted to the column's type, or, for decimal and json columns,
// the expression's own result (so decimal(x) > 0 and json fields work).
func typeOfColumn(col *MappedColumn) types.Type {
	switch col.Type {
	case TypeDecimal, TypeJSON:
		if t := col.Expr.typ; t != nil && t.Kind() != reflect.Interface {
			return types.TypeOf(reflect.Zero(t).Interface())
		}
		return types.Any
	case TypeText:
		return types.String
	case TypeInteger:
		return types.Int64
	case TypeFloat:
		return types.Float64
	case TypeBoolean:
		return types.Bool
	case TypeTimestamp, TypeDate:
		return types.TypeOf(time.Time{})
	}
	return types.Any
}

// checkSeesRaw reports whether checks see a column's expression result
// rather than its converted value (see typeOfColumn).
func checkSeesRaw(t ColumnType) bool { return t == TypeDecimal || t == TypeJSON }

func (c *compiler) compileMap(body hcl.Body, ctx *hcl.EvalContext) ([]*MappedColumn, hcl.Diagnostics) {
	attrs, diags := body.JustAttributes()
	var cols []*MappedColumn
	for _, a := range sortedAttrs(attrs) {
		if a.Name == DeletedAttr {
			continue // a condition, not a column: see Pipeline.Deleted
		}
		if a.Name == "record" || a.Name == "row" {
			diags = append(diags, errorAt(a.NameRange, "Reserved column name",
				fmt.Sprintf("%q names the source record in expressions; call the column something else.", a.Name)))
			continue
		}
		prog, pdiags := c.compileAttr(a.Name, a.Expr, ctx, c.recordEnv(), nil)
		diags = append(diags, pdiags...)
		if prog == nil {
			continue
		}
		prog.fast = c.fastCompile(prog.program.Node())
		cols = append(cols, &MappedColumn{Name: a.Name, Type: c.inferType(prog), Expr: prog})
	}
	if len(cols) == 0 && !diags.HasErrors() {
		diags = append(diags, errorAt(body.MissingItemRange(), "Empty map block",
			`Map at least one column: name = "expression".`))
	}
	return cols, diags
}

func (c *compiler) compileCheck(vc *validateConfig, ctx *hcl.EvalContext, cols []*MappedColumn) (*Check, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	attrs, _ := vc.Body.JustAttributes()
	chk := &Check{Name: vc.Name, OnFail: OnFailReject, Message: fmt.Sprintf("check %s failed", vc.Name)}
	if vc.Message != nil {
		chk.Message = *vc.Message
	}
	if vc.OnFail != nil {
		switch f := OnFail(*vc.OnFail); f {
		case OnFailReject, OnFailWarn, OnFailAbort:
			chk.OnFail = f
		default:
			diags = append(diags, errorAt(attrRange(attrs, "on_fail", vc.DefRange), "Invalid on_fail",
				fmt.Sprintf("on_fail is %q; use \"reject\", \"warn\" or \"abort\".%s", *vc.OnFail, didYouMean(*vc.OnFail, []string{"reject", "warn", "abort"}))))
		}
	}
	prog, pdiags := c.compileAttr("check", vc.Check, ctx, c.rowEnv(cols), []expr.Option{expr.AsBool()})
	diags = append(diags, pdiags...)
	if prog == nil {
		return nil, diags
	}
	prog.fast = c.fastCompileCheck(prog.program.Node(), true)
	chk.Expr = prog
	return chk, diags
}

// compileAttr evaluates an attribute to its expr source string and compiles
// it against env. Errors are placed on the attribute's range, at the line and
// column of the expr error when it has one.
func (c *compiler) compileAttr(name string, e hcl.Expression, ctx *hcl.EvalContext, env types.Map, extra []expr.Option) (*Program, hcl.Diagnostics) {
	var src string
	if diags := gohcl.DecodeExpression(e, ctx, &src); diags.HasErrors() {
		return nil, diags
	}
	rng := e.Range()
	if strings.TrimSpace(src) == "" {
		return nil, hcl.Diagnostics{errorAt(rng, "Empty expression", fmt.Sprintf("%s needs an expression, such as \"record.id\".", name))}
	}
	if err := checkNesting(src); err != nil {
		return nil, hcl.Diagnostics{c.exprDiagnostic(name, e, src, err, env)}
	}
	opts := make([]expr.Option, 0, len(c.opts)+4)
	opts = append(opts, expr.Env(env))
	opts = append(opts, c.opts...)
	opts = append(opts, extra...)
	if tree, err := parser.Parse(src); err == nil {
		if err := c.checkArity(tree.Node, src); err != nil {
			return nil, hcl.Diagnostics{c.exprDiagnostic(name, e, src, err, env)}
		}
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, hcl.Diagnostics{c.exprDiagnostic(name, e, src, err, env)}
	}
	if err := c.checkFields(prog.Node(), src); err != nil {
		return nil, hcl.Diagnostics{c.exprDiagnostic(name, e, src, err, env)}
	}

	return &Program{Source: src, program: prog, typ: prog.Node().Type()}, nil
}

// MaxExprNesting is how deeply brackets may nest in an expression. expr's
// parser recurses once per bracket and makes no node for a parenthesis, so
// its node limit does not stop 100,000 of them (hundreds of MB of stack).
const MaxExprNesting = 200

// checkNesting reports the first bracket, outside string literals, that
// nests deeper than MaxExprNesting; it runs before the parser does.
func checkNesting(src string) error {
	depth, runes := 0, 0
	var quote rune
	escaped := false
	for _, r := range src {
		runes++
		switch {
		case quote != 0:
			switch {
			case escaped:
				escaped = false
			case r == '\\' && quote != '`':
				escaped = true
			case r == quote:
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			if depth++; depth > MaxExprNesting {
				fe := &file.Error{Location: file.Location{From: runes - 1, To: runes},
					Message: fmt.Sprintf("brackets nest deeper than %d levels", MaxExprNesting)}
				return fe.Bind(file.NewSource(src))
			}
		case r == ')' || r == ']' || r == '}':
			depth--
		}
	}
	return nil
}

// checkFields reports a `record.<name>` whose name the source did not
// declare. (A strict types.Map for record would do this in the checker, but
// expr v1.17 loses that error when operator overloads are configured, as the
// decimal operators are.)
func (c *compiler) checkFields(root ast.Node, src string) error {
	if c.fields == nil {
		return nil
	}
	v := &fieldVisitor{known: map[string]bool{}}
	for _, f := range c.fields {
		v.known[f] = true
	}
	ast.Walk(&root, v)
	if v.bad == nil {
		return nil
	}
	fe := &file.Error{Location: v.bad.Property.Location(),
		Message: fmt.Sprintf("unknown field %s (declared: %s)", v.bad.Property.(*ast.StringNode).Value, strings.Join(c.fields, ", "))}
	return fe.Bind(file.NewSource(src))
}

// checkArity reports a library call with too few or too many arguments, on
// the parsed tree (where a name expr also has as a builtin is still a
// BuiltinNode). expr's checker misses some (a call nested in another's
// argument, such as lower(trim())), which would fail every record at run
// time, and panics on others (lower(trim(1, 2))).
func (c *compiler) checkArity(root ast.Node, src string) error {
	var bad error
	ast.Find(root, func(n ast.Node) bool {
		if bad != nil {
			return false
		}
		var name string
		var args int
		switch call := n.(type) {
		case *ast.CallNode:
			id, ok := call.Callee.(*ast.IdentifierNode)
			if !ok {
				return false
			}
			name, args = id.Value, len(call.Arguments)
		case *ast.BuiltinNode:
			name, args = call.Name, len(call.Arguments)
		default:
			return false
		}
		f, ok := c.library[name]
		if !ok || len(f.Types) == 0 {
			return false
		}
		fewest, most := -1, 0
		for _, t := range f.Types {
			ft := reflect.TypeOf(t).Elem()
			in := ft.NumIn()
			if ft.IsVariadic() {
				in--
				most = math.MaxInt
			}
			most = max(most, in)
			if fewest < 0 || in < fewest {
				fewest = in
			}
		}
		msg := ""
		switch {
		case args < fewest:
			msg = "not enough arguments to call " + name
		case args > most:
			msg = "too many arguments to call " + name
		default:
			return false
		}
		fe := &file.Error{Location: n.Location(), Message: msg}
		bad = fe.Bind(file.NewSource(src))
		return true
	})
	return bad
}

type fieldVisitor struct {
	known map[string]bool
	bad   *ast.MemberNode
}

func (v *fieldVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || v.bad != nil {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "record" {
		return
	}
	if p, ok := m.Property.(*ast.StringNode); ok && !v.known[p.Value] {
		v.bad = m
	}
}

// exprDiagnostic turns an expr compile error into a diagnostic at its
// position; env names the variables the expression could use.
func (c *compiler) exprDiagnostic(name string, e hcl.Expression, src string, err error, env types.Map) *hcl.Diagnostic {
	rng := e.Range()
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
		start := exprSourceStart(e)
		pos := hcl.Pos{Line: start.Line + fe.Line - 1, Column: fe.Column + 1}
		if fe.Line <= 1 {
			pos.Column = start.Column + fe.Column
		}
		pos.Byte = start.Byte + byteOffset(src, fe.Line, fe.Column)
		rng = hcl.Range{Filename: rng.Filename, Start: pos, End: hcl.Pos{Line: pos.Line, Column: pos.Column + 1, Byte: pos.Byte + 1}}
	}
	summary := "Invalid expression"
	detail := fmt.Sprintf("In %s: %s.", name, msg)
	switch {
	case strings.HasPrefix(msg, "unknown name "):
		n := strings.TrimPrefix(msg, "unknown name ")
		summary = "Unknown name"
		vars := make([]string, 0, len(env))
		for v := range env {
			vars = append(vars, v)
		}
		sort.Strings(vars)
		detail = fmt.Sprintf("In %s: %q is neither a function nor a variable.%s Variables here: %s; functions: see the README.",
			name, n, didYouMean(n, append(vars, c.names...)), strings.Join(vars, ", "))
	case strings.Contains(msg, "unknown field") || strings.HasPrefix(msg, "type map[string]interface {} has no field"):
		summary = "Unknown record field"
		detail = fmt.Sprintf("In %s: %s. The source declares its fields; use one of them.", name, msg)
	case strings.Contains(msg, "mismatched types") || strings.Contains(msg, "expected bool") || strings.Contains(msg, "cannot use") || strings.Contains(msg, "not enough arguments") || strings.Contains(msg, "too many arguments"):
		summary = "Type error in expression"
	case strings.HasPrefix(msg, "brackets nest deeper"):
		summary = "Expression nested too deeply"
		detail = fmt.Sprintf("In %s: %s; split it into columns, or simplify it.", name, msg)
	case strings.HasPrefix(msg, "unexpected token") || strings.HasPrefix(msg, "unexpected"):
		summary = "Syntax error in expression"
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &rng}
}

// byteOffset is the byte offset of (line, column) in src; line is 1-based,
// column counts runes from 0.
func byteOffset(src string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			return off
		}
		off += i + 1
	}
	for n := 0; n < col && off < len(src); n++ {
		_, size := utf8.DecodeRuneInString(src[off:])
		off += size
	}
	return off
}

// inferType gives a mapped column its warehouse type: from the root
// function's declared column type when the expression is a library call
// (looking through ?? and ?:), else from the expression's static Go type;
// text when neither says.
func (c *compiler) inferType(p *Program) ColumnType {
	if t := c.hintOf(p.program.Node()); t != "" {
		return t
	}
	return columnTypeOf(p.typ)
}

func (c *compiler) hintOf(n ast.Node) ColumnType {
	switch n := n.(type) {
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			if f, ok := c.library[id.Value]; ok && f.Column != "" {
				if t, ok := ParseColumnType(f.Column); ok {
					return t
				}
			}
		}
	case *ast.BinaryNode:
		if n.Operator == "??" {
			return c.hintOf(n.Left)
		}
	case *ast.ConditionalNode:
		if t := c.hintOf(n.Exp1); t != "" {
			return t
		}
		return c.hintOf(n.Exp2)
	}
	return ""
}

var timeType = reflect.TypeOf(time.Time{})

func columnTypeOf(t reflect.Type) ColumnType {
	if t == nil {
		return TypeText
	}
	if t == timeType {
		return TypeTimestamp
	}
	if t == reflect.TypeOf(functions.Decimal{}) || t == reflect.TypeOf(&functions.Decimal{}) {
		return TypeDecimal
	}
	switch t.Kind() {
	case reflect.String:
		return TypeText
	case reflect.Bool:
		return TypeBoolean
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return TypeInteger
	case reflect.Float32, reflect.Float64:
		return TypeFloat
	case reflect.Map, reflect.Slice, reflect.Array:
		return TypeJSON
	}
	return TypeText
}

// nilSafeEqualName names the function nilSafeEquality calls; it holds a
// space, so no expression can call it by name.
const nilSafeEqualName = "nil-safe =="

// nilSafeEqualityOptions make == and != nil-safe (see nilSafeEquality).
var nilSafeEqualityOptions = []expr.Option{
	expr.Function(nilSafeEqualName, nilSafeEqual, new(func(any, any) bool)),
	expr.Patch(nilSafeEquality{}),
}

func nilSafeEqual(p ...any) (any, error) { return runtime.Equal(p[0], p[1]), nil }

// nilSafeEquality rewrites a == b and a != b between two string or two int
// operands into a nil-safe comparison. expr compiles those to fast paths
// that assert their operands' Go types, but library functions and mapped
// columns are typed string or int and nil when a value is missing:
// `lower(record.label) == 'hubspot'` must be false for a missing label, not
// a failed record.
type nilSafeEquality struct{}

func (nilSafeEquality) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok || (b.Operator != "==" && b.Operator != "!=") {
		return
	}
	l, r := b.Left.Type(), b.Right.Type()
	if l == nil || r == nil || l.Kind() != r.Kind() || (l.Kind() != reflect.String && l.Kind() != reflect.Int) {
		return
	}
	var n ast.Node = &ast.CallNode{Callee: &ast.IdentifierNode{Value: nilSafeEqualName}, Arguments: []ast.Node{b.Left, b.Right}}
	if b.Operator == "!=" {
		n = &ast.UnaryNode{Operator: "!", Node: n}
	}
	ast.Patch(node, n)
}
