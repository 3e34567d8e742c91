package engine

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// transformer runs a pipeline's map, cursor and checks over records. It
// owns one VM and one environment, reused for every record: it is not safe
// for concurrent use; make one per goroutine.
type transformer struct {
	p     *Pipeline
	vm    vm.VM
	fast  fastEnv
	env   map[string]any // record, each column, row
	row   map[string]any // the columns, as `row`
	since any            // records whose cursor is below it are skipped
	until any            // records whose cursor is above it are skipped (--until)
	keys  []int          // indexes of the sink's key columns
	// inEnv[i] says whether a check or the cursor reads column i, by name
	// or through row: the others are not copied into env and row.
	inEnv []bool
	// checksReadRecord says whether a check or the cursor reads `record`,
	// so that env needs it even when every column had its fast path.
	checksReadRecord bool
	// present notes which record fields the map reads some record had.
	present *presence
}

func newTransformer(p *Pipeline, since any) *transformer {
	t := &transformer{
		p:     p,
		env:   make(map[string]any, len(p.Columns)+2),
		row:   make(map[string]any, len(p.Columns)),
		since: since,
	}
	t.env["row"] = t.row
	t.inEnv = p.columnsRead()
	t.fast.fields = p.fastFields
	t.fast.vars = t.env
	t.checksReadRecord = p.checkNames()["record"]
	t.present = newPresence(p.mapPaths)
	for _, k := range p.Sink.Table.Key {
		for i, c := range p.Columns {
			if c.Name == k {
				t.keys = append(t.keys, i)
			}
		}
	}
	return t
}

// outcome is what became of one record.
type outcome int

const (
	outLoad   outcome = iota // the row is to be loaded
	outReject                // the record is rejected (reject holds why)
	outSkip                  // the record is before the incremental cursor
)

// result of one record; warns lists the warn checks it failed.
type recordResult struct {
	out    outcome
	cursor any
	reject Reject
	warns  []*Check
	// deleted: the map's deleted condition held (the row lands, marked deleted)
	deleted bool
}

// apply maps rec into row (len(row) == len(p.Columns)) and checks it.
// A non-nil error aborts the run (an abort check failed).
func (t *transformer) apply(rec *Record, row []any) (recordResult, error) {
	if rec.Err != nil {
		return t.rejectRec(rec, ErrorCategory(rec.Err), "source", rec.Err.Error()), nil
	}
	if t.present.left > 0 {
		t.present.observe(rec)
	}
	// env["record"] is set below only where a program on the VM may read it
	// (a column off its fast path, a check or cursor naming record); it may
	// hold an earlier record otherwise, which nothing then reads.
	t.fast.reset(rec)
	for i, col := range t.p.Columns {
		out, ok := any(nil), false
		if col.Expr.fast != nil {
			out, ok = col.Expr.fast.run(&t.fast)
		}
		if !ok {
			t.env["record"] = t.fast.recordMap()
			var err error
			if out, err = t.vm.Run(col.Expr.program, t.env); err != nil {
				return t.rejectRec(rec, CategoryConversion, "map "+col.Name, exprMessage(err)), nil
			}
		}
		v, err := convert(out, col.Type)
		if err != nil {
			return t.rejectRec(rec, CategoryConversion, "map "+col.Name, fmt.Sprintf("column %s (%s): %v", col.Name, col.Type, err)), nil
		}
		row[i] = v
		if !t.inEnv[i] {
			continue
		}
		if checkSeesRaw(col.Type) {
			v = out
		}
		t.env[col.Name] = v
		t.row[col.Name] = v
	}
	if t.checksReadRecord {
		t.env["record"] = t.fast.recordMap()
	}
	var res recordResult
	if t.p.Cursor != nil {
		out, err := t.run(t.p.Cursor)
		if err != nil {
			return t.rejectRec(rec, CategoryConversion, "incremental cursor", exprMessage(err)), nil
		}
		cur, err := normalizeCursor(out)
		if err != nil {
			return t.rejectRec(rec, CategoryConversion, "incremental cursor", err.Error()), nil
		}
		if cur != nil && t.since != nil {
			c, err := compareCursor(cur, t.since)
			if err != nil {
				return t.rejectRec(rec, CategoryConversion, "incremental cursor", err.Error()), nil
			}
			if c < 0 {
				return recordResult{out: outSkip}, nil
			}
		}
		if cur != nil && t.until != nil {
			if c, err := compareCursor(cur, t.until); err == nil && c > 0 {
				return recordResult{out: outSkip}, nil
			}
		}
		res.cursor = cur
	}
	for _, chk := range t.p.Checks {
		out, err := t.run(chk.Expr)
		if err != nil {
			return t.rejectRec(rec, CategoryValidation, "validate "+chk.Name, exprMessage(err)), nil
		}
		if ok, _ := out.(bool); ok {
			continue
		}
		switch chk.OnFail {
		case OnFailWarn:
			res.warns = append(res.warns, chk)
		case OnFailAbort:
			return res, fmt.Errorf("validate %s: %s (%s)", chk.Name, chk.Message, rec.Pos)
		default:
			r := t.rejectRec(rec, CategoryValidation, "validate "+chk.Name, chk.Message)
			r.cursor = res.cursor
			return r, nil
		}
	}
	// A row without its key cannot be upserted; the pipeline's own checks
	// above had their say first.
	for _, i := range t.keys {
		if row[i] == nil {
			r := t.rejectRec(rec, CategoryValidation, "map "+t.p.Columns[i].Name, fmt.Sprintf("key column %s is null", t.p.Columns[i].Name))
			r.cursor = res.cursor
			return r, nil
		}
	}
	if t.p.Deleted != nil {
		out, err := t.run(t.p.Deleted)
		if err != nil {
			r := t.rejectRec(rec, CategoryValidation, "map "+DeletedAttr, exprMessage(err))
			r.cursor = res.cursor
			return r, nil
		}
		res.deleted, _ = out.(bool)
	}
	res.out = outLoad
	return res, nil
}

