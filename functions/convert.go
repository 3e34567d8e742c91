package functions

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// intFunc is int.
func intFunc(args ...any) (any, error) {
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case int:
		return args[0], nil
	case int8:
		return int(v), nil
	case int16:
		return int(v), nil
	case int32:
		return int(v), nil
	case int64:
		return int(v), nil
	case uint:
		if uint64(v) > math.MaxInt64 {
			return nil, valueError("int", v, "is out of the int64 range")
		}
		return int(v), nil
	case uint8:
		return int(v), nil
	case uint16:
		return int(v), nil
	case uint32:
		return int(v), nil
	case uint64:
		if v > math.MaxInt64 {
			return nil, valueError("int", v, "is out of the int64 range")
		}
		return int(v), nil
	case float32, float64:
		f := toFloat64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
			return nil, valueError("int", v, "is not an integer")
		}
		// -2^63 is exact in float64; 2^63 is the first value beyond range.
		if f < math.MinInt64 || f >= -math.MinInt64 {
			return nil, valueError("int", v, "is out of the int64 range")
		}
		return int(f), nil
	case Decimal:
		return decimalToInt(v, v)
	}
	s, ok := text(args[0])
	if !ok {
		return nil, typeError("int", args[0])
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err == nil {
		return int(n), nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return nil, valueError("int", args[0], "is out of the int64 range")
	}
	d, ok := parseDecimal(t)
	if !ok {
		return nil, valueError("int", args[0], "is not an integer")
	}
	return decimalToInt(d, args[0])
}

// decimalToInt is d as an int; orig is what the error quotes.
func decimalToInt(d Decimal, orig any) (any, error) {
	n, integral, fits := d.int64()
	switch {
	case !integral:
		return nil, valueError("int", orig, "is not an integer")
	case !fits:
		return nil, valueError("int", orig, "is out of the int64 range")
	}
	return int(n), nil
}

// toFloat64 converts a float32 or float64 to float64; float32 goes through
// its shortest text so float32(0.1) gives 0.1, not 0.10000000149011612.
func toFloat64(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return f
	}
	return math.NaN()
}

// floatFunc is float.
func floatFunc(args ...any) (any, error) {
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, valueError("float", v, "is not a finite number")
		}
		return args[0], nil
	case float32:
		f := toFloat64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, valueError("float", v, "is not a finite number")
		}
		return f, nil
	case int:
		return float64(v), nil
	case int8:
		return float64(v), nil
	case int16:
		return float64(v), nil
	case int32:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint:
		return float64(v), nil
	case uint8:
		return float64(v), nil
	case uint16:
		return float64(v), nil
	case uint32:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	case Decimal:
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return nil, valueError("float", v, "is out of the float64 range")
		}
		return f, nil
	}
	s, ok := text(args[0])
	if !ok {
		return nil, typeError("float", args[0])
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	if !isDecimalText(t) {
		return nil, valueError("float", args[0], "is not a number")
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return nil, valueError("float", args[0], "is out of the float64 range")
		}
		return nil, valueError("float", args[0], "is not a number")
	}
	return f, nil
}

// isDecimalText reports whether s has only the bytes of a decimal number
// (digits, sign, point, exponent), which keeps ParseFloat from accepting
// "NaN", "Inf", hexadecimal and underscores.
func isDecimalText(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return false
		}
	}
	return true
}

// boolFunc is bool.
func boolFunc(args ...any) (any, error) {
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case bool:
		return args[0], nil
	case float32, float64:
		switch toFloat64(v) {
		case 0:
			return false, nil
		case 1:
			return true, nil
		}
		return nil, valueError("bool", v, "is not 0 or 1")
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		switch format(v) {
		case "0":
			return false, nil
		case "1":
			return true, nil
		}
		return nil, valueError("bool", v, "is not 0 or 1")
	}
	s, ok := text(args[0])
	if !ok {
		return nil, typeError("bool", args[0])
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	if b, ok := boolWord(t); ok {
		return b, nil
	}
	return nil, valueError("bool", args[0], "is not a boolean; want true/false, t/f, yes/no, y/n, on/off or 1/0")
}

// boolWord reads the words bool accepts, in any case.
func boolWord(s string) (value, ok bool) {
	var b [5]byte
	if len(s) > len(b) {
		return false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b[:len(s)]) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	return false, false
}

// jsonFunc is json.
func jsonFunc(args ...any) (any, error) {
	switch args[0].(type) {
	case nil:
		return nil, nil
	case map[string]any, []any, bool, int, int64, float64:
		return args[0], nil
	}
	s, ok := text(args[0])
	if !ok {
		// Any other map or slice is already structured.
		if isContainer(args[0]) {
			return args[0], nil
		}
		return nil, typeError("json", args[0])
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, valueError("json", args[0], "is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, valueError("json", args[0], "is not valid JSON: data after the value at offset %d", dec.InputOffset())
	}
	return jsonNumbers(v), nil
}

// jsonNumbers replaces each json.Number in v, in place, by an int when it
// is written without fraction or exponent and fits int64, else a float64.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return int(n)
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			// Beyond float64: keep the json.Number, which marshals back
			// to the same number.
			return x
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbers(e)
		}
	}
	return v
}

// isContainer reports whether v is a map or slice (of a type json does
// not decode to, such as map[string]string or []string).
func isContainer(v any) bool {
	k := reflect.ValueOf(v).Kind()
	return k == reflect.Map || k == reflect.Slice || k == reflect.Array
}
