package functions

import (
	"database/sql/driver"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/conf"
)

// Decimal is an exact decimal number: an integer coefficient and a scale,
// the count of digits after the point, so 12.50 is 1250 with scale 2. Its
// zero value is 0. A Decimal is immutable and safe to copy; arithmetic
// returns new values.
//
// The scale is kept as written: decimal('12.50') prints "12.50", not
// "12.5", and 12.50 equals 12.5 when compared. An exponent is applied when
// parsing ("1.5e3" is 1500, "15e-1" is 1.5), never printed. The text of
// [Decimal.String] is plain digits with an optional "-" and ".", which
// PostgreSQL's numeric (and any SQL decimal type wide enough) reads back
// exactly.
type Decimal struct {
	small int64    // the coefficient when big is nil; never math.MinInt64
	big   *big.Int // the coefficient when it does not fit small; never modified
	scale int32    // digits after the point, 0 to maxScale
}

const (
	// maxScale is the most digits after the point a Decimal keeps: the
	// largest display scale of PostgreSQL's numeric.
	maxScale = 16383
	// maxExpand is the most zeros an exponent may add before the point, a
	// bound on the work one value can cost.
	maxExpand = 1000
)

// ParseDecimal reads a decimal number: an optional sign, digits with an
// optional point (".5" and "5." are fine), and an optional exponent
// ("1.5e3"). Surrounding white space, thousands separators, "NaN" and
// infinities are errors.
func ParseDecimal(s string) (Decimal, error) {
	d, ok := parseDecimal(s)
	if !ok {
		return Decimal{}, fmt.Errorf("decimal: %s is not a decimal number", quote(s))
	}
	return d, nil
}

func parseDecimal(s string) (Decimal, bool) {
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var u uint64
	digits, frac := 0, 0
	overflow, dot := false, false
	mant := i
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if dot {
				return Decimal{}, false
			}
			dot = true
			continue
		}
		if c < '0' || c > '9' {
			break
		}
		digits++
		if dot {
			frac++
		}
		if !overflow {
			d := uint64(c - '0')
			if u > (math.MaxUint64-d)/10 {
				overflow = true
			} else {
				u = u*10 + d
			}
		}
	}
	if digits == 0 {
		return Decimal{}, false
	}
	mantEnd := i
	exp := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return Decimal{}, false
		}
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return Decimal{}, false
		}
		for ; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return Decimal{}, false
			}
			exp = exp*10 + int(c-'0')
			if exp > maxScale+maxExpand {
				return Decimal{}, false
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	scale := frac - exp
	if scale > maxScale || scale < -maxExpand {
		return Decimal{}, false
	}
	var d Decimal
	if !overflow && u <= math.MaxInt64 {
		d.small = int64(u)
		if neg {
			d.small = -d.small
		}
	} else {
		b := make([]byte, 0, digits+1)
		if neg {
			b = append(b, '-')
		}
		for j := mant; j < mantEnd; j++ {
			if s[j] != '.' {
				b = append(b, s[j])
			}
		}
		d.big, _ = new(big.Int).SetString(string(b), 10)
		d = d.norm()
	}
	if scale < 0 {
		return d.mulPow10(-scale), true
	}
	d.scale = int32(scale)
	return d, true
}

// String returns the number as plain text: "-" when negative, the integer
// digits, and when the scale is positive "." and exactly scale digits.
func (d Decimal) String() string {
	var buf [24]byte
	var digits []byte
	neg := false
	if d.big == nil {
		n := d.small
		if n < 0 {
			neg, n = true, -n
		}
		digits = strconv.AppendUint(buf[:0], uint64(n), 10)
	} else {
		digits = d.big.Append(buf[:0], 10)
		if digits[0] == '-' {
			neg, digits = true, digits[1:]
		}
	}
	scale := int(d.scale)
	var b strings.Builder
	b.Grow(len(digits) + scale + 3)
	if neg {
		b.WriteByte('-')
	}
	switch {
	case scale == 0:
		b.Write(digits)
	case len(digits) > scale:
		b.Write(digits[:len(digits)-scale])
		b.WriteByte('.')
		b.Write(digits[len(digits)-scale:])
	default:
		b.WriteString("0.")
		for range scale - len(digits) {
			b.WriteByte('0')
		}
		b.Write(digits)
	}
	return b.String()
}

