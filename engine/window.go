package engine

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
)

// UsageError is a bad command-line value found before anything ran (a
// --since that is not a value of the cursor's type): no warehouse was
// opened and no run recorded. The CLI exits 2 on it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// IsUsage reports whether err is a UsageError.
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u)
}

// CursorKind is the kind of the pipeline's incremental cursor (CursorTime,
// CursorInt, CursorFloat or CursorString) as its expression's static type
// says; "" when the pipeline has no cursor or its type is unknown (an
// expression over the raw record).
func (p *Pipeline) CursorKind() string {
	if p.Cursor == nil {
		return ""
	}
	for _, c := range p.Columns {
		if c.Name == p.Cursor.Source {
			return cursorKindOfColumn(c.Type)
		}
	}
	t := p.Cursor.typ
	if t == nil || t.Kind() == reflect.Interface {
		return ""
	}
	return cursorKindOfColumn(columnTypeOf(t))
}

func cursorKindOfColumn(t ColumnType) string {
	switch t {
	case TypeTimestamp, TypeDate:
		return CursorTime
	case TypeInteger:
		return CursorInt
	case TypeFloat, TypeDecimal:
		return CursorFloat
	case TypeText:
		return CursorString
	}
	return ""
}

// timeLayouts are the forms a timestamp cursor value may be written in on
// the command line; all but RFC 3339 are read in the pipeline's timezone.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"}

// ParseCursorValue reads s as a value of a cursor of the given kind (see
// CursorKind): a date or timestamp for CursorTime (naive ones in loc), an
// integer for CursorInt, a number for CursorFloat, any text for
// CursorString. With kind "" it guesses as ParseSince does.
func ParseCursorValue(kind, s string, loc *time.Location) (any, error) {
	if s == "" {
		return nil, errors.New("empty value")
	}
	switch kind {
	case CursorTime:
		for _, layout := range timeLayouts {
			l := loc
			if layout == time.RFC3339Nano || l == nil {
				l = time.UTC
			}
			if t, err := time.ParseInLocation(layout, s, l); err == nil {
				return t.UTC(), nil
			}
		}
		return nil, fmt.Errorf("%q is not a date or timestamp; the cursor is a timestamp: write 2024-01-31, 2024-01-31T08:00:00 or 2024-01-31T08:00:00Z", s)
	case CursorInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer; the cursor is an integer", s)
		}
		return n, nil
	case CursorFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number; the cursor is a number", s)
		}
		return f, nil
	case CursorString:
		return s, nil
	}
	return ParseSince(s, loc)
}

// window reads opts.Since and opts.Until against the cursor's type: the
// run reads records whose cursor is ≥ since and ≤ until. Either is nil
// when not given. Every problem is a UsageError.
func (p *Pipeline) window(opts RunOptions) (since, until any, err error) {
	if opts.Since == "" && opts.Until == "" {
		return nil, nil, nil
	}
	if p.Cursor == nil {
		flag := "--since"
		if opts.Since == "" {
			flag = "--until"
		}
		return nil, nil, usageErrorf("%s needs an incremental block in pipeline %s (it bounds the incremental cursor, and this pipeline has none)", flag, p.Name)
	}
	kind := p.CursorKind()
	if opts.Since != "" {
		if since, err = ParseCursorValue(kind, opts.Since, p.Location); err != nil {
			return nil, nil, usageErrorf("--since: %w", err)
		}
	}
	if opts.Until != "" {
		if until, err = ParseCursorValue(kind, opts.Until, p.Location); err != nil {
			return nil, nil, usageErrorf("--until: %w", err)
		}
	}
	if since != nil && until != nil {
		c, err := compareCursor(since, until)
		if err != nil {
			return nil, nil, usageErrorf("--since %s and --until %s: %w", opts.Since, opts.Until, err)
		}
		if c > 0 {
			return nil, nil, usageErrorf("--since %s is after --until %s: the window is empty", opts.Since, opts.Until)
		}
	}
	return since, until, nil
}

// CheckOptions checks the run options that depend on the pipeline (the
// --since/--until window against the cursor's type) without opening
// anything; Run checks them too. Its errors are UsageErrors.
func (p *Pipeline) CheckOptions(opts RunOptions) error {
	_, _, err := p.window(opts)
	return err
}
