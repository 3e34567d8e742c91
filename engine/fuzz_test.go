package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sinks/postgres"
	"github.com/etl-dev/etl/sinks/sqlite"
	"github.com/etl-dev/etl/sources/csv"
	"github.com/etl-dev/etl/sources/mysql"
	"github.com/etl-dev/etl/sources/odata"
	"github.com/etl-dev/etl/sources/rest"
	xmlsource "github.com/etl-dev/etl/sources/xml"
)

// FuzzLoad feeds pipeline files to the loader, each changed by a list of
// structural mutations that the fuzzer drives (see mutate): a block or an
// attribute dropped, a block repeated, one token of an expression changed.
// The loader must never panic; a file either loads or has errors, and each
// error is a diagnostic with a summary, a detail and a position in the file.
// Seeds: every shipped pipeline and test file, every loader fixture of the
// engine and the sources, each as it is and with a few mutations. The seeds
// (and the regression seeds in testdata/fuzz/FuzzLoad) run in `go test`;
// the campaign is in the README:
//
//	go test ./engine -run '^$' -fuzz FuzzLoad -fuzztime 10m -parallel 1
func FuzzLoad(f *testing.F) {
	var files []string
	for _, pattern := range []string{
		"../pipelines/*.hcl", "testdata/valid/*.hcl", "testdata/errors/*.hcl",
		"../sources/*/example.hcl", "../sources/*/testdata/*/*.hcl",
	} {
		m, err := filepath.Glob(pattern)
		require.NoError(f, err)
		files = append(files, m...)
	}
	require.Greater(f, len(files), 50, "the seed corpus holds the shipped pipelines")
	for i, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b, []byte{})
		// One seed per mutation kind, aimed at a different place in each file.
		for kind := byte(0); kind < mutationKinds; kind++ {
			f.Add(b, []byte{kind, byte(i * 7), byte(i * 13)})
		}
	}
	f.Add([]byte(`pipeline "p" { system = "s" entity = "e" source "inline" { records = [{a = "\u0000"}] } map { x = "record.a" } sink "warehouse" { table = "t" mode = "append" } }`), []byte{})
	reg := fuzzRegistry()
	f.Fuzz(func(t *testing.T, src, mutations []byte) {
		src = mutate(src, mutations)
		l := engine.NewLoader(reg)
		l.LookupEnv = func(string) (string, bool) { return "", false }
		p, diags := l.LoadSource("fuzz.hcl", src)
		if p == nil && !diags.HasErrors() {
			t.Fatalf("no pipeline and no error")
		}
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Summary == "" || d.Detail == "" {
				t.Fatalf("error without a summary or a detail: %#v", d)
			}
			if d.Subject == nil || d.Subject.Filename != "fuzz.hcl" || d.Subject.Start.Line < 1 || d.Subject.Start.Byte > len(src) {
				t.Fatalf("error %q (%s) is not at a place in the file: %#v", d.Summary, d.Detail, d.Subject)
			}
		}
		if p != nil && p.SourceKind == "inline" {
			// A pipeline that loads must also run its map and checks
			// without panicking (inline records are its input; other
			// sources would reach out to files and servers).
			_ = p.Preview(context.Background(), engine.RunOptions{Limit: 20}, func(engine.Outcome) error { return nil })
		}
	})
}

// fuzzRegistry knows every source and sink kind, so a shipped pipeline's
// source block is decoded and compiled, not just rejected as unknown.
func fuzzRegistry() *engine.Registry {
	r := testRegistry()
	csv.Register(r)
	mysql.Register(r)
	odata.Register(r)
	rest.Register(r)
	xmlsource.Register(r)
	postgres.Register(r)
	sqlite.Register(r)
	return r
}

// The structural mutations of FuzzLoad.
const (
	dropBlock = iota
	dropAttribute
	repeatBlock
	changeToken
	mutationKinds
)

