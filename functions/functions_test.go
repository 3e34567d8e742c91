package functions

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York without a system tz database

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// run compiles src against a record env, as the engine does, and runs it
// with record.v = v.
func run(t *testing.T, opts Options, src string, v any) (any, error) {
	t.Helper()
	env := map[string]any{"record": map[string]any{"v": v}}
	prog, err := expr.Compile(src, append([]expr.Option{expr.Env(env)}, ExprOptions(opts)...)...)
	require.NoError(t, err, "compile %s", src)
	return vm.Run(prog, env)
}

func utc(y int, m time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, m, d, h, mi, s, ns, time.UTC)
}

func dec(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

type row struct {
	name string
	call string // expr source; record.v is in
	in   any
	want any
	err  string // a substring of the error; it names the function and quotes the value
}

func runRows(t *testing.T, opts Options, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			got, err := run(t, opts, r.call, r.in)
			if r.err != "" {
				assert.ErrorContains(t, err, r.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, r.want, got)
		})
	}
}

func TestEmail(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "trims and lower-cases", call: "email(record.v)", in: "  Foo.Bar@Example.COM ", want: "foo.bar@example.com"},
		{name: "plus tag and subdomains", call: "email(record.v)", in: "a+tag@mail.example.co.uk", want: "a+tag@mail.example.co.uk"},
		{name: "already clean", call: "email(record.v)", in: "a@b.co", want: "a@b.co"},
		{name: "bytes", call: "email(record.v)", in: []byte("X@Y.com"), want: "x@y.com"},
		{name: "unicode goes to net/mail", call: "email(record.v)", in: "José@Exämple.com", want: "josé@exämple.com"},
		{name: "nil", call: "email(record.v)", in: nil, want: nil},
		{name: "empty", call: "email(record.v)", in: "", want: nil},
		{name: "blank", call: "email(record.v)", in: " \t ", want: nil},
		{name: "with ?? default", call: "email(record.v) ?? 'none'", in: "", want: "none"},
		{name: "no at", call: "email(record.v)", in: "not-an-email", err: `email: "not-an-email" has no @`},
		{name: "display name", call: "email(record.v)", in: "Bob <bob@x.com>", err: `email: "Bob <bob@x.com>" is not a bare address`},
		{name: "angle brackets", call: "email(record.v)", in: "<bob@x.com>", err: `email: "<bob@x.com>" is not a bare address`},
		{name: "no dot in domain", call: "email(record.v)", in: "a@localhost", err: `email: "a@localhost" has no dot in its domain`},
		{name: "two ats", call: "email(record.v)", in: "a@b@c.com", err: `email: "a@b@c.com" is not an email address`},
		{name: "double dot", call: "email(record.v)", in: "a..b@x.com", err: `email: "a..b@x.com" is not an email address`},
		{name: "trailing dot", call: "email(record.v)", in: "a@x.com.", err: `email: "a@x.com." is not an email address`},
		{name: "number", call: "email(record.v)", in: 123, err: `email: cannot convert 123`},
	})
}

func TestPhone(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "international", call: "phone(record.v)", in: "+1 (555) 123-4567", want: "15551234567"},
		{name: "dots", call: "phone(record.v)", in: "555.123.4567", want: "5551234567"},
		{name: "digits only", call: "phone(record.v)", in: "5551234567", want: "5551234567"},
		{name: "fifteen digits", call: "phone(record.v)", in: "+44 20 7946 0958 123", want: "442079460958123"},
		{name: "int", call: "phone(record.v)", in: 5551234567, want: "5551234567"},
		{name: "float", call: "phone(record.v)", in: 5551234567.0, want: "5551234567"},
		{name: "json number", call: "phone(record.v)", in: json.Number("5551234567"), want: "5551234567"},
		{name: "nil", call: "phone(record.v)", in: nil, want: nil},
		{name: "empty", call: "phone(record.v)", in: "", want: nil},
		{name: "blank", call: "phone(record.v)", in: "   ", want: nil},
		{name: "with ?? default", call: "phone(record.v) ?? ''", in: nil, want: ""},
		{name: "too few digits", call: "phone(record.v)", in: "12ab", err: `phone: "12ab" has 2 digits, want 10 to 15`},
		{name: "too many digits", call: "phone(record.v)", in: "1234567890123456", err: `phone: "1234567890123456" has 16 digits, want 10 to 15`},
		{name: "extension letters", call: "phone(record.v)", in: "555-123-4567 ext 89", err: `phone: "555-123-4567 ext 89" has letters`},
		{name: "fractional float", call: "phone(record.v)", in: 555.5, err: `phone: 555.5 is not a whole number`},
		{name: "bool", call: "phone(record.v)", in: true, err: `phone: cannot convert true (bool)`},
	})
}

