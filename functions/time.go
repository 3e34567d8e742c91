package functions

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// timeParser reads the values timestamp and date accept, with naive
// date-times in loc.
type timeParser struct {
	loc *time.Location
}

// civil is a date-time as written: calendar fields and, when zoned, the
// offset east of UTC in seconds.
type civil struct {
	year, month, day, hour, min, sec, nsec int
	offset                                 int
	zoned                                  bool
}

// parsed is what parse found: nothing (nil, "", a zero date), an instant
// (t), or a naive or zoned civil date-time (c).
type parsed struct {
	kind int
	t    time.Time
	c    civil
}

const (
	parsedNil = iota
	parsedInstant
	parsedCivil
)

func (p timeParser) timestampFunc(args ...any) (any, error) {
	r, err := p.parse("timestamp", args)
	if err != nil {
		return nil, err
	}
	switch r.kind {
	case parsedInstant:
		return r.t.UTC(), nil
	case parsedCivil:
		return p.instant(r.c), nil
	}
	return nil, nil
}

func (p timeParser) dateFunc(args ...any) (any, error) {
	r, err := p.parse("date", args)
	if err != nil {
		return nil, err
	}
	var y, d int
	var m time.Month
	switch {
	case r.kind == parsedInstant:
		y, m, d = r.t.In(p.loc).Date()
	case r.kind == parsedCivil && !r.c.zoned:
		y, m, d = r.c.year, time.Month(r.c.month), r.c.day
	case r.kind == parsedCivil:
		y, m, d = p.instant(r.c).In(p.loc).Date()
	default:
		return nil, nil
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

// instant is the moment c names: at its offset when zoned, else in p.loc.
func (p timeParser) instant(c civil) time.Time {
	if c.zoned {
		t := time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, c.nsec, time.UTC)
		return t.Add(-time.Duration(c.offset) * time.Second)
	}
	return time.Date(c.year, time.Month(c.month), c.day, c.hour, c.min, c.sec, c.nsec, p.loc).UTC()
}

// An epoch unit, as timestamp(x, 's'|'ms') or timestamp_ms declare it.
const (
	unitNone    = ""
	unitSeconds = "s"
	unitMillis  = "ms"
)

// timestampMsFunc is timestamp(value, 'ms').
func (p timeParser) timestampMsFunc(args ...any) (any, error) {
	return p.timestampFunc(args[0], unitMillis)
}

// parse reads args[0], with the optional layout or epoch unit args[1], for fn.
func (p timeParser) parse(fn string, args []any) (parsed, error) {
	v := args[0]
	unit := unitNone
	if len(args) > 1 {
		if u, ok := args[1].(string); ok && (u == unitSeconds || u == unitMillis) {
			unit, args = u, args[:1]
		}
	}
	epochInt := func(fn string, v any, n int64) (parsed, error) { return epochInt(fn, v, n, unit) }
	epochFloat := func(fn string, v any, f float64) (parsed, error) { return epochFloat(fn, v, f, unit) }
	switch x := v.(type) {
	case nil:
		return parsed{}, nil
	case time.Time:
		if x.IsZero() {
			return parsed{}, nil
		}
		return parsed{kind: parsedInstant, t: x}, nil
	case int:
		return epochInt(fn, v, int64(x))
	case int32:
		return epochInt(fn, v, int64(x))
	case int64:
		return epochInt(fn, v, x)
	case uint32:
		return epochInt(fn, v, int64(x))
	case uint:
		return epochInt(fn, v, int64(min(x, math.MaxInt64)))
	case uint64:
		if x > math.MaxInt64 {
			return parsed{}, valueError(fn, v, "is out of the timestamp range")
		}
		return epochInt(fn, v, int64(x))
	case float32, float64:
		return epochFloat(fn, v, toFloat64(x))
	case json.Number:
		s := string(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return epochInt(fn, v, n)
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return parsed{}, valueError(fn, v, "is not an epoch number")
		}
		return epochFloat(fn, v, f)
	}
	s, ok := text(v)
	if !ok {
		return parsed{}, typeError(fn, v)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return parsed{}, nil
	}

	if len(args) > 1 && args[1] != nil {
		layout, ok := args[1].(string)
		if !ok {
			return parsed{}, valueError(fn, args[1], "is not a layout string")
		}
		t, err := time.ParseInLocation(layout, s, p.loc)
		if err != nil {
			return parsed{}, valueError(fn, v, "does not match layout %s", quote(layout))
		}
		if t.IsZero() {
			return parsed{}, nil
		}
		return parsed{kind: parsedInstant, t: t}, nil
	}

	switch c, status := parseISO(s); status {
	case isoOK:
		return parsed{kind: parsedCivil, c: c}, nil
	case isoZero:
		return parsed{}, nil
	case isoInvalid:
		return parsed{}, valueError(fn, v, "is not a valid date-time (a field is out of range)")
	}
	switch c := s[0]; {
	case c == '/':
		if ms, ok := parseODataDate(s); ok {
			return epochMillis(fn, v, ms)
		}
	case '0' <= c && c <= '9' || c == '-':
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return epochInt(fn, v, n)
		}
		if isDecimalText(s) && !strings.ContainsAny(s, "eE") {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return epochFloat(fn, v, f)
			}
		}
	case 'A' <= c && c <= 'Z':
		if t, ok := parseRFC1123(s); ok {
			return parsed{kind: parsedInstant, t: t}, nil
		}
	}
	return parsed{}, valueError(fn, v, "is not a date-time; want ISO 8601 (2006-01-02T15:04:05Z), RFC 1123, /Date(ms)/ or epoch seconds or milliseconds, or pass a Go layout")
}