// mutate applies the mutations that ops encode to an HCL file: each three
// bytes are a kind and two numbers that pick the block, attribute or token
// (modulo their count) and the replacement. A file that does not parse is
// returned as it is.
func mutate(src, ops []byte) []byte {
	if len(ops) < 3 {
		return src
	}
	f, diags := hclwrite.ParseConfig(src, "fuzz.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return src
	}
	for i := 0; i+2 < len(ops) && i < 3*8; i += 3 {
		kind, a, b := ops[i]%mutationKinds, int(ops[i+1]), int(ops[i+2])
		switch kind {
		case dropBlock, repeatBlock:
			blocks := allBlocks(f.Body())
			if len(blocks) == 0 {
				continue
			}
			pb := blocks[a%len(blocks)]
			if kind == dropBlock {
				pb.parent.RemoveBlock(pb.block)
				continue
			}
			if c, d := hclwrite.ParseConfig(pb.block.BuildTokens(nil).Bytes(), "copy.hcl", hcl.InitialPos); !d.HasErrors() && len(c.Body().Blocks()) == 1 {
				pb.parent.AppendBlock(c.Body().Blocks()[0])
			}
		case dropAttribute:
			attrs := allAttributes(f.Body())
			if len(attrs) == 0 {
				continue
			}
			ba := attrs[a%len(attrs)]
			ba.body.RemoveAttribute(ba.name)
		case changeToken:
			var toks []*hclwrite.Token
			for _, tok := range f.BuildTokens(nil) {
				switch tok.Type {
				case hclsyntax.TokenQuotedLit, hclsyntax.TokenIdent, hclsyntax.TokenNumberLit, hclsyntax.TokenStringLit:
					toks = append(toks, tok)
				}
			}
			if len(toks) == 0 {
				continue
			}
			tok := toks[a%len(toks)]
			tok.Bytes = replaceExprToken(tok.Bytes, b)
		}
	}
	return f.Bytes()
}

type parentBlock struct {
	parent *hclwrite.Body
	block  *hclwrite.Block
}

// allBlocks lists the blocks below body, depth first, in file order.
func allBlocks(body *hclwrite.Body) []parentBlock {
	var out []parentBlock
	for _, b := range body.Blocks() {
		out = append(out, parentBlock{body, b})
		out = append(out, allBlocks(b.Body())...)
	}
	return out
}

type bodyAttribute struct {
	body *hclwrite.Body
	name string
}

// allAttributes lists the attributes below body, block by block, each
// body's sorted by name.
func allAttributes(body *hclwrite.Body) []bodyAttribute {
	var out []bodyAttribute
	names := make([]string, 0, len(body.Attributes()))
	for name := range body.Attributes() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, bodyAttribute{body, name})
	}
	for _, b := range body.Blocks() {
		out = append(out, allAttributes(b.Body())...)
	}
	return out
}

// exprToken splits expression code (or any HCL literal) into tokens.
var exprToken = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*|[0-9]+(\.[0-9]+)?|\?\?|\?\.|==|!=|<=|>=|&&|\|\||\{\{|\}\}|\S`)

// replacements are what a changed token becomes: typos, operators left
// dangling, brackets unbalanced, names from elsewhere, awkward numbers.
var replacements = []string{
	"", "+", "(", ")", "[", "]", "{{", "}}", ".", "?.", "??", ",", "!", "==", "nil", "true", "''",
	"record", "row", "body", "x", "updatd_at", "updated_at", "id", "int", "len", "now_unix()",
	"1", "-1", "0.5", "9223372036854775808", "1e309", `\"`, `\\`, "${", "%{", "env", "file",
	"((((((((((", "record.id", "json(", "'", "é", "\u0000",
}

// replaceExprToken replaces the n-th token of lit (modulo their count) by a
// replacement that n also picks.
func replaceExprToken(lit []byte, n int) []byte {
	locs := exprToken.FindAllIndex(lit, -1)
	r := replacements[n%len(replacements)]
	if len(locs) == 0 {
		return []byte(r)
	}
	loc := locs[(n/len(replacements))%len(locs)]
	out := append([]byte{}, lit[:loc[0]]...)
	out = append(out, r...)
	return append(out, lit[loc[1]:]...)
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
