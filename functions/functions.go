package functions

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/builtin"
)

// Options configure the library for one pipeline.
type Options struct {
	// Location is the pipeline's timezone: timestamp and date read a
	// date-time without a zone as local time here, and date takes the
	// calendar date of a zoned value here. nil means UTC.
	Location *time.Location
}

// Function is one library function: its expr registration and the
// documentation shown by the README and `etl validate`.
type Function struct {
	Name      string
	Signature string // how it is called and what it gives, e.g. "email(value) → string"
	Doc       string // what it does, what nil and "" give, and when it fails
	Example   string // an expr expression that calls it
	// Column is the warehouse column type of its result: "text",
	// "integer", "float", "boolean", "timestamp", "date", "decimal",
	// "json", or "" when it depends on the input.
	Column string
	// Func is the function itself, as expr calls it. It keeps no reference
	// to its arguments' slice once it returns.
	Func func(args ...any) (any, error)
	// Types are its signatures, for expr's checker: new(func(any) string)…
	Types []any
	// Operators are the other expr functions its Option registers, by name
	// (decimal's operator overloads, "decimal +" …): an expression's
	// operator on decimals is compiled into a call of one of them.
	Operators map[string]func(args ...any) (any, error)
	// Option registers the function (and, for decimal, its operator
	// overloads) with expr.Compile. It is self-contained: an expression
	// compiled with it alone can call the function.
	Option expr.Option
}

