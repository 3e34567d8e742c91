package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/etl-dev/etl/functions"
)

// convert turns an expression's result into the Go type of column type t
// (see ColumnType). nil stays nil. A value that does not fit is an error
// that becomes the record's reject reason.
func convert(v any, t ColumnType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case TypeText:
		return toText(v)
	case TypeInteger:
		return toInteger(v)
	case TypeFloat:
		return toFloat(v)
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("%s is not a boolean; convert it with bool()", describe(v))
	case TypeTimestamp:
		return toTime(v)
	case TypeDate:
		tm, err := toTime(v)
		if err != nil {
			return nil, err
		}
		y, m, d := tm.(time.Time).Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case TypeDecimal:
		return toDecimal(v)
	case TypeJSON:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("cannot store %T as JSON: %w", v, err)
		}
		return string(b), nil
	}
	return nil, fmt.Errorf("unknown column type %q", t)
}

func toText(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return v, nil // the same interface value: no new boxing
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case json.Number:
		return x.String(), nil
	case fmt.Stringer:
		return x.String(), nil
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
	return fmt.Sprint(v), nil
}

func toInteger(v any) (any, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return v, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%d is beyond the integer range", x)
		}
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) || x > math.MaxInt64 || x < math.MinInt64 {
			return nil, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case string, json.Number, fmt.Stringer:
		s := strings.TrimSpace(fmt.Sprint(x))
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not an integer", describe(v))
		}
		return n, nil
	}
	return nil, fmt.Errorf("%s is not an integer", describe(v))
}

func toFloat(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case string, json.Number, fmt.Stringer:
		f, err := strconv.ParseFloat(strings.TrimSpace(fmt.Sprint(x)), 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a number", describe(v))
		}
		return f, nil
	}
	return nil, fmt.Errorf("%s is not a number", describe(v))
}

func toTime(v any) (any, error) {
	switch x := v.(type) {
	case time.Time:
		if x.Location() == time.UTC {
			return v, nil // already what the sink wants: no new boxing
		}
		return x.UTC(), nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(x))
		if err != nil {
			return nil, fmt.Errorf("%s is not an RFC 3339 timestamp; convert it with timestamp()", describe(v))
		}
		return t.UTC(), nil
	}
	return nil, fmt.Errorf("%s is not a timestamp; convert it with timestamp()", describe(v))
}

var decimalRE = regexp.MustCompile(`^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$`)

func toDecimal(v any) (any, error) {
	switch x := v.(type) {
	case functions.Decimal:
		return x.String(), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil, fmt.Errorf("%v is not a decimal", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case *big.Rat:
		return x.FloatString(10), nil
	case string, json.Number, fmt.Stringer:
		s := strings.TrimSpace(fmt.Sprint(x))
		if !decimalRE.MatchString(s) {
			return nil, fmt.Errorf("%s is not a decimal; convert it with decimal()", describe(v))
		}
		return s, nil
	}
	return nil, fmt.Errorf("%s is not a decimal", describe(v))
}

// describe quotes a value for an error message, shortened.
func describe(v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strconv.Quote(x)
	default:
		s = fmt.Sprintf("%v (%T)", v, v)
	}
	if len(s) > 80 {
		s = s[:77] + "…"
	}
	return s
}
