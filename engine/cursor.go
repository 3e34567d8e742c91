package engine

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Cursor is an incremental cursor value: the largest value of the pipeline's
// cursor expression that has landed. Value is one of time.Time, int64,
// float64 or string.
type Cursor struct {
	Value any
}

// Cursor kinds, as stored in etl_state.cursor_kind.
const (
	CursorTime   = "timestamp"
	CursorInt    = "integer"
	CursorFloat  = "float"
	CursorString = "string"
)

// Encode returns the cursor's kind and its text form for storage.
func (c Cursor) Encode() (kind, text string) {
	switch v := c.Value.(type) {
	case time.Time:
		return CursorTime, v.UTC().Format(time.RFC3339Nano)
	case int64:
		return CursorInt, strconv.FormatInt(v, 10)
	case float64:
		return CursorFloat, strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return CursorString, v
	default:
		return CursorString, fmt.Sprint(v)
	}
}

// DecodeCursor is the inverse of Cursor.Encode.
func DecodeCursor(kind, text string) (*Cursor, error) {
	switch kind {
	case CursorTime:
		t, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return nil, fmt.Errorf("decode cursor %q: %w", text, err)
		}
		return &Cursor{Value: t.UTC()}, nil
	case CursorInt:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("decode cursor %q: %w", text, err)
		}
		return &Cursor{Value: n}, nil
	case CursorFloat:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("decode cursor %q: %w", text, err)
		}
		return &Cursor{Value: f}, nil
	case CursorString:
		return &Cursor{Value: text}, nil
	}
	return nil, fmt.Errorf("decode cursor: unknown kind %q", kind)
}

// String is the cursor's text form, for messages.
func (c Cursor) String() string {
	_, s := c.Encode()
	return s
}

// normalizeCursor converts a cursor expression's result to a cursor value.
// nil stays nil (the record has no cursor value).
func normalizeCursor(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		return x.UTC(), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case float64:
		if math.IsNaN(x) {
			return nil, fmt.Errorf("cursor is NaN")
		}
		return x, nil
	case string:
		return x, nil
	}
	return nil, fmt.Errorf("cursor must be a timestamp, a number or a string, not %T", v)
}

// compareCursor orders two cursor values of the same kind (ints and floats
// compare with each other). It returns an error for values of different kinds.
func compareCursor(a, b any) (int, error) {
	switch x := a.(type) {
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), nil
		}
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp3(x < y, x > y), nil
		case float64:
			f := float64(x)
			return cmp3(f < y, f > y), nil
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return cmp3(x < y, x > y), nil
		case int64:
			f := float64(y)
			return cmp3(x < f, x > f), nil
		}
	case string:
		if y, ok := b.(string); ok {
			return cmp3(x < y, x > y), nil
		}
	}
	return 0, fmt.Errorf("cannot compare cursor %v (%T) with %v (%T)", a, a, b, b)
}

func cmp3(less, more bool) int {
	switch {
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}