// How an epoch number is read. With a declared unit (timestamp(x, 's'),
// timestamp(x, 'ms'), timestamp_ms(x)), in that unit, whatever its size.
// Without one, only where the magnitude leaves no doubt: from
// epochMillisFrom on it is milliseconds (1e11 seconds would be the year
// 5138; 1e11 milliseconds is March 1973). Below that both readings give a
// plausible date — 1.7e9 is 2023 in seconds and January 1970 in
// milliseconds, -2.6e10 is March 1969 in milliseconds and the year 1148 in
// seconds — so a bare number there is refused, never guessed.
const epochMillisFrom = 1e11

const ambiguousEpoch = "is an epoch number whose unit its size cannot tell (below 1e11, seconds and milliseconds both give a plausible date); declare it: timestamp(x, 's'), timestamp(x, 'ms') or timestamp_ms(x) (use nullif for a 0 that means unset)"

func epochInt(fn string, v any, n int64, unit string) (parsed, error) {
	switch {
	case unit == unitMillis:
		return epochMillis(fn, v, n)
	case unit == unitSeconds:
		if n > 1e12 || n < -1e12 { // past year 9999 either way; time.Unix would overflow
			return parsed{}, valueError(fn, v, "is out of the timestamp range")
		}
		return checkYear(fn, v, time.Unix(n, 0))
	case n >= epochMillisFrom || n <= -epochMillisFrom:
		return epochMillis(fn, v, n)
	}
	return parsed{}, valueError(fn, v, ambiguousEpoch)
}

func epochMillis(fn string, v any, ms int64) (parsed, error) {
	return checkYear(fn, v, time.UnixMilli(ms))
}

func epochFloat(fn string, v any, f float64, unit string) (parsed, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 || (unit == unitSeconds && math.Abs(f) > 1e12) {
		return parsed{}, valueError(fn, v, "is out of the timestamp range")
	}
	switch a := math.Abs(f); {
	case unit == unitMillis || unit == unitNone && a >= epochMillisFrom:
		// Whole milliseconds apart from the fraction: dividing by 1000
		// first would lose the last digits to rounding.
		ms := math.Floor(f)
		ns := math.Round((f - ms) * 1e6)
		return checkYear(fn, v, time.UnixMilli(int64(ms)).Add(time.Duration(ns)))
	case unit == unitNone:
		return parsed{}, valueError(fn, v, ambiguousEpoch)
	}
	sec := math.Floor(f)
	nsec := math.Round((f - sec) * 1e9)
	return checkYear(fn, v, time.Unix(int64(sec), int64(nsec)))
}

// checkYear accepts t when its year is 1 to 9999.
func checkYear(fn string, v any, t time.Time) (parsed, error) {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return parsed{}, valueError(fn, v, "is out of the timestamp range (year %d)", y)
	}
	return parsed{kind: parsedInstant, t: t}, nil
}

