package mysql

import (
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is how a column's values are turned into record values.
type kind int

const (
	kindAsIs      kind = iota // int64, float64, nil as the driver gives them
	kindText                  // bytes → string (text, DECIMAL, JSON, ENUM, BLOB, TIME…)
	kindDateTime              // naive DATETIME → time.Time in the pipeline's timezone
	kindTimestamp             // TIMESTAMP (session time zone UTC) → time.Time
	kindDate                  // DATE → "YYYY-MM-DD"
	kindBit                   // BIT(n) → int64
	kindFloat32               // FLOAT → float64 with FLOAT's shortest text
	kindUnsigned              // BIGINT UNSIGNED → int64, or a string beyond int64
)

// column is one column of the result set.
type column struct {
	name   string
	dbType string // DatabaseTypeName: DATETIME, DECIMAL, …
	kind   kind
}

func (c column) isTime() bool {
	return c.kind == kindDateTime || c.kind == kindTimestamp || c.kind == kindDate
}

// columnsOf describes a result set's columns.
func columnsOf(types []*sql.ColumnType) []column {
	cols := make([]column, len(types))
	for i, t := range types {
		cols[i] = column{name: t.Name(), dbType: t.DatabaseTypeName(), kind: kindOf(t.DatabaseTypeName())}
	}
	return cols
}

func kindOf(dbType string) kind {
	switch dbType {
	case "DATETIME":
		return kindDateTime
	case "TIMESTAMP":
		return kindTimestamp
	case "DATE":
		return kindDate
	case "BIT":
		return kindBit
	case "FLOAT":
		return kindFloat32
	case "UNSIGNED BIGINT":
		return kindUnsigned
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT", "YEAR", "DOUBLE",
		"UNSIGNED TINYINT", "UNSIGNED SMALLINT", "UNSIGNED MEDIUMINT", "UNSIGNED INT":
		return kindAsIs
	}
	return kindText
}

// zeroDate reports a MySQL zero date or a date with a zero month or day
// ("0000-00-00", "2020-00-00 00:00:00"), which has no instant.
func zeroDate(b []byte) bool {
	if len(b) < 10 {
		return false
	}
	return string(b[:4]) == "0000" || string(b[5:7]) == "00" || string(b[8:10]) == "00"
}

// value converts one driver value of column c. A zero date gives (nil,
// true).
func (c column) value(v any, loc *time.Location) (out any, zero bool, err error) {
	if v == nil {
		return nil, false, nil
	}
	switch c.kind {
	case kindText:
		return text(v), false, nil
	case kindDateTime, kindTimestamp, kindDate:
		b, ok := v.([]byte)
		if !ok {
			return nil, false, fmt.Errorf("column %s: %s value is %T, want text", c.name, c.dbType, v)
		}
		if zeroDate(b) {
			return nil, true, nil
		}
		if c.kind == kindDate {
			return string(b), false, nil
		}
		if c.kind == kindTimestamp {
			loc = time.UTC
		}
		t, err := parseDateTime(b, loc)
		if err != nil {
			return nil, false, fmt.Errorf("column %s: %w", c.name, err)
		}
		return t, false, nil
	case kindBit:
		b, ok := v.([]byte)
		if !ok {
			return v, false, nil
		}
		var n uint64
		for _, x := range b {
			n = n<<8 | uint64(x)
		}
		if n > math.MaxInt64 {
			return strconv.FormatUint(n, 10), false, nil
		}
		return int64(n), false, nil
	case kindFloat32:
		if f, ok := v.(float32); ok {
			g, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
			return g, false, nil
		}
	case kindUnsigned:
		if n, ok := v.(uint64); ok {
			if n > math.MaxInt64 {
				return strconv.FormatUint(n, 10), false, nil
			}
			return int64(n), false, nil
		}
	}
	if b, ok := v.([]byte); ok {
		return string(b), false, nil
	}
	return v, false, nil
}

// text is a driver value as a string: bytes as they are (the connection is
// utf8mb4, so text columns arrive as UTF-8; BLOBs keep their bytes).
func text(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return fmt.Sprint(v)
}

// keyText is a key column's driver value as the text a position names it
// by.
func keyText(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(text(v))
}

// parseDateTime reads "YYYY-MM-DD HH:MM:SS[.ffffff]" (or a bare date) in
// loc. The common forms are parsed by hand: time.Parse is a third of the
// cost of reading a row.
func parseDateTime(b []byte, loc *time.Location) (time.Time, error) {
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	if (len(b) == 10 || len(b) >= 19) && b[4] == '-' && b[7] == '-' {
		y, ok1 := num(b[0:4])
		mo, ok2 := num(b[5:7])
		d, ok3 := num(b[8:10])
		h, mi, sec, ns := 0, 0, 0, 0
		ok := ok1 && ok2 && ok3
		if ok && len(b) >= 19 {
			var ok4, ok5, ok6 bool
			h, ok4 = num(b[11:13])
			mi, ok5 = num(b[14:16])
			sec, ok6 = num(b[17:19])
			ok = b[10] == ' ' && b[13] == ':' && b[16] == ':' && ok4 && ok5 && ok6
			if ok && len(b) > 19 {
				frac := b[20:]
				f, okf := num(frac)
				ok = b[19] == '.' && okf && len(frac) >= 1 && len(frac) <= 9
				for i := len(frac); i < 9; i++ {
					f *= 10
				}
				ns = f
			}
		}
		if ok && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, loc)
			if t.Day() == d { // not normalized: 2024-02-31 is an error below
				return t, nil
			}
		}
	}
	s := string(b)
	layout := "2006-01-02 15:04:05.999999999"
	if len(s) == 10 {
		layout = "2006-01-02"
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("read date-time %q: %w", s, err)
	}
	return t, nil
}

// sqlTime formats t as the literal a column of kind k compares with: naive
// in loc for DATETIME, UTC for TIMESTAMP (the session time zone), the date
// in loc for DATE.
func sqlTime(t time.Time, k kind, loc *time.Location) string {
	switch k {
	case kindTimestamp:
		t = t.UTC()
	default:
		t = t.In(loc)
	}
	if k == kindDate {
		return t.Format("2006-01-02")
	}
	s := t.Format("2006-01-02 15:04:05.000000")
	return strings.TrimSuffix(s, ".000000")
}