func TestTimestamp(t *testing.T) {
	ms := time.UnixMilli(1700000000000).UTC()
	runRows(t, Options{}, []row{
		{name: "date", call: "timestamp(record.v)", in: "2024-01-15", want: utc(2024, 1, 15, 0, 0, 0, 0)},
		{name: "space", call: "timestamp(record.v)", in: "2024-01-15 10:20:30", want: utc(2024, 1, 15, 10, 20, 30, 0)},
		{name: "T", call: "timestamp(record.v)", in: "2024-01-15T10:20:30", want: utc(2024, 1, 15, 10, 20, 30, 0)},
		{name: "minutes only", call: "timestamp(record.v)", in: "2024-01-15T10:20Z", want: utc(2024, 1, 15, 10, 20, 0, 0)},
		{name: "ms and Z", call: "timestamp(record.v)", in: "2024-01-15T10:20:30.123Z", want: utc(2024, 1, 15, 10, 20, 30, 123000000)},
		{name: "ns and offset", call: "timestamp(record.v)", in: "2024-01-15T10:20:30.123456789+02:00", want: utc(2024, 1, 15, 8, 20, 30, 123456789)},
		{name: "beyond ns is dropped", call: "timestamp(record.v)", in: "2024-01-15T10:20:30.1234567891Z", want: utc(2024, 1, 15, 10, 20, 30, 123456789)},
		{name: "comma fraction", call: "timestamp(record.v)", in: "2024-01-15T10:20:30,5Z", want: utc(2024, 1, 15, 10, 20, 30, 500000000)},
		{name: "offset without colon", call: "timestamp(record.v)", in: "2024-01-15T10:20:30+0200", want: utc(2024, 1, 15, 8, 20, 30, 0)},
		{name: "hour offset", call: "timestamp(record.v)", in: "2024-01-15 10:20:30-05", want: utc(2024, 1, 15, 15, 20, 30, 0)},
		{name: "spaced UTC", call: "timestamp(record.v)", in: "2024-01-15 10:20:30 UTC", want: utc(2024, 1, 15, 10, 20, 30, 0)},
		{name: "RFC 1123 GMT", call: "timestamp(record.v)", in: "Mon, 15 Jan 2024 10:20:30 GMT", want: utc(2024, 1, 15, 10, 20, 30, 0)},
		{name: "RFC 1123 offset", call: "timestamp(record.v)", in: "Mon, 15 Jan 2024 10:20:30 +0100", want: utc(2024, 1, 15, 9, 20, 30, 0)},
		{name: "OData", call: "timestamp(record.v)", in: "/Date(1700000000000)/", want: ms},
		{name: "OData with offset", call: "timestamp(record.v)", in: "/Date(1700000000000+0100)/", want: ms},
		{name: "epoch seconds int", call: "timestamp(record.v, 's')", in: 1700000000, want: ms},
		{name: "bare epoch seconds are refused", call: "timestamp(record.v)", in: 1700000000, err: `timestamp: 1700000000 is an epoch number whose unit its size cannot tell`},
		{name: "epoch ms int64", call: "timestamp(record.v)", in: int64(1700000000123), want: ms.Add(123 * time.Millisecond)},
		{name: "epoch seconds float", call: "timestamp(record.v, 's')", in: 1700000000.5, want: ms.Add(500 * time.Millisecond)},
		{name: "bare float below 1e11 is refused", call: "timestamp(record.v)", in: 1700000000.5, err: `is an epoch number whose unit its size cannot tell`},
		{name: "epoch ms json", call: "timestamp(record.v)", in: json.Number("1700000000123"), want: ms.Add(123 * time.Millisecond)},
		{name: "epoch seconds string", call: "timestamp(record.v, 's')", in: "1700000000", want: ms},
		{name: "epoch ms declared, any size", call: "timestamp(record.v, 'ms')", in: 1700000000, want: time.UnixMilli(1700000000).UTC()},
		{name: "HubSpot ms of 1969", call: "timestamp_ms(record.v)", in: json.Number("-25920000000"), want: utc(1969, 3, 7, 0, 0, 0, 0)},
		{name: "HubSpot ms string of 1969", call: "timestamp(record.v, 'ms')", in: "-25920000000", want: utc(1969, 3, 7, 0, 0, 0, 0)},
		{name: "1969 ms bare is refused, not read as 1148", call: "timestamp(record.v)", in: json.Number("-25920000000"), err: `timestamp: "-25920000000" is an epoch number whose unit its size cannot tell`},
		{name: "ms near the epoch", call: "timestamp_ms(record.v)", in: 86400000, want: utc(1970, 1, 2, 0, 0, 0, 0)},
		{name: "unit leaves ISO alone", call: "timestamp_ms(record.v)", in: "2024-01-15T10:20:30Z", want: utc(2024, 1, 15, 10, 20, 30, 0)},
		{name: "ms declared float", call: "timestamp_ms(record.v)", in: 1700000000123.0, want: ms.Add(123 * time.Millisecond)},
		{name: "seconds declared out of range", call: "timestamp(record.v, 's')", in: int64(1700000000000000), err: `is out of the timestamp range`},
		{name: "epoch ms string", call: "timestamp(record.v)", in: "1700000000000", want: ms},
		{name: "time in a zone", call: "timestamp(record.v)", in: time.Date(2024, 1, 15, 10, 0, 0, 0, time.FixedZone("", 3600)), want: utc(2024, 1, 15, 9, 0, 0, 0)},
		{name: "layout", call: "timestamp(record.v, '01/02/2006 3:04 PM')", in: "01/15/2024 1:20 PM", want: utc(2024, 1, 15, 13, 20, 0, 0)},
		{name: "compact date layout", call: "timestamp(record.v, '20060102')", in: "20240115", want: utc(2024, 1, 15, 0, 0, 0, 0)},
		{name: "zero time", call: "timestamp(record.v)", in: time.Time{}, want: nil},
		{name: "MySQL zero date-time", call: "timestamp(record.v)", in: "0000-00-00 00:00:00", want: nil},
		{name: "MySQL zero date", call: "timestamp(record.v)", in: "0000-00-00", want: nil},
		{name: "nil", call: "timestamp(record.v)", in: nil, want: nil},
		{name: "empty", call: "timestamp(record.v)", in: "", want: nil},
		{name: "blank", call: "timestamp(record.v)", in: "  ", want: nil},
		{name: "month 13", call: "timestamp(record.v)", in: "2024-13-01", err: `timestamp: "2024-13-01" is not a valid date-time`},
		{name: "February 30", call: "timestamp(record.v)", in: "2024-02-30T00:00:00Z", err: `timestamp: "2024-02-30T00:00:00Z" is not a valid date-time`},
		{name: "hour 24", call: "timestamp(record.v)", in: "2024-02-01 24:00:00", err: `timestamp: "2024-02-01 24:00:00" is not a valid date-time`},
		{name: "year 0", call: "timestamp(record.v)", in: "0000-01-01", err: `timestamp: "0000-01-01" is not a valid date-time`},
		{name: "words", call: "timestamp(record.v)", in: "yesterday", err: `timestamp: "yesterday" is not a date-time`},
		{name: "zone abbreviation", call: "timestamp(record.v)", in: "Mon, 15 Jan 2024 10:20:30 EST", err: `timestamp: "Mon, 15 Jan 2024 10:20:30 EST" is not a date-time`},
		{name: "bad offset", call: "timestamp(record.v)", in: "2024-01-15T10:20:30+2", err: `timestamp: "2024-01-15T10:20:30+2" is not a date-time`},
		{name: "compact date as int", call: "timestamp(record.v)", in: 20240115, err: `timestamp: 20240115 is an epoch number whose unit its size cannot tell`},
		{name: "compact date as string", call: "timestamp(record.v)", in: "20240115", err: `timestamp: "20240115" is an epoch number whose unit its size cannot tell`},
		{name: "microseconds", call: "timestamp(record.v)", in: "1700000000000000", err: `timestamp: "1700000000000000" is out of the timestamp range`},
		{name: "layout mismatch", call: "timestamp(record.v, '01/02/2006')", in: "2024-01-15", err: `timestamp: "2024-01-15" does not match layout "01/02/2006"`},
		{name: "bool", call: "timestamp(record.v)", in: true, err: `timestamp: cannot convert true (bool)`},
	})
}

