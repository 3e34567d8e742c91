package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/etl-dev/etl/engine"
)

// FuzzLoad feeds arbitrary pipeline files to the loader: it must never
// panic, and every error must be a diagnostic (with a subject when it is
// about the file). Seeds: every fixture in testdata. The seeds run as plain
// tests in `go test`; `go test -fuzz FuzzLoad ./engine` explores further.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/errors"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`pipeline "p" { system = "s" entity = "e" source "inline" { records = [{a = "\u0000"}] } map { x = "record.a" } sink "warehouse" { table = "t" mode = "append" } }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		l := engine.NewLoader(testRegistry())
		l.LookupEnv = func(string) (string, bool) { return "", false }
		p, diags := l.LoadSource("fuzz.hcl", src)
		if p == nil && !diags.HasErrors() {
			t.Fatalf("no pipeline and no error")
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Summary == "" {
				t.Fatalf("diagnostic without a summary: %#v", d)
			}
		}
		if p != nil {
			// A pipeline that loads must also run its map and checks
			// without panicking (inline records are its input).
			_ = p.Preview(context.Background(), engine.RunOptions{Limit: 20}, func(engine.Outcome) error { return nil })
		}
	})
}

// FuzzExpression compiles arbitrary map and check expressions and runs the
// ones that compile on a record of awkward values: never a panic; a bad
// expression is a diagnostic, a bad value a reject.
func FuzzExpression(f *testing.F) {
	for _, seed := range []string{
		"int(record.id)", "email(record.email)", "phone(record.phone) ?? ''",
		"timestamp(record.when)", "decimal(record.amount) > 0", "json(record.tags)[0]",
		"record.a.b.c", "record?.a?.b", "regex_replace(record.email, '(', '')",
		"1/0", "record.id / 0", "int(record.big)", "float(record.nan)", "sha256(record.nul)",
		"nullif(record.id, 1)", "coalesce(nil, '', record.id)", "bool(record.flag)",
		"len(record.tags) > 2 ? 'many' : 'few'", "date('0000-00-00')", "upper(lower(trim(record.email)))",
		"base64_encode(hmac_sha256(base64_decode('c2VjcmV0'), 'msg'))", "now_unix() > 0",
		"[1,2,3][record.id]", "record['id'] + 1", "-9223372036854775808 - 1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, code string) {
		src := `pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
    records = [
      { id = "1", email = " A@B.co ", phone = "+1 (555) 123-4567", when = "2024-01-02T03:04:05.678Z",
        amount = "12.50", tags = "[1,2,{\"x\":null}]", big = "99999999999999999999999", nan = "NaN",
        nul = "a\u0000b", flag = "yes", a = { b = { c = 1 } } },
      { id = "", email = "", phone = "", when = "", amount = "", tags = "", big = "", nan = "", nul = "", flag = "" },
      {}
    ]
  }
  map {
    x = ` + quoteHCL(code) + `
  }
  validate "c" {
    check = ` + quoteHCL("x != nil || "+code+" == nil") + `
  }
  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
`
		p, diags := engine.NewLoader(testRegistry()).LoadSource("fuzz.hcl", []byte(src))
		if p == nil {
			if !diags.HasErrors() {
				t.Fatalf("no pipeline and no error for %q", code)
			}
			return
		}
		_ = p.Preview(context.Background(), engine.RunOptions{}, func(engine.Outcome) error { return nil })
	})
}

// quoteHCL writes s as an HCL string literal.
func quoteHCL(s string) string {
	// ${ and %{ start HCL templates; $${ and %%{ are their escapes.
	s = strings.NewReplacer("${", "$${", "%{", "%%{").Replace(s)
	out := []byte{'"'}
	for _, r := range s {
		switch r {
		case '"', '\\':
			out = append(out, '\\', byte(r))
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			if r < 0x20 {
				out = append(out, []byte("\\u00")...)
				out = append(out, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&15])
				continue
			}
			out = append(out, string(r)...)
		}
	}
	return string(append(out, '"'))
}