// run evaluates a check or the cursor: on its fast path when it has one
// that answers, else on the VM.
func (t *transformer) run(p *Program) (any, error) {
	if p.fast != nil {
		if out, ok := p.fast.run(&t.fast); ok {
			return out, nil
		}
	}
	return t.vm.Run(p.program, t.env)
}

func (t *transformer) rejectRec(rec *Record, cat RejectCategory, check, reason string) recordResult {
	r := Reject{
		Pos:      rec.Pos,
		Record:   t.p.Redact(t.p.rawRecord(rec)),
		Check:    check,
		Reason:   t.p.Redact(reason),
		Category: cat,
	}
	if rec.Err == nil && len(t.p.Mask) == 0 {
		r.Fields = t.p.Redact(rec.FieldsJSON())
	}
	return recordResult{out: outReject, reject: r}
}

// exprMessage is an expr run-time error's message without expr's source
// snippet: the function's own message when a library function failed.
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	return err.Error()
}

// rawRecord is a record's raw form for the rejects table: as the source had
// it, or, when the pipeline masks fields, its fields as JSON with the masked
// ones replaced (the raw text cannot be masked field by field).
func (p *Pipeline) rawRecord(rec *Record) string {
	if len(p.Mask) == 0 {
		return rec.RawText()
	}
	fields := rec.Map()
	if fields == nil {
		return "[masked: the source could not parse this record, so no field could be masked]"
	}
	masked := make(map[string]any, len(fields))
	for k, v := range fields {
		masked[k] = v
	}
	for _, f := range p.Mask {
		if _, ok := masked[f]; ok {
			masked[f] = "[masked]"
		}
	}
	return (&Record{Fields: masked}).RawText()
}

// checkNames are the names the checks and the cursor use.
func (p *Pipeline) checkNames() map[string]bool {
	names := map[string]bool{}
	v := identVisitor(names)
	for _, c := range p.Checks {
		n := c.Expr.program.Node()
		ast.Walk(&n, v)
	}
	if p.Cursor != nil {
		n := p.Cursor.program.Node()
		ast.Walk(&n, v)
	}
	return names
}

// columnsRead reports, for each mapped column, whether a check or the
// cursor reads it: by name, or any of them when they use `row`.
func (p *Pipeline) columnsRead() []bool {
	names := p.checkNames()
	read := make([]bool, len(p.Columns))
	for i, c := range p.Columns {
		read[i] = names["row"] || names[c.Name]
	}
	return read
}

// identVisitor collects the names of the identifiers in an expression.
type identVisitor map[string]bool

func (v identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		v[id.Value] = true
	}
}