func TestDate(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "date", call: "date(record.v)", in: "2024-01-15", want: utc(2024, 1, 15, 0, 0, 0, 0)},
		{name: "date-time", call: "date(record.v)", in: "2024-01-15 23:59:59", want: utc(2024, 1, 15, 0, 0, 0, 0)},
		{name: "zoned goes to UTC first", call: "date(record.v)", in: "2024-01-15T23:30:00-05:00", want: utc(2024, 1, 16, 0, 0, 0, 0)},
		{name: "time", call: "date(record.v)", in: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC), want: utc(2024, 1, 15, 0, 0, 0, 0)},
		{name: "epoch", call: "date(record.v, 's')", in: 1700000000, want: utc(2023, 11, 14, 0, 0, 0, 0)},
		{name: "epoch ms", call: "date(record.v, 'ms')", in: json.Number("-25920000000"), want: utc(1969, 3, 7, 0, 0, 0, 0)},
		{name: "layout", call: "date(record.v, '02.01.2006')", in: "15.01.2024", want: utc(2024, 1, 15, 0, 0, 0, 0)},
		{name: "nil", call: "date(record.v)", in: nil, want: nil},
		{name: "empty", call: "date(record.v)", in: "", want: nil},
		{name: "February 30", call: "date(record.v)", in: "2024-02-30", err: `date: "2024-02-30" is not a valid date-time`},
		{name: "words", call: "date(record.v)", in: "soon", err: `date: "soon" is not a date-time`},
	})
}

func TestTimezone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	runRows(t, Options{Location: ny}, []row{
		{name: "naive winter is EST", call: "timestamp(record.v)", in: "2024-01-15 10:00:00", want: utc(2024, 1, 15, 15, 0, 0, 0)},
		{name: "naive summer is EDT", call: "timestamp(record.v)", in: "2024-07-15T10:00:00.250", want: utc(2024, 7, 15, 14, 0, 0, 250000000)},
		{name: "naive date is local midnight", call: "timestamp(record.v)", in: "2024-01-15", want: utc(2024, 1, 15, 5, 0, 0, 0)},
		{name: "zoned ignores the location", call: "timestamp(record.v)", in: "2024-07-15T10:00:00Z", want: utc(2024, 7, 15, 10, 0, 0, 0)},
		{name: "layout is read in the location", call: "timestamp(record.v, '01/02/2006 15:04')", in: "01/15/2024 10:00", want: utc(2024, 1, 15, 15, 0, 0, 0)},
		{name: "date of a zoned value is local", call: "date(record.v)", in: "2024-01-15T03:00:00Z", want: utc(2024, 1, 14, 0, 0, 0, 0)},
		{name: "date of a naive value is its own", call: "date(record.v)", in: "2024-01-15 03:00:00", want: utc(2024, 1, 15, 0, 0, 0, 0)},
		{name: "date of a time is local", call: "date(record.v)", in: utc(2024, 1, 15, 3, 0, 0, 0), want: utc(2024, 1, 14, 0, 0, 0, 0)},
		{name: "date of an epoch is local", call: "date(record.v, 's')", in: 1705287600, want: utc(2024, 1, 14, 0, 0, 0, 0)},
	})
}

func TestInt(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "int", call: "int(record.v)", in: 42, want: 42},
		{name: "int64", call: "int(record.v)", in: int64(-42), want: -42},
		{name: "uint8", call: "int(record.v)", in: uint8(7), want: 7},
		{name: "integral float", call: "int(record.v)", in: 12.0, want: 12},
		{name: "padded string", call: "int(record.v)", in: " 42 ", want: 42},
		{name: "negative", call: "int(record.v)", in: "-7", want: -7},
		{name: "plus", call: "int(record.v)", in: "+5", want: 5},
		{name: "integral decimal text", call: "int(record.v)", in: "12.0", want: 12},
		{name: "exponent", call: "int(record.v)", in: "1e3", want: 1000},
		{name: "json number", call: "int(record.v)", in: json.Number("42"), want: 42},
		{name: "decimal", call: "int(record.v)", in: dec("12.00"), want: 12},
		{name: "max", call: "int(record.v)", in: "9223372036854775807", want: math.MaxInt64},
		{name: "nil", call: "int(record.v)", in: nil, want: nil},
		{name: "empty", call: "int(record.v)", in: "", want: nil},
		{name: "blank", call: "int(record.v)", in: "  ", want: nil},
		{name: "fraction text", call: "int(record.v)", in: "12.5", err: `int: "12.5" is not an integer`},
		{name: "fraction float", call: "int(record.v)", in: 12.5, err: `int: 12.5 is not an integer`},
		{name: "overflow text", call: "int(record.v)", in: "99999999999999999999", err: `int: "99999999999999999999" is out of the int64 range`},
		{name: "overflow uint64", call: "int(record.v)", in: uint64(math.MaxUint64), err: `int: 18446744073709551615 is out of the int64 range`},
		{name: "overflow float", call: "int(record.v)", in: 1e19, err: `int: 1e+19 is out of the int64 range`},
		{name: "overflow exponent", call: "int(record.v)", in: "1e19", err: `int: "1e19" is out of the int64 range`},
		{name: "thousands separator", call: "int(record.v)", in: "1,234", err: `int: "1,234" is not an integer`},
		{name: "words", call: "int(record.v)", in: "abc", err: `int: "abc" is not an integer`},
		{name: "bool", call: "int(record.v)", in: true, err: `int: cannot convert true (bool)`},
	})
}

