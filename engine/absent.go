package engine

import (
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// No silent nulls: a map that reads record.email2 from a feed that never
// sends email2 lands every row NULL, and nothing would say so. The engine
// notes which record fields the map reads (recordPaths) and, during a run,
// which of them some record had (presence); at the end it warns about each
// one no record had (Result.Absent).
//
// The cost is small: each transformer keeps one flag per field path, and a
// record is looked at only for the paths no earlier record had; once every
// path has been seen, a record costs one comparison.

// recordPaths returns the record field paths a program reads: each chain
// of constant member names starting at record (record.a, record?.a.b),
// dotted ("a", "a.b"). A path under a dynamic member (record[k]) ends
// before it.
func recordPaths(node ast.Node, into map[string]bool) {
	ast.Find(node, func(n ast.Node) bool {
		if p := memberPath(n); p != nil {
			into[strings.Join(p, ".")] = true
		}
		return false
	})
}

// memberPath returns the constant path of a member chain rooted at the
// identifier record, or nil.
func memberPath(n ast.Node) []string {
	switch m := n.(type) {
	case *ast.ChainNode:
		return memberPath(m.Node)
	case *ast.MemberNode:
		s, ok := m.Property.(*ast.StringNode)
		if !ok {
			return nil
		}
		if id, ok := m.Node.(*ast.IdentifierNode); ok {
			if id.Value == "record" {
				return []string{s.Value}
			}
			return nil
		}
		if parent := memberPath(m.Node); parent != nil {
			return append(parent, s.Value)
		}
	}
	return nil
}

// mapPaths lists the record field paths the map's columns read, sorted.
func mapPaths(cols []*MappedColumn) [][]string {
	set := map[string]bool{}
	for _, c := range cols {
		if c.Expr != nil && c.Expr.program != nil {
			recordPaths(c.Expr.program.Node(), set)
		}
	}
	names := sortedKeys(set)
	out := make([][]string, len(names))
	for i, n := range names {
		out[i] = strings.Split(n, ".")
	}
	return out
}

// presence records which of a set of field paths some record had.
type presence struct {
	paths    [][]string
	seen     []bool
	left     int  // paths not seen yet
	observed bool // some record was observed
}

func newPresence(paths [][]string) *presence {
	return &presence{paths: paths, seen: make([]bool, len(paths)), left: len(paths)}
}

// observe notes the paths rec has (a null value counts: the field was sent).
func (p *presence) observe(rec *Record) {
	if p.left == 0 || rec.Err != nil {
		return
	}
	p.observed = true
	for i, path := range p.paths {
		if p.seen[i] {
			continue
		}
		if hasPath(rec, path) {
			p.seen[i] = true
			p.left--
		}
	}
}

func hasPath(rec *Record, path []string) bool {
	v, ok := rec.Get(path[0])
	for _, name := range path[1:] {
		if !ok {
			return false
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			return false
		}
		v, ok = m[name]
	}
	return ok
}

// absentPaths returns the paths none of ps saw, as "record.a.b", leaving
// out a path under one that is itself absent (record.a.b when record.a is).
func absentPaths(ps []*presence) []string {
	if len(ps) == 0 {
		return nil
	}
	var absent []string
	for i, path := range ps[0].paths {
		seen := false
		for _, p := range ps {
			seen = seen || p.seen[i]
		}
		if !seen {
			absent = append(absent, "record."+strings.Join(path, "."))
		}
	}
	sort.Strings(absent)
	var out []string
	for _, a := range absent {
		if len(out) > 0 && strings.HasPrefix(a, out[len(out)-1]+".") {
			continue
		}
		out = append(out, a)
	}
	return out
}