// Scale is the number of digits after the point.
func (d Decimal) Scale() int { return int(d.scale) }

// Coefficient is the number without its point, so d = Coefficient × 10^-Scale.
// It is a new big.Int the caller may modify.
func (d Decimal) Coefficient() *big.Int {
	if d.big != nil {
		return new(big.Int).Set(d.big)
	}
	return big.NewInt(d.small)
}

// Sign is -1, 0 or +1 as d is negative, zero or positive.
func (d Decimal) Sign() int {
	if d.big != nil {
		return d.big.Sign()
	}
	switch {
	case d.small < 0:
		return -1
	case d.small > 0:
		return 1
	}
	return 0
}

// Cmp compares by value, whatever the scales: -1 when d < e, 0 when they
// are equal (1.5 and 1.50 are), +1 when d > e.
func (d Decimal) Cmp(e Decimal) int {
	if ds, es := d.Sign(), e.Sign(); ds != es {
		if ds < es {
			return -1
		}
		return 1
	}
	x, y := align(d, e)
	if x.big == nil && y.big == nil {
		switch {
		case x.small < y.small:
			return -1
		case x.small > y.small:
			return 1
		}
		return 0
	}
	return x.coef().Cmp(y.coef())
}

// Add returns d + e, with the larger of their scales.
func (d Decimal) Add(e Decimal) Decimal {
	x, y := align(d, e)
	if x.big == nil && y.big == nil {
		s := x.small + y.small
		// Signed overflow happens when both operands differ in sign from s.
		if (x.small^s)&(y.small^s) >= 0 && s != math.MinInt64 {
			return Decimal{small: s, scale: x.scale}
		}
	}
	return Decimal{big: new(big.Int).Add(x.coef(), y.coef()), scale: x.scale}.norm()
}

// Sub returns d - e, with the larger of their scales.
func (d Decimal) Sub(e Decimal) Decimal {
	return d.Add(e.neg())
}

// Mul returns d × e, whose scale is the sum of theirs.
func (d Decimal) Mul(e Decimal) Decimal {
	scale := d.scale + e.scale
	if d.big == nil && e.big == nil {
		hi, lo := bits.Mul64(absUint(d.small), absUint(e.small))
		if hi == 0 && lo <= math.MaxInt64 {
			n := int64(lo)
			if (d.small < 0) != (e.small < 0) {
				n = -n
			}
			return Decimal{small: n, scale: scale}
		}
	}
	return Decimal{big: new(big.Int).Mul(d.coef(), e.coef()), scale: scale}.norm()
}

// MarshalJSON writes d as a JSON number with its exact digits.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return []byte(d.String()), nil
}

// Value gives database/sql drivers the exact text of d.
func (d Decimal) Value() (driver.Value, error) {
	return d.String(), nil
}

// coef is the coefficient as a big.Int the caller must not modify.
func (d Decimal) coef() *big.Int {
	if d.big != nil {
		return d.big
	}
	return big.NewInt(d.small)
}

func (d Decimal) neg() Decimal {
	if d.big != nil {
		return Decimal{big: new(big.Int).Neg(d.big), scale: d.scale}
	}
	return Decimal{small: -d.small, scale: d.scale}
}

// norm moves a big coefficient that fits into small.
func (d Decimal) norm() Decimal {
	if d.big != nil && d.big.IsInt64() && d.big.Int64() != math.MinInt64 {
		return Decimal{small: d.big.Int64(), scale: d.scale}
	}
	return d
}