func TestFloat(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "float", call: "float(record.v)", in: 1.5, want: 1.5},
		{name: "int", call: "float(record.v)", in: 2, want: 2.0},
		{name: "float32 keeps its shortest text", call: "float(record.v)", in: float32(0.1), want: 0.1},
		{name: "string", call: "float(record.v)", in: "3.14", want: 3.14},
		{name: "padded exponent", call: "float(record.v)", in: " -1e-3 ", want: -0.001},
		{name: "json number", call: "float(record.v)", in: json.Number("2.5"), want: 2.5},
		{name: "decimal", call: "float(record.v)", in: dec("1.10"), want: 1.1},
		{name: "nil", call: "float(record.v)", in: nil, want: nil},
		{name: "empty", call: "float(record.v)", in: "", want: nil},
		{name: "blank", call: "float(record.v)", in: " ", want: nil},
		{name: "NaN text", call: "float(record.v)", in: "NaN", err: `float: "NaN" is not a number`},
		{name: "Inf text", call: "float(record.v)", in: "Inf", err: `float: "Inf" is not a number`},
		{name: "NaN value", call: "float(record.v)", in: math.NaN(), err: `float: NaN is not a finite number`},
		{name: "hexadecimal", call: "float(record.v)", in: "0x1p4", err: `float: "0x1p4" is not a number`},
		{name: "out of range", call: "float(record.v)", in: "1e400", err: `float: "1e400" is out of the float64 range`},
		{name: "words", call: "float(record.v)", in: "abc", err: `float: "abc" is not a number`},
		{name: "bool", call: "float(record.v)", in: false, err: `float: cannot convert false (bool)`},
	})
}

func TestBool(t *testing.T) {
	rows := []row{
		{name: "nil", call: "bool(record.v)", in: nil, want: nil},
		{name: "empty", call: "bool(record.v)", in: "", want: nil},
		{name: "blank", call: "bool(record.v)", in: "  ", want: nil},
		{name: "bool", call: "bool(record.v)", in: true, want: true},
		{name: "int 1", call: "bool(record.v)", in: 1, want: true},
		{name: "int64 0", call: "bool(record.v)", in: int64(0), want: false},
		{name: "float 1", call: "bool(record.v)", in: 1.0, want: true},
		{name: "json number", call: "bool(record.v)", in: json.Number("0"), want: false},
		{name: "int 2", call: "bool(record.v)", in: 2, err: `bool: 2 is not 0 or 1`},
		{name: "float 0.5", call: "bool(record.v)", in: 0.5, err: `bool: 0.5 is not 0 or 1`},
		{name: "maybe", call: "bool(record.v)", in: "maybe", err: `bool: "maybe" is not a boolean`},
		{name: "truee", call: "bool(record.v)", in: "truee", err: `bool: "truee" is not a boolean`},
		{name: "time", call: "bool(record.v)", in: utc(2024, 1, 1, 0, 0, 0, 0), err: `bool: cannot convert 2024-01-01`},
	}
	for _, w := range []string{"TRUE", "true", "True", "t", "T", "yes", "YES", "y", "Y", "1", "on", "ON", " true "} {
		rows = append(rows, row{name: "word " + w, call: "bool(record.v)", in: w, want: true})
	}
	for _, w := range []string{"FALSE", "false", "f", "F", "no", "No", "n", "N", "0", "off", "Off"} {
		rows = append(rows, row{name: "word " + w, call: "bool(record.v)", in: w, want: false})
	}
	runRows(t, Options{}, rows)
}

func TestDecimal(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "keeps its scale", call: "decimal(record.v)", in: "12.50", want: dec("12.50")},
		{name: "negative", call: "decimal(record.v)", in: "-0.5", want: dec("-0.5")},
		{name: "padded plus", call: "decimal(record.v)", in: " +3 ", want: dec("3")},
		{name: "int", call: "decimal(record.v)", in: 42, want: dec("42")},
		{name: "min int64", call: "decimal(record.v)", in: int64(math.MinInt64), want: dec("-9223372036854775808")},
		{name: "max uint64", call: "decimal(record.v)", in: uint64(math.MaxUint64), want: dec("18446744073709551615")},
		{name: "big json number", call: "decimal(record.v)", in: json.Number("123456789012345678901234567890.123"), want: dec("123456789012345678901234567890.123")},
		{name: "float via shortest text", call: "decimal(record.v)", in: 0.1, want: dec("0.1")},
		{name: "float32 via shortest text", call: "decimal(record.v)", in: float32(0.1), want: dec("0.1")},
		{name: "large float", call: "decimal(record.v)", in: 1e21, want: dec("1000000000000000000000")},
		{name: "decimal", call: "decimal(record.v)", in: dec("7.00"), want: dec("7.00")},
		{name: "nil", call: "decimal(record.v)", in: nil, want: nil},
		{name: "empty", call: "decimal(record.v)", in: "", want: nil},
		{name: "blank", call: "decimal(record.v)", in: "  ", want: nil},
		{name: "thousands separator", call: "decimal(record.v)", in: "1,234.50", err: `decimal: "1,234.50" is not a decimal number`},
		{name: "currency", call: "decimal(record.v)", in: "$5", err: `decimal: "$5" is not a decimal number`},
		{name: "NaN text", call: "decimal(record.v)", in: "NaN", err: `decimal: "NaN" is not a decimal number`},
		{name: "infinite float", call: "decimal(record.v)", in: math.Inf(1), err: `decimal: +Inf is not a finite number`},
		{name: "huge exponent", call: "decimal(record.v)", in: "1e99999", err: `decimal: "1e99999" is not a decimal number`},
		{name: "bool", call: "decimal(record.v)", in: true, err: `decimal: cannot convert true (bool)`},
	})
}