// Library returns every function, sorted by name, configured by opts. Each
// call builds fresh functions; they share no state with other calls and are
// safe for concurrent use.
func Library(opts Options) []Function {
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	tp := timeParser{loc: loc}
	re := newRegexCache()

	fns := []Function{
		{
			Name:      "email",
			Signature: "email(value) → string",
			Doc:       "The address trimmed and lower-cased, checked like net/mail with no display name, no angle brackets and a dot in the domain. nil, \"\" and blanks give nil; anything that is not one bare address is an error.",
			Example:   "email(record.properties.email)",
			Column:    "text",
			Func:      emailFunc,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "phone",
			Signature: "phone(value) → string",
			Doc:       "The digits of a phone number, with spaces, punctuation and a leading + removed; numbers are accepted too. nil, \"\" and blanks give nil; fewer than 10 or more than 15 digits, or any letter (such as \"ext\"), is an error.",
			Example:   "phone(record.phone) ?? ''",
			Column:    "text",
			Func:      phoneFunc,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "timestamp",
			Signature: "timestamp(value[, layout or unit]) → time",
			Doc:       "An instant in UTC from a time, an ISO 8601 date or date-time (T or space, optional fraction, optional Z, +hh:mm, +hhmm or +hh), RFC 1123, OData /Date(ms)/, or an epoch number (a number or a string of digits). An epoch number is read in the unit given as the second argument, 's' or 'ms' (timestamp(x, 'ms'), or timestamp_ms(x)), whatever its size; without one, only a magnitude from 1e11 is read, as milliseconds, and a smaller one is an error, never a guess (below 1e11 seconds and milliseconds both give plausible dates: HubSpot's epoch-ms dates of 1966-1973 would land centuries off). A unit changes nothing for other forms. A date-time without a zone is read in the pipeline's timezone. Any other second argument is a Go time layout for other string forms. nil, \"\", blanks, the zero time and MySQL zero dates (0000-00-00) give nil; anything else unreadable is an error.",
			Example:   "timestamp(record.updatedAt)",
			Column:    "timestamp",
			Func:      tp.timestampFunc,
			Types:     []any{new(func(any) time.Time), new(func(any, string) time.Time)},
		},
		{
			Name:      "timestamp_ms",
			Signature: "timestamp_ms(value) → time",
			Doc:       "timestamp(value, 'ms'): an epoch number (or string of digits) is milliseconds, whatever its size; other forms as timestamp reads them. For sources that send epoch milliseconds (HubSpot date properties, LeadConduit's *_timestamp).",
			Example:   "timestamp_ms(record.properties?.closedate)",
			Column:    "timestamp",
			Func:      tp.timestampMsFunc,
			Types:     []any{new(func(any) time.Time)},
		},
		{
			Name:      "date",
			Signature: "date(value[, layout or unit]) → time",
			Doc:       "The calendar date, as midnight UTC, of anything timestamp reads. A value with a zone (or an instant: a time or an epoch) is first converted to the pipeline's timezone; a date or date-time without a zone keeps its own date. nil, \"\" and blanks give nil; anything unreadable is an error.",
			Example:   "date(record.birthday)",
			Column:    "date",
			Func:      tp.dateFunc,
			Types:     []any{new(func(any) time.Time), new(func(any, string) time.Time)},
		},
		{
			Name:      "int",
			Signature: "int(value) → int",
			Doc:       "A 64-bit integer from an integer, an integral float, json.Number or decimal, or a string such as \" 42\", \"-7\", \"+5\", \"12.0\" or \"1e3\". nil, \"\" and blanks give nil; a fraction (\"12.5\"), a value beyond the int64 range, a boolean or any other text is an error.",
			Example:   "int(record.id)",
			Column:    "integer",
			Func:      intFunc,
			Types:     []any{new(func(any) int)},
		},
		{
			Name:      "float",
			Signature: "float(value) → float",
			Doc:       "A float64 from a number, json.Number, decimal or a decimal string (\"3.14\", \"-1e-3\"). nil, \"\" and blanks give nil; NaN, infinities, hexadecimal, out-of-range values, booleans and other text are errors.",
			Example:   "float(record.latitude)",
			Column:    "float",
			Func:      floatFunc,
			Types:     []any{new(func(any) float64)},
		},
		{
			Name:      "bool",
			Signature: "bool(value) → bool",
			Doc:       "A boolean from a bool, the numbers 0 and 1, or the words true/false, t/f, yes/no, y/n, on/off and 1/0 in any case. nil, \"\" and blanks give nil; anything else is an error.",
			Example:   "bool(record.IsActive)",
			Column:    "boolean",
			Func:      boolFunc,
			Types:     []any{new(func(any) bool)},
		},
		{
			Name:      "decimal",
			Signature: "decimal(value) → decimal",
			Doc:       "An exact decimal from an integer, json.Number, float (its shortest exact text) or a string such as \"-12.50\", \".5\" or \"1.5e3\"; the scale is kept as written (\"12.50\" stays 12.50). Thousands separators are not accepted: strip them with regex_replace first. +, -, *, ==, !=, <, <=, > and >= work between decimals, ints and floats (there is no / or unary -: write 0 - x); arithmetic with a nil decimal gives nil and comparing one with < or > gives false. nil, \"\" and blanks give nil; anything else is an error.",
			Example:   "decimal(record.amount) > 0",
			Column:    "decimal",
			Func:      decimalFunc,
			Option:    decimalOption(),
			Operators: decimalOperators(),
		},
		{
			Name:      "trim",
			Signature: "trim(value) → string",
			Doc:       "The value without leading and trailing white space; non-strings are formatted first (numbers as plain decimals, times as RFC 3339). nil gives nil; \"  \" gives \"\". It never fails.",
			Example:   "trim(record.properties.firstname)",
			Column:    "text",
			Func:      trimFunc,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "lower",
			Signature: "lower(value) → string",
			Doc:       "The value in lower case; non-strings are formatted first. nil gives nil. It never fails.",
			Example:   "lower(record.status)",
			Column:    "text",
			Func:      lowerFunc,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "upper",
			Signature: "upper(value) → string",
			Doc:       "The value in upper case; non-strings are formatted first. nil gives nil. It never fails.",
			Example:   "upper(record.state)",
			Column:    "text",
			Func:      upperFunc,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "nullif",
			Signature: "nullif(value, other) → any",
			Doc:       "nil when value equals other, else value unchanged. Numbers compare by value (1 equals 1.0 and json.Number \"1\"); a string compared with a number is read as a decimal number first (\"0.00\" equals 0); strings compare exactly. It never fails.",
			Example:   "nullif(record.state, 'N/A')",
			Column:    "",
			Func:      nullifFunc,
			Types:     []any{new(func(any, any) any)},
		},
		{
			Name:      "coalesce",
			Signature: "coalesce(value, ...) → any",
			Doc:       "The first argument that is neither nil nor \"\"; nil when there is none. It never fails.",
			Example:   "coalesce(record.mobile, record.phone)",
			Column:    "",
			Func:      coalesceFunc,
			Types:     []any{new(func(...any) any)},
		},
		{
			Name:      "json",
			Signature: "json(value) → any",
			Doc:       "A parsed JSON cell: objects, arrays, strings, booleans, and numbers as int when written without fraction or exponent and within int64, else float. A map, slice, number or boolean is returned as is. nil, \"\", blanks and JSON null give nil; invalid JSON is an error with the parser's message.",
			Example:   "json(record.custom_fields)",
			Column:    "json",
			Func:      jsonFunc,
			Types:     []any{new(func(any) any)},
		},
		{
			Name:      "regex_replace",
			Signature: "regex_replace(value, pattern, replacement) → string",
			Doc:       "Every match of the RE2 pattern replaced by replacement, which may refer to groups as $1 or ${name}; non-strings are formatted first. nil gives nil. An invalid pattern is an error.",
			Example:   "regex_replace(record.amount, '[,$ ]', '')",
			Column:    "text",
			Func:      re.replaceFunc,
			Types:     []any{new(func(any, string, string) string)},
		},
		{
			Name:      "sha256",
			Signature: "sha256(value) → string",
			Doc:       "The SHA-256 of the value's UTF-8 bytes as 64 lower-case hex digits; non-strings are formatted first, and \"\" is hashed like any string. nil gives nil. It never fails.",
			Example:   "sha256(email(record.email))",
			Column:    "text",
			Func:      sha256Func,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "hmac_sha256",
			Signature: "hmac_sha256(key, message) → bytes",
			Doc:       "The raw 32-byte HMAC-SHA256 of message under key, as a string of bytes (not text): pass it to base64_encode. key may be raw bytes from base64_decode. nil in either argument gives nil. It never fails.",
			Example:   "base64_encode(hmac_sha256(base64_decode(record.secret), record.message))",
			Column:    "text",
			Func:      hmacSHA256Func,
			Types:     []any{new(func(any, any) string)},
		},
		{
			Name:      "base64_encode",
			Signature: "base64_encode(value) → string",
			Doc:       "The standard, padded base64 of the value's bytes; non-strings are formatted first. nil gives nil. It never fails.",
			Example:   "base64_encode(record.signature)",
			Column:    "text",
			Func:      base64EncodeFunc,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "base64_decode",
			Signature: "base64_decode(value) → bytes",
			Doc:       "The bytes that base64 text (standard or URL alphabet, padded or not, surrounding blanks ignored) encodes, as a string of bytes. nil gives nil. Text that is not base64 is an error that does not quote the value, since it is usually a secret.",
			Example:   "base64_decode(record.secret)",
			Column:    "text",
			Func:      base64DecodeFunc,
			Types:     []any{new(func(any) string)},
		},
		{
			Name:      "now_unix",
			Signature: "now_unix() → int",
			Doc:       "The current time in whole seconds since the Unix epoch, read at each call. It never fails.",
			Example:   "string(now_unix())",
			Column:    "integer",
			Func:      nowUnixFunc,
			Types:     []any{new(func() int)},
		},
		{
			Name:      "now_unix_ms",
			Signature: "now_unix_ms() → int",
			Doc:       "The current time in milliseconds since the Unix epoch, read at each call (HubSpot's X-HubSpot-Request-Timestamp unit). It never fails.",
			Example:   "now_unix_ms() - int(record.timestamp) < 300000",
			Column:    "integer",
			Func:      nowUnixMsFunc,
			Types:     []any{new(func() int)},
		},
		{
			Name:      "secure_equal",
			Signature: "secure_equal(a, b) → bool",
			Doc:       "Whether a and b are the same bytes, compared in constant time (for signatures and shared secrets, so that timing tells an attacker nothing). nil equals nothing, not even nil. It never fails.",
			Example:   "secure_equal(record.signature, base64_encode(hmac_sha256(record.key, record.body)))",
			Column:    "boolean",
			Func:      secureEqualFunc,
			Types:     []any{new(func(any, any) bool)},
		},
	}
	for i := range fns {
		if fns[i].Option == nil {
			fns[i].Option = expr.Function(fns[i].Name, fns[i].Func, fns[i].Types...)
		}
	}
	slices.SortFunc(fns, func(a, b Function) int { return strings.Compare(a.Name, b.Name) })
	return fns
}

