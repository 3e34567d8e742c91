package postgres

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
)

// numericCases are decimal strings at the edges of the base-10000 grouping:
// zeros in every place, groups that are all zeros, signs, lone points.
func numericCases() []string {
	cases := []string{
		"1e3", "-1.5E-2", "1.50e1", "0e5", "12.345e-10", "5e-0", ".5e+3", "9999e-4", "1E4000",
		"0", "-0", "+0", "0.0", "-0.000", "00012", ".5", "5.", "-.5", "+7", "1", "-1", "9999", "10000",
		"10001", "0.0001", "0.00001", "0.00000001", "1.0000", "10000.0001", "-12.50", "12345678901234567890.123456789",
		"-0.000000000000000000000000000001", "99999999999999999999999999999999999999.99",
		"100000000", "0.10000000", "123.4567", "1234.5678", "12345.67891", "000.000100",
		strings.Repeat("9", 200) + "." + strings.Repeat("9", 200),
	}
	r := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = '0' + byte(r.IntN(10))
			if r.IntN(4) == 0 {
				b[i] = '0' // runs of zeros make zero groups
			}
		}
		return string(b)
	}
	for range 500 {
		s := digits(r.IntN(25))
		if r.IntN(3) > 0 {
			s += "." + digits(r.IntN(25))
		}
		if s == "" || s == "." {
			s = "0"
		}
		switch r.IntN(3) {
		case 0:
			s = "-" + s
		case 1:
			s = "+" + s
		}
		if r.IntN(4) == 0 {
			s += []string{"e", "E"}[r.IntN(2)] + []string{"", "-", "+"}[r.IntN(3)] + digits(1+r.IntN(2))
		}
		cases = append(cases, s)
	}
	return cases
}

// TestNumericEncodingMatchesTheServerIntegration COPYs decimal strings into
// a numeric column through the binary encoder and compares each stored value
// with the server's own reading of the same text.
func TestNumericEncodingMatchesTheServerIntegration(t *testing.T) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pgtest.URL(t))
	require.NoError(t, err)
	defer c.Close(ctx)
	registerNumeric(c.TypeMap())
	_, err = c.Exec(ctx, `CREATE TABLE nums (i int, v numeric)`)
	require.NoError(t, err)

	cases := numericCases()
	rows := make([][]any, len(cases))
	for i, s := range cases {
		rows[i] = []any{int32(i), s}
	}
	_, err = c.CopyFrom(ctx, pgx.Identifier{"nums"}, []string{"i", "v"}, pgx.CopyFromRows(rows))
	require.NoError(t, err)

	got, err := c.Query(ctx, `SELECT i, v::text, ($1::text[])[i + 1]::numeric::text FROM nums ORDER BY i`, cases)
	require.NoError(t, err)
	n := 0
	for got.Next() {
		var i int
		var stored, want string
		require.NoError(t, got.Scan(&i, &stored, &want))
		assert.Equal(t, want, stored, "%q", cases[i])
		n++
	}
	require.NoError(t, got.Err())
	require.Equal(t, len(cases), n)
}

func TestNumericEncodingTakesPlainDecimalsOnly(t *testing.T) {
	m := pgtype.NewMap()
	registerNumeric(m)
	plan := m.PlanEncode(pgtype.NumericOID, pgtype.BinaryFormatCode, "1")
	require.IsType(t, numericStringPlan{}, plan)
	for _, s := range []string{"NaN", "Infinity", "", "-", ".", "1.2.3", "12a", " 1", "1,000", "1e", "1e+", "e5", "1e4001", "1e-99999", strings.Repeat("1", maxPlainDigits+1)} {
		_, err := plan.Encode(s, nil)
		assert.ErrorIs(t, err, errNotPlainDecimal, "%q", s)
	}
	// Other values still take pgx's plans.
	assert.NotEqual(t, numericStringPlan{}, m.PlanEncode(pgtype.NumericOID, pgtype.BinaryFormatCode, int64(1)))
	assert.NotEqual(t, numericStringPlan{}, m.PlanEncode(pgtype.NumericOID, pgtype.TextFormatCode, "1"))
}

func BenchmarkNumericEncode(b *testing.B) {
	for _, enc := range []struct {
		name     string
		register bool
	}{{"pgx", false}, {"direct", true}} {
		b.Run(enc.name, func(b *testing.B) {
			m := pgtype.NewMap()
			if enc.register {
				registerNumeric(m)
			}
			var buf []byte
			for b.Loop() {
				var err error
				// pgx has no binary plan from a string: COPY then scans the
				// text into a Numeric and encodes that (see tryScanStringCopyValueThenEncode).
				if buf, err = m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, "123456.78", buf[:0]); err != nil {
					var n pgtype.Numeric
					if err := m.Scan(pgtype.NumericOID, pgtype.TextFormatCode, []byte("123456.78"), &n); err != nil {
						b.Fatal(err)
					}
					if buf, err = m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
