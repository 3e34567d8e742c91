package odata_test

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The fake service's $filter and $orderby: comparisons of an entity's
// property with a literal (eq ne gt ge lt le), and, or and parentheses;
// literals datetime'…' (read as UTC, as the fake's entities are),
// datetimeoffset'…', guid'…', '…' ('' for a quote), null, true, false,
// integers and v4's bare date-times. A comparison with null is false but
// for eq and ne, as in OData.

// predicate is a parsed $filter.
type predicate func(e entity) bool

// property is the value of an entity's property, nil for null.
func property(e entity, name string) (any, error) {
	switch name {
	case "id":
		return e.ID, nil
	case "companyId":
		return int64(e.CompanyID), nil
	case "firstName":
		return e.FirstName, nil
	case "isActive":
		return e.IsActive, nil
	case "lastUpdate":
		if e.NullUpdate {
			return nil, nil
		}
		return e.LastUpdate, nil
	}
	return nil, fmt.Errorf("no property %q", name)
}

type token struct {
	text   string // a word, or a quoted literal's value
	prefix string // a quoted literal's prefix: "" for a string, "datetime", "guid", …
	quoted bool
}

func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == '(' || c == ')':
			out = append(out, token{text: string(c)})
			i++
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' && s[j] != '\'' {
				j++
			}
			word := s[i:j]
			if j < len(s) && s[j] == '\'' {
				var b strings.Builder
				k := j + 1
				for {
					if k >= len(s) {
						return nil, fmt.Errorf("unterminated literal in %q", s)
					}
					if s[k] == '\'' {
						if k+1 < len(s) && s[k+1] == '\'' {
							b.WriteByte('\'')
							k += 2
							continue
						}
						break
					}
					b.WriteByte(s[k])
					k++
				}
				out = append(out, token{text: b.String(), prefix: word, quoted: true})
				i = k + 1
				continue
			}
			out = append(out, token{text: word})
			i = j
		}
	}
	return out, nil
}

type filterParser struct {
	toks []token
	pos  int
}

// parseFilter parses a $filter the fake understands.
func parseFilter(s string) (predicate, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	pred, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q in %q", p.toks[p.pos].text, s)
	}
	return pred, nil
}

func (p *filterParser) peek(word string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].quoted && p.toks[p.pos].text == word
}

func (p *filterParser) or() (predicate, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek("or") {
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(e entity) bool { return a(e) || b(e) }
	}
	return l, nil
}

func (p *filterParser) and() (predicate, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.peek("and") {
		p.pos++
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(e entity) bool { return a(e) && b(e) }
	}
	return l, nil
}

func (p *filterParser) primary() (predicate, error) {
	if p.peek("(") {
		p.pos++
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.peek(")") {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return inner, nil
	}
	if p.pos+3 > len(p.toks) {
		return nil, fmt.Errorf("incomplete comparison")
	}
	name, op, lit := p.toks[p.pos], p.toks[p.pos+1], p.toks[p.pos+2]
	p.pos += 3
	if name.quoted || op.quoted {
		return nil, fmt.Errorf("want a property and an operator")
	}
	if _, err := property(entity{}, name.text); err != nil {
		return nil, err
	}
	want, err := literalValue(lit)
	if err != nil {
		return nil, err
	}
	switch op.text {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("unknown operator %q", op.text)
	}
	// A type mismatch is a 400 in a real service.
	if want != nil {
		got, _ := property(entity{}, name.text)
		if got != nil && fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) {
			return nil, fmt.Errorf("operator %s incompatible with %T and %T", op.text, got, want)
		}
	}
	return func(e entity) bool {
		got, _ := property(e, name.text)
		if got == nil || want == nil {
			switch op.text {
			case "eq":
				return got == nil && want == nil
			case "ne":
				return (got == nil) != (want == nil)
			}
			return false
		}
		c := compareValues(got, want)
		switch op.text {
		case "eq":
			return c == 0
		case "ne":
			return c != 0
		case "gt":
			return c > 0
		case "ge":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0
	}, nil
}

func literalValue(t token) (any, error) {
	if t.quoted {
		switch t.prefix {
		case "":
			return t.text, nil
		case "guid":
			return strings.ToLower(t.text), nil
		case "datetime":
			return time.Parse("2006-01-02T15:04:05.9999999", t.text)
		case "datetimeoffset":
			return time.Parse(time.RFC3339Nano, t.text)
		}
		return nil, fmt.Errorf("unknown literal prefix %q", t.prefix)
	}
	switch t.text {
	case "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
		return n, nil
	}
	if v, err := time.Parse(time.RFC3339Nano, t.text); err == nil {
		return v, nil
	}
	return nil, fmt.Errorf("unknown literal %q", t.text)
}

// compareValues orders two non-null values of one type.
func compareValues(a, b any) int {
	switch x := a.(type) {
	case time.Time:
		return x.Compare(b.(time.Time))
	case string:
		return strings.Compare(x, b.(string))
	case int64:
		y := b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	panic(fmt.Sprintf("cannot compare %T", a))
}

// orderBy parses an $orderby of ascending properties into a comparison
// of entities, nulls first (SQL Server's order) or last.
func orderBy(s string, nullsLast bool) (func(a, b entity) int, error) {
	var names []string
	for _, term := range strings.Split(s, ",") {
		f := strings.Fields(term)
		if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "asc") {
			return nil, fmt.Errorf("unsupported orderby %q", s)
		}
		if _, err := property(entity{}, f[0]); err != nil {
			return nil, err
		}
		names = append(names, f[0])
	}
	return func(a, b entity) int {
		for _, n := range names {
			x, _ := property(a, n)
			y, _ := property(b, n)
			var c int
			switch {
			case x == nil && y == nil:
			case x == nil:
				c = -1
			case y == nil:
				c = 1
			default:
				c = compareValues(x, y)
			}
			if (x == nil) != (y == nil) && nullsLast {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}, nil
}