// mulPow10 multiplies the coefficient by 10^k, keeping the scale.
func (d Decimal) mulPow10(k int) Decimal {
	if k == 0 || d.Sign() == 0 {
		return d
	}
	if d.big == nil && k <= 18 {
		hi, lo := bits.Mul64(absUint(d.small), uint64(pow10(k)))
		if hi == 0 && lo <= math.MaxInt64 {
			n := int64(lo)
			if d.small < 0 {
				n = -n
			}
			return Decimal{small: n, scale: d.scale}
		}
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil)
	return Decimal{big: p.Mul(p, d.coef()), scale: d.scale}.norm()
}

// int64 is d as an int64: integral is false when d has a non-zero
// fraction, fits false when the integer is beyond int64.
func (d Decimal) int64() (n int64, integral, fits bool) {
	if d.scale == 0 {
		return d.small, true, d.big == nil
	}
	if d.big == nil && d.scale <= 18 {
		p := pow10(int(d.scale))
		if d.small%p != 0 {
			return 0, false, false
		}
		return d.small / p, true, true
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.scale)), nil)
	q, r := new(big.Int).QuoRem(d.coef(), p, new(big.Int))
	if r.Sign() != 0 {
		return 0, false, false
	}
	if !q.IsInt64() {
		return 0, true, false
	}
	return q.Int64(), true, true
}

// align returns d and e with the same, larger scale.
func align(d, e Decimal) (Decimal, Decimal) {
	switch {
	case d.scale < e.scale:
		d = d.mulPow10(int(e.scale - d.scale))
		d.scale = e.scale
	case e.scale < d.scale:
		e = e.mulPow10(int(d.scale - e.scale))
		e.scale = d.scale
	}
	return d, e
}

func absUint(n int64) uint64 {
	if n < 0 {
		return uint64(-n)
	}
	return uint64(n)
}

// pow10 is 10^k for 0 <= k <= 18.
func pow10(k int) int64 {
	p := int64(1)
	for range k {
		p *= 10
	}
	return p
}

// toDecimal converts v for fn; isNil is true for nil, "" and blanks.
func toDecimal(fn string, v any) (d Decimal, isNil bool, err error) {
	switch x := v.(type) {
	case nil:
		return Decimal{}, true, nil
	case Decimal:
		return x, false, nil
	case int:
		return Decimal{small: int64(x)}.norm1(), false, nil
	case int8:
		return Decimal{small: int64(x)}, false, nil
	case int16:
		return Decimal{small: int64(x)}, false, nil
	case int32:
		return Decimal{small: int64(x)}, false, nil
	case int64:
		return Decimal{small: x}.norm1(), false, nil
	case uint:
		return Decimal{big: new(big.Int).SetUint64(uint64(x))}.norm(), false, nil
	case uint8:
		return Decimal{small: int64(x)}, false, nil
	case uint16:
		return Decimal{small: int64(x)}, false, nil
	case uint32:
		return Decimal{small: int64(x)}, false, nil
	case uint64:
		return Decimal{big: new(big.Int).SetUint64(x)}.norm(), false, nil
	case float64:
		return floatDecimal(fn, v, x, 64)
	case float32:
		return floatDecimal(fn, v, float64(x), 32)
	}
	s, ok := text(v)
	if !ok {
		return Decimal{}, false, typeError(fn, v)
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return Decimal{}, true, nil
	}
	d, ok = parseDecimal(t)
	if !ok {
		return Decimal{}, false, valueError(fn, v, "is not a decimal number")
	}
	return d, false, nil
}

// floatDecimal converts f, the value of orig, through its shortest text
// for bitSize, so 0.1 gives 0.1 exactly.
func floatDecimal(fn string, orig any, f float64, bitSize int) (Decimal, bool, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, false, valueError(fn, orig, "is not a finite number")
	}
	d, ok := parseDecimal(strconv.FormatFloat(f, 'f', -1, bitSize))
	if !ok {
		return Decimal{}, false, valueError(fn, orig, "is out of the decimal range")
	}
	return d, false, nil
}

// norm1 keeps the invariant that small is never math.MinInt64.
func (d Decimal) norm1() Decimal {
	if d.small == math.MinInt64 {
		return Decimal{big: big.NewInt(d.small), scale: d.scale}
	}
	return d
}