func TestDecimalText(t *testing.T) {
	tests := []struct {
		name, in, want string
		scale          int
	}{
		{name: "integer", in: "42", want: "42"},
		{name: "trailing zeros kept", in: "-12.50", want: "-12.50", scale: 2},
		{name: "leading point", in: ".5", want: "0.5", scale: 1},
		{name: "trailing point", in: "5.", want: "5"},
		{name: "small fraction", in: "0.001", want: "0.001", scale: 3},
		{name: "negative zero", in: "-0.00", want: "0.00", scale: 2},
		{name: "leading zeros", in: "007.10", want: "7.10", scale: 2},
		{name: "positive exponent", in: "1.5e3", want: "1500"},
		{name: "negative exponent", in: "15E-1", want: "1.5", scale: 1},
		{name: "exponent below zero", in: "1e-3", want: "0.001", scale: 3},
		{name: "big", in: "-123456789012345678901234567890.50", want: "-123456789012345678901234567890.50", scale: 2},
		{name: "big exponent", in: "9.9e30", want: "9900000000000000000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDecimal(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.String())
			assert.Equal(t, tt.scale, d.Scale())
			b, err := json.Marshal(d)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b))
			v, err := d.Value()
			require.NoError(t, err)
			assert.Equal(t, tt.want, v)
			back, err := ParseDecimal(d.String())
			require.NoError(t, err)
			assert.Equal(t, 0, back.Cmp(d), "round trip")
			assert.Equal(t, tt.want, back.String(), "round trip")
		})
	}
	for _, bad := range []string{"", "-", ".", "1.2.3", "1e", "1e+", "e5", " 1", "1 ", "1_000", "0x10", "Inf"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			_, err := ParseDecimal(bad)
			assert.ErrorContains(t, err, "is not a decimal number")
		})
	}
	assert.Equal(t, "0", Decimal{}.String(), "zero value")
	assert.Equal(t, "-1234", dec("-12.34").Coefficient().String())
}

func TestDecimalOperators(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "exact addition", call: "decimal('0.1') + decimal('0.2') == decimal('0.3')", want: true},
		{name: "float addition is not", call: "0.1 + 0.2 == 0.3", want: false},
		{name: "plus int", call: "decimal('12.50') + 1", want: dec("13.50")},
		{name: "int plus", call: "1 + decimal('12.50')", want: dec("13.50")},
		{name: "minus float", call: "decimal('12.50') - 0.25", want: dec("12.25")},
		{name: "float minus", call: "20.5 - decimal('0.25')", want: dec("20.25")},
		{name: "times", call: "decimal('1.5') * decimal('1.5')", want: dec("2.25")},
		{name: "times int", call: "decimal('2.10') * 3", want: dec("6.30")},
		{name: "negate by subtraction", call: "0 - decimal(record.v)", in: "4.5", want: dec("-4.5")},
		{name: "chained", call: "decimal(record.v) + decimal(record.v) > 20", in: "12.5", want: true},
		{name: "greater than zero", call: "decimal(record.v) > 0", in: "0.01", want: true},
		{name: "not greater than zero", call: "decimal(record.v) > 0", in: "-1", want: false},
		{name: "nil is not greater", call: "decimal(record.v) > 0", in: nil, want: false},
		{name: "nil is not smaller", call: "decimal(record.v) <= 0", in: nil, want: false},
		{name: "nil equals nil", call: "decimal(record.v) == nil", in: nil, want: true},
		{name: "nil equals nil decimal", call: "decimal(record.v) == decimal('')", in: nil, want: true},
		{name: "nil is not zero", call: "decimal(record.v) == 0", in: "", want: false},
		{name: "nil arithmetic", call: "decimal(record.v) + 1", in: nil, want: nil},
		{name: "equal across scales", call: "decimal('1.50') == 1.5", want: true},
		{name: "not equal across scales", call: "decimal('1.50') != decimal('1.5')", want: false},
		{name: "not equal", call: "decimal('1.51') != 1.5", want: true},
		{name: "less", call: "decimal('1') < 2", want: true},
		{name: "less or equal", call: "decimal('2.00') <= 2", want: true},
		{name: "greater or equal", call: "decimal('1.99') >= 2", want: false},
		{name: "float greater", call: "2.5 > decimal('2.4')", want: true},
		{name: "int equal", call: "2 == decimal('2.000')", want: true},
		{name: "past int64", call: "decimal('9223372036854775807') + 1", want: dec("9223372036854775808")},
		{name: "below int64", call: "decimal('-9223372036854775807') - 2", want: dec("-9223372036854775809")},
		{name: "big product", call: "decimal('99999999999') * decimal('99999999999')", want: dec("9999999999800000000001")},
		{name: "big back to small", call: "decimal('9223372036854775808') - 1", want: dec("9223372036854775807")},
		{name: "big compare", call: "decimal('123456789012345678901234567890') > decimal('123456789012345678901234567889.99')", want: true},
		{name: "scale alignment overflows to big", call: "decimal('9223372036854775.807') + decimal('0.0000001')", want: dec("9223372036854775.8070001")},
		{name: "bad string operand", call: "decimal('1') + decimal(record.v)", in: "x", err: `decimal: "x" is not a decimal number`},
	})

	env := map[string]any{"record": map[string]any{}}
	for _, src := range []string{"decimal('1') + 'x'", "decimal('1') / 2", "-decimal('1')"} {
		t.Run("compile error "+src, func(t *testing.T) {
			_, err := expr.Compile(src, append([]expr.Option{expr.Env(env)}, ExprOptions(Options{})...)...)
			assert.ErrorContains(t, err, "invalid operation")
		})
	}
}

