package postgres

import (
	"encoding/binary"
	"errors"

	"github.com/jackc/pgx/v5/pgtype"
)

// numericCodec is pgx's numeric codec, except that it encodes a decimal
// string ("-12.50", the engine's form of a decimal) to the binary format
// itself. pgx has no plan from a string to binary numeric: COPY then builds
// an error for every value, parses the string into a big.Int and encodes
// that, which made decimals the most expensive part of a COPY. Strings in
// another form (an exponent, NaN) are left to pgx's fallback, unchanged.
type numericCodec struct{ pgtype.NumericCodec }

func (c numericCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(string); ok && format == pgtype.BinaryFormatCode {
		return numericStringPlan{}
	}
	return c.NumericCodec.PlanEncode(m, oid, format, value)
}

// registerNumeric makes m encode decimal strings to numeric directly.
func registerNumeric(m *pgtype.Map) {
	m.RegisterType(&pgtype.Type{Name: "numeric", OID: pgtype.NumericOID, Codec: numericCodec{}})
}

type numericStringPlan struct{}

// errNotPlainDecimal sends a string to pgx's own path, which fails for most
// (pgx reads no exponent): a COPY's rows then go one at a time, where the
// server casts the text.
var errNotPlainDecimal = errors.New("not a plain decimal")

// maxPlainDigits and maxExponent bound the strings encoded here, far inside
// numeric's limits (131072 digits before the point, 16383 after).
const (
	maxPlainDigits = 4000
	maxExponent    = 4000
)

// Encode writes s, [+-]digits[.digits][e[+-]digits] (the integer or the
// fraction may be empty, not both), as PostgreSQL's binary numeric: the
// number of base-10000 digits, the weight of the first (a power of 10000),
// the sign, the display scale, then the digits. The display scale is what
// the server gives the same text: the digits after the point, less the
// exponent, at least 0.
func (numericStringPlan) Encode(value any, buf []byte) ([]byte, error) {
	s := value.(string)
	if len(s) > maxPlainDigits {
		return nil, errNotPlainDecimal
	}
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	exp := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			var ok bool
			if exp, ok = parseExponent(s[i+1:]); !ok {
				return nil, errNotPlainDecimal
			}
			s = s[:i]
			break
		}
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	if len(intPart)+len(frac) == 0 || !allDigits(intPart) || !allDigits(frac) {
		return nil, errNotPlainDecimal
	}
	dscale := max(len(frac)-exp, 0)

	// The digits are intPart then frac; digit i weighs 10^(point-1-i).
	n := len(intPart) + len(frac)
	digit := func(i int) int {
		if i < len(intPart) {
			return int(intPart[i] - '0')
		}
		return int(frac[i-len(intPart)] - '0')
	}
	point := len(intPart) + exp
	first, last := 0, n-1
	for first < n && digit(first) == 0 {
		first++
	}
	for last >= first && digit(last) == 0 {
		last--
	}
	var stack [32]int16
	groups := stack[:0]
	weight := 0
	if first <= last {
		weight = floorDiv(point-1-first, 4)
		for i := first; i <= last; i++ {
			k := point - 1 - i // the power of ten digit i weighs
			w := floorDiv(k, 4)
			for len(groups) <= weight-w {
				groups = append(groups, 0)
			}
			groups[weight-w] += int16(digit(i) * pow10[k-4*w])
		}
	}
	sign := uint16(0x0000)
	if neg && len(groups) > 0 {
		sign = 0x4000 // zero is never negative
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(groups)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, uint16(dscale))
	for _, d := range groups {
		buf = binary.BigEndian.AppendUint16(buf, uint16(d))
	}
	return buf, nil
}

var pow10 = [4]int{1, 10, 100, 1000}

// floorDiv is a/b rounded toward negative infinity, for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// parseExponent reads [+-]digits, within ±maxExponent.
func parseExponent(s string) (int, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || !allDigits(s) {
		return 0, false
	}
	e := 0
	for i := 0; i < len(s); i++ {
		e = e*10 + int(s[i]-'0')
		if e > maxExponent {
			return 0, false
		}
	}
	if neg {
		e = -e
	}
	return e, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
