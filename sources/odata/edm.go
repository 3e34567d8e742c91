package odata

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// edmValue converts the text of an Atom property to the Go value its
// m:type gives: Edm.String (the default), Edm.Guid, Edm.Time and unknown
// types stay strings; integers become int64, Edm.Decimal an exact
// json.Number, Edm.Double and Edm.Single float64 (their INF, -INF and NaN
// stay text), Edm.Boolean bool, Edm.DateTime a time in loc (it has no
// offset), Edm.DateTimeOffset a time at its offset; Edm.Binary stays its
// base64 text, checked. Empty text is "" whatever the type.
func edmValue(text, typ string, loc *time.Location) (any, error) {
	if text == "" {
		return "", nil
	}
	switch typ {
	case "", "Edm.String", "Edm.Guid", "Edm.Time", "Edm.Duration", "Edm.TimeOfDay", "Edm.Date":
		return text, nil
	case "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte":
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return n, nil
	case "Edm.Decimal":
		d, ok := decimalText(text)
		if !ok {
			return nil, fmt.Errorf("%q is not a decimal", text)
		}
		return json.Number(d), nil
	case "Edm.Double", "Edm.Single":
		t := strings.TrimSpace(text)
		switch t {
		case "INF", "-INF", "NaN":
			return t, nil
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return f, nil
	case "Edm.Boolean":
		switch strings.TrimSpace(text) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", text)
	case "Edm.DateTime":
		return parseDateTime(text, loc)
	case "Edm.DateTimeOffset":
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a date-time with an offset", text)
		}
		return t, nil
	case "Edm.Binary":
		t := strings.TrimSpace(text)
		if _, err := base64.StdEncoding.DecodeString(t); err != nil {
			return nil, fmt.Errorf("the value is not base64")
		}
		return t, nil
	}
	return text, nil
}

var dateTimeLayouts = []string{
	"2006-01-02T15:04:05.9999999",
	"2006-01-02T15:04",
}

// parseDateTime reads an Edm.DateTime: yyyy-mm-ddThh:mm[:ss[.fffffff]]
// without an offset, in loc. A value that carries one anyway (Z, +02:00)
// is read at it.
func parseDateTime(text string, loc *time.Location) (time.Time, error) {
	t := strings.TrimSpace(text)
	for _, l := range dateTimeLayouts {
		if v, err := time.ParseInLocation(l, t, loc); err == nil {
			return v, nil
		}
	}
	if v, err := time.Parse(time.RFC3339Nano, t); err == nil {
		return v, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date-time (yyyy-mm-ddThh:mm[:ss[.fffffff]])", text)
}

var decimalRE = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// decimalText checks a decimal literal and writes it as a JSON number,
// every digit kept: "+1." → "1", ".5" → "0.5", "1.50" stays "1.50". A
// trailing M or m (the v2 literal suffix) is dropped.
func decimalText(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "M"), "m")
	if !decimalRE.MatchString(s) {
		return "", false
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	if strings.HasPrefix(mant, ".") {
		mant = "0" + mant
	}
	mant = strings.TrimSuffix(mant, ".")
	if exp != "" {
		mant += "e" + exp
	}
	if neg {
		mant = "-" + mant
	}
	return mant, true
}

var jsonDateRE = regexp.MustCompile(`^/Date\((-?[0-9]+)([+-][0-9]{4})?\)/$`)

// jsonDate reads OData v2 JSON's "\/Date(1700000000000)\/": milliseconds
// since the epoch. Without an offset it is an Edm.DateTime, whose wall
// clock (in UTC) is read in loc, as the Atom form is; with one
// ("/Date(1700000000000+0060)/", minutes) it is an Edm.DateTimeOffset at
// that offset.
func jsonDate(s string, loc *time.Location) (time.Time, bool) {
	if !strings.HasPrefix(s, "/Date(") {
		return time.Time{}, false
	}
	m := jsonDateRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	t := time.UnixMilli(ms).UTC()
	if m[2] == "" {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc), true
	}
	off, _ := strconv.Atoi(m[2])
	return t.In(time.FixedZone("", off*60)), true
}