func TestText(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "trim", call: "trim(record.v)", in: "  a b \n", want: "a b"},
		{name: "trim blank", call: "trim(record.v)", in: "  ", want: ""},
		{name: "trim empty", call: "trim(record.v)", in: "", want: ""},
		{name: "trim int", call: "trim(record.v)", in: 5, want: "5"},
		{name: "trim float", call: "trim(record.v)", in: 1.5, want: "1.5"},
		{name: "trim large float", call: "trim(record.v)", in: 1e21, want: "1000000000000000000000"},
		{name: "trim bool", call: "trim(record.v)", in: true, want: "true"},
		{name: "trim time", call: "trim(record.v)", in: utc(2024, 1, 2, 3, 4, 5, 0), want: "2024-01-02T03:04:05Z"},
		{name: "trim decimal", call: "trim(record.v)", in: dec("1.50"), want: "1.50"},
		{name: "trim nil", call: "trim(record.v)", in: nil, want: nil},
		{name: "lower", call: "lower(record.v)", in: "ÀBC Def", want: "àbc def"},
		{name: "lower nil", call: "lower(record.v)", in: nil, want: nil},
		{name: "lower json number", call: "lower(record.v)", in: json.Number("1E3"), want: "1e3"},
		{name: "upper", call: "upper(record.v)", in: "abc", want: "ABC"},
		{name: "upper int", call: "upper(record.v)", in: 12, want: "12"},
		{name: "upper nil", call: "upper(record.v)", in: nil, want: nil},
	})
}

func TestNullifCoalesce(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "equal strings", call: "nullif(record.v, 'N/A')", in: "N/A", want: nil},
		{name: "different strings", call: "nullif(record.v, 'N/A')", in: "x", want: "x"},
		{name: "strings compare exactly", call: "nullif(record.v, '0.0')", in: "0", want: "0"},
		{name: "equal ints", call: "nullif(record.v, 0)", in: 0, want: nil},
		{name: "int and float", call: "nullif(record.v, 1)", in: 1.0, want: nil},
		{name: "json number and int", call: "nullif(record.v, 5)", in: json.Number("5"), want: nil},
		{name: "string read as number", call: "nullif(record.v, 0)", in: "0.00", want: nil},
		{name: "string not a number", call: "nullif(record.v, 0)", in: "abc", want: "abc"},
		{name: "different numbers", call: "nullif(record.v, 0)", in: int64(3), want: int64(3)},
		{name: "decimal and int", call: "nullif(decimal(record.v), 0)", in: "0.00", want: nil},
		{name: "bools", call: "nullif(record.v, false)", in: false, want: nil},
		{name: "bool and string", call: "nullif(record.v, 'false')", in: false, want: false},
		{name: "nil", call: "nullif(record.v, 'x')", in: nil, want: nil},
		{name: "nil other", call: "nullif(record.v, nil)", in: "x", want: "x"},
		{name: "empty", call: "nullif(record.v, '')", in: "", want: nil},
		{name: "coalesce first", call: "coalesce(record.v, 'x')", in: "a", want: "a"},
		{name: "coalesce skips nil", call: "coalesce(record.v, 'x')", in: nil, want: "x"},
		{name: "coalesce skips empty", call: "coalesce(record.v, nil, 'x')", in: "", want: "x"},
		{name: "coalesce keeps zero", call: "coalesce(record.v, 1)", in: 0, want: 0},
		{name: "coalesce keeps blank", call: "coalesce(record.v, 'x')", in: " ", want: " "},
		{name: "coalesce none", call: "coalesce(record.v, '', nil)", in: nil, want: nil},
		{name: "coalesce one", call: "coalesce(record.v)", in: "a", want: "a"},
	})
}

func TestJSON(t *testing.T) {
	in := map[string]any{"a": 1}
	runRows(t, Options{}, []row{
		{
			name: "object", call: "json(record.v)",
			in:   `{"a":1,"b":[1.5,"x",true,null],"c":{"d":12345678901234567890,"e":-3,"f":2.0}}`,
			want: map[string]any{"a": 1, "b": []any{1.5, "x", true, nil}, "c": map[string]any{"d": 1.2345678901234567e19, "e": -3, "f": 2.0}},
		},
		{name: "array", call: "json(record.v)", in: "[1,2]", want: []any{1, 2}},
		{name: "string", call: "json(record.v)", in: `"str"`, want: "str"},
		{name: "bool", call: "json(record.v)", in: "true", want: true},
		{name: "bytes", call: "json(record.v)", in: []byte(` {"a":1} `), want: map[string]any{"a": 1}},
		{name: "field access", call: "json(record.v).a", in: `{"a":"x"}`, want: "x"},
		{name: "map passes through", call: "json(record.v)", in: in, want: in},
		{name: "typed slice passes through", call: "json(record.v)", in: []string{"a"}, want: []string{"a"}},
		{name: "number passes through", call: "json(record.v)", in: 3, want: 3},
		{name: "null", call: "json(record.v)", in: "null", want: nil},
		{name: "nil", call: "json(record.v)", in: nil, want: nil},
		{name: "empty", call: "json(record.v)", in: "", want: nil},
		{name: "blank", call: "json(record.v)", in: "  ", want: nil},
		{name: "invalid", call: "json(record.v)", in: "{bad", err: `json: "{bad" is not valid JSON: invalid character 'b'`},
		{name: "trailing data", call: "json(record.v)", in: `{"a":1} x`, err: `json: "{\"a\":1} x" is not valid JSON: data after the value`},
		{name: "time", call: "json(record.v)", in: utc(2024, 1, 1, 0, 0, 0, 0), err: `json: cannot convert 2024-01-01`},
	})
}