// ExprOptions returns the expr options that register every function of
// [Library] (and the decimal operator overloads), plus expr.DisableBuiltin
// for each expr builtin that one of them replaces (int, float, trim, upper,
// lower, date), so the library wins even if expr's lookup order changes.
func ExprOptions(opts Options) []expr.Option {
	lib := Library(opts)
	out := make([]expr.Option, 0, len(lib)+8)
	for _, f := range lib {
		out = append(out, f.Option)
		if _, ok := builtin.Index[f.Name]; ok {
			out = append(out, expr.DisableBuiltin(f.Name))
		}
	}
	return out
}

// maxQuoted is how many bytes of a value an error message quotes.
const maxQuoted = 64

// describe renders a value for an error message: strings quoted and
// shortened, numbers as written, anything else with its Go type.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case []byte:
		return quote(string(x))
	case json.Number:
		return quote(string(x))
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, Decimal:
		return fmt.Sprint(x)
	}
	s := fmt.Sprintf("%v (%T)", v, v)
	if len(s) > 2*maxQuoted {
		s = s[:2*maxQuoted] + "…"
	}
	return s
}

// quote quotes s, cut to maxQuoted bytes on a rune boundary.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "…"
}

// valueError is the error of fn for a value it cannot convert, as
// `fn: <value> <reason>`.
func valueError(fn string, v any, format string, args ...any) error {
	return fmt.Errorf("%s: %s %s", fn, describe(v), fmt.Sprintf(format, args...))
}

// typeError is the error of fn for a value of a type it does not accept.
func typeError(fn string, v any) error {
	return fmt.Errorf("%s: cannot convert %s", fn, describe(v))
}

// text returns v as a string when it is a string, []byte or json.Number.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case json.Number:
		return string(x), true
	}
	return "", false
}

// format renders a non-nil value as text: strings as they are, numbers
// as plain decimals, times as RFC 3339 in UTC, anything else with fmt.
func format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case json.Number:
		return string(x)
	case int:
		return strconv.Itoa(x)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint:
		return strconv.FormatUint(uint64(x), 10)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}