// parseODataDate reads /Date(ms)/ and /Date(ms±hhmm)/. The milliseconds are
// UTC; the offset only says which zone the value was displayed in.
func parseODataDate(s string) (int64, bool) {
	const prefix, suffix = "/Date(", ")/"
	if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, suffix) || len(s) <= len(prefix)+len(suffix) {
		return 0, false
	}
	body := s[len(prefix) : len(s)-len(suffix)]
	if i := strings.LastIndexAny(body, "+-"); i > 0 {
		off := body[i+1:]
		if len(off) != 4 || !allDigits(off) {
			return 0, false
		}
		body = body[:i]
	}
	ms, err := strconv.ParseInt(body, 10, 64)
	return ms, err == nil
}

// parseRFC1123 reads RFC 1123 dates with a numeric zone or GMT/UTC. Other
// zone abbreviations are refused: Go would read an unknown one as UTC.
func parseRFC1123(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC1123Z, s); err == nil {
		return t, true
	}
	if strings.HasSuffix(s, " GMT") || strings.HasSuffix(s, " UTC") {
		if t, err := time.Parse(time.RFC1123, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// The outcomes of parseISO.
const (
	isoNoMatch = iota // not ISO 8601 shaped
	isoOK
	isoZero    // a MySQL zero date: 0000-00-00[ 00:00:00]
	isoInvalid // shaped right, but a field is out of range
)

// parseISO reads, by hand and without allocating, the ISO 8601 forms
// sources send:
//
//	YYYY-MM-DD
//	YYYY-MM-DD(T| )hh:mm[:ss[(.|,)fraction]][ ][zone]
//
// where zone is Z, UTC, GMT, ±hh, ±hhmm or ±hh:mm. Fraction digits past
// nanoseconds are dropped. The year must be 0001 to 9999.
func parseISO(s string) (civil, int) {
	var c civil
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return c, isoNoMatch
	}
	y1, ok1 := num2(s, 0)
	y2, ok2 := num2(s, 2)
	mo, ok3 := num2(s, 5)
	d, ok4 := num2(s, 8)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return c, isoNoMatch
	}
	c.year, c.month, c.day = y1*100+y2, mo, d
	i := 10
	if i < len(s) {
		if s[i] != 'T' && s[i] != 't' && s[i] != ' ' {
			return c, isoNoMatch
		}
		var ok bool
		if c.hour, ok = num2(s, i+1); !ok || len(s) < i+6 || s[i+3] != ':' {
			return c, isoNoMatch
		}
		if c.min, ok = num2(s, i+4); !ok {
			return c, isoNoMatch
		}
		i += 6
		if i < len(s) && s[i] == ':' {
			if c.sec, ok = num2(s, i+1); !ok {
				return c, isoNoMatch
			}
			i += 3
			if i < len(s) && (s[i] == '.' || s[i] == ',') {
				i++
				start, scale := i, 100000000
				for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
					c.nsec += int(s[i]-'0') * scale
					scale /= 10
				}
				if i == start {
					return c, isoNoMatch
				}
			}
		}
		if i < len(s) {
			if s[i] == ' ' {
				i++
			}
			if !parseZone(s[i:], &c) {
				return c, isoNoMatch
			}
		}
	}
	if c.year == 0 && c.month == 0 && c.day == 0 {
		return c, isoZero
	}
	if c.year < 1 || c.month < 1 || c.month > 12 || c.day < 1 || c.day > daysIn(c.year, c.month) ||
		c.hour > 23 || c.min > 59 || c.sec > 59 {
		return c, isoInvalid
	}
	return c, isoOK
}

// parseZone reads a whole zone suffix into c.
func parseZone(z string, c *civil) bool {
	switch z {
	case "Z", "z", "UTC", "GMT":
		c.zoned = true
		return true
	}
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return false
	}
	h, ok := num2(z, 1)
	if !ok || h > 23 {
		return false
	}
	m := 0
	switch rest := z[3:]; {
	case rest == "":
	case len(rest) == 2:
		m, ok = num2(rest, 0)
	case len(rest) == 3 && rest[0] == ':':
		m, ok = num2(rest, 1)
	default:
		return false
	}
	if !ok || m > 59 {
		return false
	}
	c.offset = h*3600 + m*60
	if z[0] == '-' {
		c.offset = -c.offset
	}
	c.zoned = true
	return true
}

// num2 reads the two decimal digits at s[i:i+2].
func num2(s string, i int) (int, bool) {
	if i+2 > len(s) {
		return 0, false
	}
	a, b := s[i]-'0', s[i+1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