func TestRegexReplace(t *testing.T) {
	runRows(t, Options{}, []row{
		{name: "strip", call: "regex_replace(record.v, '[^0-9]', '')", in: "(555) 123", want: "555123"},
		{name: "groups", call: "regex_replace(record.v, '^(.*)-(.*)$', '${2}-${1}')", in: "a-b", want: "b-a"},
		{name: "number", call: "regex_replace(record.v, '3', '')", in: 12345, want: "1245"},
		{name: "thousands then decimal", call: "decimal(regex_replace(record.v, '[,$ ]', ''))", in: "$1,234.50", want: dec("1234.50")},
		{name: "nil", call: "regex_replace(record.v, 'a', 'b')", in: nil, want: nil},
		{name: "invalid pattern", call: "regex_replace(record.v, '[', '')", in: "x", err: `regex_replace: invalid pattern "["`},
		{name: "pattern from data", call: "regex_replace('abc', record.v, '')", in: 5, err: `regex_replace: the pattern is 5, want a string`},
	})

	// The pattern cache is shared by every goroutine using one library.
	lib := Library(Options{})
	i := slices.IndexFunc(lib, func(f Function) bool { return f.Name == "regex_replace" })
	require.GreaterOrEqual(t, i, 0)
	env := map[string]any{"record": map[string]any{}}
	prog, err := expr.Compile("regex_replace('a1b2', '[0-9]', '-')", expr.Env(env), lib[i].Option)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var m vm.VM
			for range 100 {
				out, err := m.Run(prog, env)
				assert.NoError(t, err)
				assert.Equal(t, "a-b-", out)
			}
		})
	}
	wg.Wait()
}

func TestHashing(t *testing.T) {
	// RFC 4231 test case 2.
	mac, err := hex.DecodeString("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
	require.NoError(t, err)
	wantMAC := base64.StdEncoding.EncodeToString(mac)
	jefe := base64.StdEncoding.EncodeToString([]byte("Jefe"))

	runRows(t, Options{}, []row{
		{name: "sha256", call: "sha256(record.v)", in: "abc", want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{name: "sha256 empty", call: "sha256(record.v)", in: "", want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{name: "sha256 number", call: "sha256(record.v)", in: 123, want: "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3"},
		{name: "sha256 nil", call: "sha256(record.v)", in: nil, want: nil},
		{name: "hmac", call: "base64_encode(hmac_sha256(record.v, 'what do ya want for nothing?'))", in: "Jefe", want: wantMAC},
		{name: "hmac with decoded key", call: "base64_encode(hmac_sha256(base64_decode(record.v), 'what do ya want for nothing?'))", in: jefe, want: wantMAC},
		{name: "hmac nil key", call: "hmac_sha256(record.v, 'x')", in: nil, want: nil},
		{name: "hmac nil message", call: "hmac_sha256('k', record.v)", in: nil, want: nil},
		{name: "base64 encode", call: "base64_encode(record.v)", in: "hello", want: "aGVsbG8="},
		{name: "base64 encode nil", call: "base64_encode(record.v)", in: nil, want: nil},
		{name: "base64 decode", call: "base64_decode(record.v)", in: " aGVsbG8= ", want: "hello"},
		{name: "base64 decode unpadded", call: "base64_decode(record.v)", in: "aGVsbG8", want: "hello"},
		{name: "base64 decode URL alphabet", call: "base64_decode(record.v)", in: "-_8", want: "\xfb\xff"},
		{name: "base64 decode nil", call: "base64_decode(record.v)", in: nil, want: nil},
		{name: "base64 decode invalid", call: "base64_decode(record.v)", in: "s3cr3t!!", err: `base64_decode: the value (8 bytes, not shown) is not base64`},
	})

	t.Run("base64_decode does not quote the value", func(t *testing.T) {
		_, err := run(t, Options{}, "base64_decode(record.v)", "s3cr3t!!")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cr3t")
	})

	t.Run("now_unix", func(t *testing.T) {
		before := time.Now().Unix()
		got, err := run(t, Options{}, "now_unix()", nil)
		require.NoError(t, err)
		require.IsType(t, 0, got)
		assert.GreaterOrEqual(t, int64(got.(int)), before)
		assert.LessOrEqual(t, int64(got.(int)), time.Now().Unix())
	})
}

// TestTypes proves the signatures: the checker knows each call's result
// type, and unknown functions and wrong arities fail to compile.
func TestTypes(t *testing.T) {
	str, tim := reflect.TypeOf(""), reflect.TypeOf(time.Time{})
	anyType := reflect.TypeOf((*any)(nil)).Elem()
	tests := []struct {
		src  string
		want reflect.Type
	}{
		{"email(record.x)", str},
		{"phone(record.x)", str},
		{"timestamp(record.x)", tim},
		{"timestamp(record.x, '2006')", tim},
		{"date(record.x)", tim},
		{"date(record.x, '2006')", tim},
		{"int(record.x)", reflect.TypeOf(0)},
		{"float(record.x)", reflect.TypeOf(0.0)},
		{"bool(record.x)", reflect.TypeOf(false)},
		{"decimal(record.x)", reflect.TypeOf(Decimal{})},
		{"decimal(record.x) + 1", reflect.TypeOf(Decimal{})},
		{"decimal(record.x) > 1", reflect.TypeOf(false)},
		{"trim(record.x)", str},
		{"lower(record.x)", str},
		{"upper(record.x)", str},
		{"nullif(record.x, '')", anyType},
		{"coalesce(record.x, record.y, 'z')", anyType},
		{"json(record.x)", anyType},
		{"regex_replace(record.x, 'a', 'b')", str},
		{"sha256(record.x)", str},
		{"hmac_sha256(record.x, record.y)", str},
		{"base64_encode(record.x)", str},
		{"base64_decode(record.x)", str},
		{"now_unix()", reflect.TypeOf(0)},
		{"email(record.x) ?? ''", str},
	}
	env := expr.Env(map[string]any{"record": map[string]any{}})
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			prog, err := expr.Compile(tt.src, append([]expr.Option{env}, ExprOptions(Options{})...)...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, prog.Node().Type())
		})
	}

	for _, tt := range []struct{ src, err string }{
		{"emial(record.x)", "unknown name emial"},
		{"email()", "not enough arguments to call email"},
		{"email(record.x, 1)", "too many arguments to call email"},
		{"timestamp(record.x, 1)", "cannot use int as argument (type string) to call timestamp"},
		{"regex_replace(record.x, 'a')", "not enough arguments to call regex_replace"},
		{"now_unix(1)", "too many arguments to call now_unix"},
		{"email(record.x) + 1", "invalid operation"},
	} {
		t.Run("error "+tt.src, func(t *testing.T) {
			_, err := expr.Compile(tt.src, append([]expr.Option{env}, ExprOptions(Options{})...)...)
			assert.ErrorContains(t, err, tt.err)
		})
	}
}