// decimalFunc is decimal.
func decimalFunc(args ...any) (any, error) {
	if d, ok := args[0].(Decimal); ok {
		return d, nil
	}
	d, isNil, err := toDecimal("decimal", args[0])
	if err != nil || isNil {
		return nil, err
	}
	return d, nil
}

// decimalOption registers decimal and, under names no expression can spell,
// the functions behind its operator overloads.
func decimalOption() expr.Option {
	opts := []expr.Option{expr.Function("decimal", decimalFunc, new(func(any) Decimal))}
	arith := []any{
		new(func(Decimal, Decimal) Decimal),
		new(func(Decimal, int) Decimal), new(func(int, Decimal) Decimal),
		new(func(Decimal, float64) Decimal), new(func(float64, Decimal) Decimal),
	}
	compare := []any{
		new(func(Decimal, Decimal) bool),
		new(func(Decimal, int) bool), new(func(int, Decimal) bool),
		new(func(Decimal, float64) bool), new(func(float64, Decimal) bool),
	}
	fns := decimalOperators()
	for _, op := range decimalOps {
		types := compare
		if op == "+" || op == "-" || op == "*" {
			types = arith
		}
		name := decimalOpName(op)
		opts = append(opts, expr.Function(name, fns[name], types...), expr.Operator(op, name))
	}
	return func(c *conf.Config) {
		for _, o := range opts {
			o(c)
		}
	}
}

// decimalOps are the operators decimal overloads.
var decimalOps = []string{"+", "-", "*", "==", "!=", "<", "<=", ">", ">="}

// decimalOpName is the name of the expr function behind a decimal operator;
// it holds a space, so no expression can call it by name.
func decimalOpName(op string) string { return "decimal " + op }

// decimalOperators returns the functions behind the decimal operators, by
// their expr names.
func decimalOperators() map[string]func(...any) (any, error) {
	return map[string]func(...any) (any, error){
		decimalOpName("+"):  decimalArith(Decimal.Add),
		decimalOpName("-"):  decimalArith(Decimal.Sub),
		decimalOpName("*"):  decimalArith(Decimal.Mul),
		decimalOpName("=="): decimalEqual(true),
		decimalOpName("!="): decimalEqual(false),
		decimalOpName("<"):  decimalOrder(func(c int) bool { return c < 0 }),
		decimalOpName("<="): decimalOrder(func(c int) bool { return c <= 0 }),
		decimalOpName(">"):  decimalOrder(func(c int) bool { return c > 0 }),
		decimalOpName(">="): decimalOrder(func(c int) bool { return c >= 0 }),
	}
}

// operands converts both operands of a decimal operator; xNil and yNil
// report a nil operand (such as decimal() of nil).
func operands(args []any) (x, y Decimal, xNil, yNil bool, err error) {
	if x, xNil, err = toDecimal("decimal", args[0]); err != nil {
		return
	}
	y, yNil, err = toDecimal("decimal", args[1])
	return
}

// decimalArith is an arithmetic operator: nil when an operand is nil, as
// in SQL.
func decimalArith(op func(Decimal, Decimal) Decimal) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		x, y, xNil, yNil, err := operands(args)
		if err != nil || xNil || yNil {
			return nil, err
		}
		return op(x, y), nil
	}
}

// decimalEqual is == (eq true) or != (eq false): nil equals only nil.
func decimalEqual(eq bool) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		x, y, xNil, yNil, err := operands(args)
		if err != nil {
			return nil, err
		}
		if xNil || yNil {
			return (xNil && yNil) == eq, nil
		}
		return (x.Cmp(y) == 0) == eq, nil
	}
}

// decimalOrder is <, <=, > or >=: false when an operand is nil, so a check
// such as `decimal(record.amount) > 0` fails for a missing amount.
func decimalOrder(test func(int) bool) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		x, y, xNil, yNil, err := operands(args)
		if err != nil || xNil || yNil {
			return false, err
		}
		return test(x.Cmp(y)), nil
	}
}