// TestBuiltinsReplaced proves that the library's int, float, trim, upper,
// lower and date replace expr's builtins of those names: a Function option
// alone already wins (expr lets functions override builtins), and
// ExprOptions also disables the builtins.
func TestBuiltinsReplaced(t *testing.T) {
	lib := map[string]Function{}
	for _, f := range Library(Options{}) {
		lib[f.Name] = f
	}
	env := map[string]any{"record": map[string]any{"v": nil}}
	tests := []struct {
		name, src string
		want      any
	}{
		{name: "int", src: "int('12.0')", want: 12},
		{name: "float", src: "float(' 1.5 ')", want: 1.5},
		{name: "trim", src: "trim(5)", want: "5"},
		{name: "upper", src: "upper(1)", want: "1"},
		{name: "lower", src: "lower(record.v)", want: nil},
		{name: "date", src: "date('2024-01-02 10:00:00')", want: utc(2024, 1, 2, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// expr's builtin gives something else, or fails.
			builtinOut, builtinErr := expr.Eval(tt.src, env)
			if builtinErr == nil {
				assert.NotEqual(t, tt.want, builtinOut, "the builtin alone should differ")
			}

			prog, err := expr.Compile(tt.src, expr.Env(env), lib[tt.name].Option)
			require.NoError(t, err)
			got, err := vm.Run(prog, env)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "Function option alone")

			got, err = run(t, Options{}, tt.src, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "ExprOptions")
		})
	}
}

func TestLibrary(t *testing.T) {
	lib := Library(Options{})
	var names []string
	for _, f := range lib {
		names = append(names, f.Name)
	}
	assert.True(t, slices.IsSorted(names), "sorted by name: %v", names)
	assert.Equal(t, []string{
		"base64_decode", "base64_encode", "bool", "coalesce", "date", "decimal", "email", "float",
		"hmac_sha256", "int", "json", "lower", "now_unix", "now_unix_ms", "nullif", "phone", "regex_replace",
		"secure_equal", "sha256", "timestamp", "timestamp_ms", "trim", "upper",
	}, names)

	columns := []string{"text", "integer", "float", "boolean", "timestamp", "date", "decimal", "json", ""}
	env := map[string]any{"record": map[string]any{}}
	for _, f := range lib {
		t.Run(f.Name, func(t *testing.T) {
			assert.Contains(t, f.Signature, f.Name+"(")
			assert.Contains(t, f.Signature, " → ")
			assert.NotEmpty(t, f.Doc)
			assert.Contains(t, columns, f.Column)
			require.NotNil(t, f.Option)
			assert.Contains(t, f.Example, f.Name+"(")
			// The documented example compiles against a record.
			_, err := expr.Compile(f.Example, append([]expr.Option{expr.Env(env)}, ExprOptions(Options{})...)...)
			assert.NoError(t, err)
		})
	}
}

func TestSecureEqual(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b any
		want bool
	}{
		{"same text", "c2lnbmF0dXJl", "c2lnbmF0dXJl", true},
		{"one byte off", "c2lnbmF0dXJl", "c2lnbmF0dXJm", false},
		{"prefix", "abc", "abcd", false},
		{"number formatted", 42, "42", true},
		{"nil never equal", nil, nil, false},
		{"nil and text", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secureEqualFunc(tc.a, tc.b)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	ms, err := nowUnixMsFunc()
	require.NoError(t, err)
	s, err := nowUnixFunc()
	require.NoError(t, err)
	assert.InDelta(t, float64(s.(int))*1000, float64(ms.(int)), 2000, "now_unix_ms is milliseconds")
}

// BenchmarkLibrary measures the per-record path the engine takes: one
// compiled program, one reused VM.
func BenchmarkLibrary(b *testing.B) {
	benchmarks := []struct {
		name, src string
		in        any
	}{
		{name: "baseline", src: "record.v", in: "x"},
		{name: "email", src: "email(record.v)", in: "jane.doe@example.com"},
		{name: "email_mixed_case", src: "email(record.v)", in: " Jane.Doe@Example.com"},
		{name: "phone", src: "phone(record.v)", in: "+1 (555) 123-4567"},
		{name: "timestamp_iso_ms_z", src: "timestamp(record.v)", in: "2024-01-15T10:20:30.123Z"},
		{name: "timestamp_naive", src: "timestamp(record.v)", in: "2024-01-15 10:20:30"},
		{name: "decimal", src: "decimal(record.v)", in: "1234.50"},
		{name: "decimal_gt_zero", src: "decimal(record.v) > 0", in: "1234.50"},
		{name: "int", src: "int(record.v)", in: "12345"},
		{name: "bool", src: "bool(record.v)", in: "TRUE"},
		{name: "trim", src: "trim(record.v)", in: "  Jane  "},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			env := map[string]any{"record": map[string]any{"v": bm.in}}
			prog, err := expr.Compile(bm.src, append([]expr.Option{expr.Env(env)}, ExprOptions(Options{})...)...)
			require.NoError(b, err)
			var m vm.VM
			_, err = m.Run(prog, env)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Run(prog, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
