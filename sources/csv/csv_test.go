package csv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// decode parses src, a file holding one `source "csv" {}` block, and builds
// the source from its body as the engine would.
func decode(t testing.TB, dir, src string) (engine.Source, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "pipeline.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), diags.Error())
	content, diags := f.Body.Content(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "source", LabelNames: []string{"kind"}}},
	})
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, content.Blocks, 1)
	b := content.Blocks[0]
	return New(b.Body, nil, engine.PluginContext{Pipeline: "test", Dir: dir, DefRange: b.DefRange})
}

// mustDecode is decode for a block that must be valid.
func mustDecode(t testing.TB, dir, src string) *Source {
	t.Helper()
	s, diags := decode(t, dir, src)
	require.False(t, diags.HasErrors(), diags.Error())
	require.IsType(t, &Source{}, s)
	return s.(*Source)
}

// readAll reads every record of s.
func readAll(t *testing.T, s engine.Source) ([]engine.Record, error) {
	t.Helper()
	var recs []engine.Record
	err := s.Read(context.Background(), engine.ReadOptions{}, func(r engine.Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// rec is a record as the tests compare it.
type rec struct {
	Line   int
	Fields map[string]any
	Raw    string
	Err    string
}

func simplify(recs []engine.Record) []rec {
	out := make([]rec, 0, len(recs))
	for _, r := range recs {
		x := rec{Line: r.Pos.Line, Fields: r.Map(), Raw: r.Raw}
		if r.Err != nil {
			x.Err = r.Err.Error()
		}
		out = append(out, x)
	}
	return out
}

func TestRegister(t *testing.T) {
	r := engine.NewRegistry()
	Register(r)
	assert.Equal(t, []string{"csv"}, r.SourceKinds())
}

func TestNewDefaults(t *testing.T) {
	s := mustDecode(t, "", `source "csv" { path = "users/*.csv" }`)
	assert.Equal(t, ",", s.cfg.Delimiter)
	assert.True(t, s.cfg.Header)
	assert.True(t, s.cfg.SkipEmptyLines)
	assert.Equal(t, "utf-8", s.cfg.Encoding)
	assert.Equal(t, 1000, s.cfg.MaxRecordLines)
	assert.Nil(t, s.Fields())
	assert.Equal(t, "csv users/*.csv", s.Describe())
}

func TestNewDeclaredColumns(t *testing.T) {
	s := mustDecode(t, "", `source "csv" {
  path    = "users.tsv"
  delimiter = "\t"
  header  = false
  columns = ["id", "email"]
}`)
	assert.Equal(t, []string{"id", "email"}, s.Fields())
	assert.Equal(t, "\t", s.cfg.Delimiter)
	s.Fields()[0] = "changed"
	assert.Equal(t, []string{"id", "email"}, s.Fields(), "Fields returns a copy")
}

func TestNewDiagnostics(t *testing.T) {
	tests := []struct {
		name    string
		body    string // the block's body; line 1 of the file is the block header
		summary string
		detail  string // a part of the detail
		line    int    // the Subject's line
	}{
		{"delimiter of two characters", "path = \"a.csv\"\ndelimiter = \";;\"", "Invalid delimiter", `exactly one character`, 3},
		{"empty delimiter", "path = \"a.csv\"\ndelimiter = \"\"", "Invalid delimiter", `exactly one character`, 3},
		{"non-ASCII delimiter", "path = \"a.csv\"\n\n delimiter = \"§\"", "Invalid delimiter", "one ASCII character", 4},
		{"quote as delimiter", "path = \"a.csv\"\ndelimiter = \"\\\"\"", "Invalid delimiter", "other than a quote", 3},
		{"no header and no columns", "path = \"a.csv\"\nheader = false", "Missing columns", "columns = [", 3},
		{"empty columns", "path = \"a.csv\"\ncolumns = []", "Empty columns", "", 3},
		{"duplicate column", "path = \"a.csv\"\ncolumns = [\"id\", \"email\", \"id\"]", "Duplicate column name", `Column 3 "id" repeats column 1`, 3},
		{"empty column name", "path = \"a.csv\"\ncolumns = [\"id\", \"\"]", "Empty column name", "Column 2", 3},
		{"unsupported encoding", "path = \"a.csv\"\nencoding = \"windows-1252\"", "Unsupported encoding", "iconv", 3},
		{"max_record_lines zero", "path = \"a.csv\"\nmax_record_lines = 0", "Invalid max_record_lines", "at least 1", 3},
		{"empty path", "path = \"\"", "Empty path", "", 2},
		{"bad glob", "path = \"users[.csv\"", "Invalid glob", "brackets", 2},
		{"missing path", "header = true", "Missing required argument", `"path" is required`, 1},
		{"misspelt attribute", "path = \"a.csv\"\ndelimeter = \";\"", "Unsupported argument", `Did you mean "delimiter"?`, 3},
		{"wrong type", "path = \"a.csv\"\ncolumns = \"id\"", "Unsuitable value type", "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, diags := decode(t, "", "source \"csv\" {\n"+tt.body+"\n}\n")
			require.True(t, diags.HasErrors(), "want an error")
			assert.Nil(t, src)
			d := diags[0]
			assert.Equal(t, tt.summary, d.Summary)
			assert.Contains(t, d.Detail, tt.detail)
			require.NotNil(t, d.Subject)
			assert.Equal(t, "pipeline.hcl", d.Subject.Filename)
			assert.Equal(t, tt.line, d.Subject.Start.Line)
		})
	}
}

func TestNewDelimiterSubjectIsTheValue(t *testing.T) {
	_, diags := decode(t, "", "source \"csv\" {\n  path      = \"a.csv\"\n  delimiter = \"||\"\n}\n")
	require.Len(t, diags, 1)
	assert.Equal(t, hcl.Range{
		Filename: "pipeline.hcl",
		Start:    hcl.Pos{Line: 3, Column: 15, Byte: 51},
		End:      hcl.Pos{Line: 3, Column: 19, Byte: 55},
	}, *diags[0].Subject)
}

// readCases are CSV texts and the records they read to, as users.csv in
// the pipeline's directory. They also drive TestReaderChunking.
var readCases = []struct {
	name  string
	attrs string // extra attributes for the source block
	csv   string
	want  []rec
}{
	{
		name: "LF line ends",
		csv:  "id,name\n1,Ann\n2,Bob\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Bob"}, Raw: "2,Bob"},
		},
	},
	{
		name: "CRLF line ends",
		csv:  "id,name\r\n1,Ann\r\n2,Bob\r\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Bob"}, Raw: "2,Bob"},
		},
	},
	{
		name: "CR line ends",
		csv:  "id,name\r1,Ann\r2,Bob\r",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Bob"}, Raw: "2,Bob"},
		},
	},
	{
		name: "no line end after the last record",
		csv:  "id,name\n1,Ann",
		want: []rec{{Line: 2, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"}},
	},
	{
		name: "BOM dropped from the first header cell",
		csv:  "\uFEFFobjectId,name\n1,Ann\n",
		want: []rec{{Line: 2, Fields: map[string]any{"objectId": "1", "name": "Ann"}, Raw: "1,Ann"}},
	},
	{
		name: "BOM and CRLF with a quoted first header cell",
		csv:  "\uFEFF\"objectId\",name\r\n1,Ann\r\n",
		want: []rec{{Line: 2, Fields: map[string]any{"objectId": "1", "name": "Ann"}, Raw: "1,Ann"}},
	},
	{
		name: "BOM only in the first cell: a later one is data",
		csv:  "id,name\n1,\uFEFFAnn\n",
		want: []rec{{Line: 2, Fields: map[string]any{"id": "1", "name": "\uFEFFAnn"}, Raw: "1,\uFEFFAnn"}},
	},
	{
		name: "quoted delimiter",
		csv:  "id,name\n1,\"Smith, Ann\"\n",
		want: []rec{{Line: 2, Fields: map[string]any{"id": "1", "name": "Smith, Ann"}, Raw: `1,"Smith, Ann"`}},
	},
	{
		name: "doubled quotes",
		csv:  "id,allowedOffices\n1,\"[{\"\"objectId\"\":\"\"Of1\"\"}]\"\n2,\"\"\"\"\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "allowedOffices": `[{"objectId":"Of1"}]`}, Raw: `1,"[{""objectId"":""Of1""}]"`},
			{Line: 3, Fields: map[string]any{"id": "2", "allowedOffices": `"`}, Raw: `2,""""`},
		},
	},
	{
		name: "quoted newlines: a record's line is where it starts",
		csv:  "id,note\n1,\"first\nsecond\nthird\"\n2,x\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "note": "first\nsecond\nthird"}, Raw: "1,\"first\nsecond\nthird\""},
			{Line: 5, Fields: map[string]any{"id": "2", "note": "x"}, Raw: "2,x"},
		},
	},
	{
		name: "quoted CRLF kept as is",
		csv:  "id,note\r\n1,\"a\r\nb\"\r\n2,x\r\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "note": "a\r\nb"}, Raw: "1,\"a\r\nb\""},
			{Line: 4, Fields: map[string]any{"id": "2", "note": "x"}, Raw: "2,x"},
		},
	},
	{
		name: "empty cells, quoted empty cells and a trailing delimiter",
		csv:  "a,b,c\n,,\n\"\",x,\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"a": "", "b": "", "c": ""}, Raw: ",,"},
			{Line: 3, Fields: map[string]any{"a": "", "b": "x", "c": ""}, Raw: `"",x,`},
		},
	},
	{
		name: "spaces and leading zeros are data",
		csv:  "zip,name\n00501, Ann \n",
		want: []rec{{Line: 2, Fields: map[string]any{"zip": "00501", "name": " Ann "}, Raw: "00501, Ann "}},
	},
	{
		name: "empty lines skipped, still counted",
		csv:  "\nid,name\n\n1,Ann\r\n\r\n\r2,Bob\n\n",
		want: []rec{
			{Line: 4, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"},
			{Line: 7, Fields: map[string]any{"id": "2", "name": "Bob"}, Raw: "2,Bob"},
		},
	},
	{
		name:  "empty lines kept: one empty field",
		attrs: "skip_empty_lines = false",
		csv:   "email\na@x.io\n\nb@x.io\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"email": "a@x.io"}, Raw: "a@x.io"},
			{Line: 3, Fields: map[string]any{"email": ""}, Raw: ""},
			{Line: 4, Fields: map[string]any{"email": "b@x.io"}, Raw: "b@x.io"},
		},
	},
	{
		name: "whitespace-only line is a ragged row",
		csv:  "id,name\n  \n1,Ann\n",
		want: []rec{
			{Line: 2, Raw: "  ", Err: "line 2: row has 1 fields, header has 2"},
			{Line: 3, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"},
		},
	},
	{
		name:  "semicolon delimiter",
		attrs: `delimiter = ";"`,
		csv:   "id;name\n1;Smith, Ann\n2;\"a;b\"\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "name": "Smith, Ann"}, Raw: "1;Smith, Ann"},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "a;b"}, Raw: `2;"a;b"`},
		},
	},
	{
		name:  "tab delimiter",
		attrs: `delimiter = "\t"`,
		csv:   "id\tname\n1\tAnn, Bob\n",
		want:  []rec{{Line: 2, Fields: map[string]any{"id": "1", "name": "Ann, Bob"}, Raw: "1\tAnn, Bob"}},
	},
	{
		name:  "no header: declared columns",
		attrs: "header = false\ncolumns = [\"id\", \"name\"]",
		csv:   "1,Ann\n2,Bob,extra\n",
		want: []rec{
			{Line: 1, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"},
			{Line: 2, Raw: "2,Bob,extra", Err: "line 2: row has 3 fields, columns lists 2"},
		},
	},
	{
		name:  "header replaced by declared columns",
		attrs: `columns = ["id", "name"]`,
		csv:   "ID,Full Name\n1,Ann\n",
		want:  []rec{{Line: 2, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"}},
	},
	{
		name: "header only",
		csv:  "id,name\r\n",
		want: []rec{},
	},
	{
		name: "empty file",
		csv:  "",
		want: []rec{},
	},
	{
		name: "blank lines only",
		csv:  "\n\r\n\n",
		want: []rec{},
	},
	{
		name: "ragged rows rejected one at a time",
		csv:  "a,b,c,d\n1,2,3,4\n1,2,3,4,5\n1,2\n1,2,3,4\n",
		want: []rec{
			{Line: 2, Fields: map[string]any{"a": "1", "b": "2", "c": "3", "d": "4"}, Raw: "1,2,3,4"},
			{Line: 3, Raw: "1,2,3,4,5", Err: "line 3: row has 5 fields, header has 4"},
			{Line: 4, Raw: "1,2", Err: "line 4: row has 2 fields, header has 4"},
			{Line: 5, Fields: map[string]any{"a": "1", "b": "2", "c": "3", "d": "4"}, Raw: "1,2,3,4"},
		},
	},
	{
		name: "bare quote in an unquoted field",
		csv:  "id,name\n1,Bob \"Bobby\" Smith\n2, \"Ann\"\n3,Cy\n",
		want: []rec{
			{Line: 2, Raw: `1,Bob "Bobby" Smith`, Err: `line 2: bare " in unquoted field (column 2 "name")`},
			{Line: 3, Raw: `2, "Ann"`, Err: `line 3: bare " in unquoted field (column 2 "name")`},
			{Line: 4, Fields: map[string]any{"id": "3", "name": "Cy"}, Raw: "3,Cy"},
		},
	},
	{
		name: "text after a closing quote",
		csv:  "id,name\n1,\"Bob\"by,x\n2,Ann\n",
		want: []rec{
			{Line: 2, Raw: `1,"Bob"by,x`, Err: `line 2: extraneous or missing " in quoted field (column 2 "name")`},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Ann"}, Raw: "2,Ann"},
		},
	},
	{
		name: "invalid UTF-8 (Windows-1252 bytes)",
		csv:  "id,name\n1,\x93Caf\xe9\x94\n2,Ann\n",
		want: []rec{
			{Line: 2, Raw: `1,\x93Caf\xE9\x94`, Err: `line 2: invalid UTF-8 in column 2 "name"`},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Ann"}, Raw: "2,Ann"},
		},
	},
	{
		name: "NUL byte",
		csv:  "id,name\n1,A\x00nn\n2,Bob\n",
		want: []rec{
			{Line: 2, Raw: `1,A\x00nn`, Err: `line 2: NUL byte in column 2 "name"`},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Bob"}, Raw: "2,Bob"},
		},
	},
	{
		name: "unterminated quote: only its line is rejected",
		csv:  "id,name\n1,\"Bob\n2,Ann\n3,Cy\n",
		want: []rec{
			{Line: 2, Raw: `1,"Bob`, Err: "line 2: unbalanced quote: quoted field not closed before end of file"},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Ann"}, Raw: "2,Ann"},
			{Line: 4, Fields: map[string]any{"id": "3", "name": "Cy"}, Raw: "3,Cy"},
		},
	},
	{
		name: "unterminated quote on the last line",
		csv:  "id,name\n1,Ann\n2,\"Bob",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "name": "Ann"}, Raw: "1,Ann"},
			{Line: 3, Raw: `2,"Bob`, Err: "line 3: unbalanced quote: quoted field not closed before end of file"},
		},
	},
	{
		name: "stray quote closed by a later one",
		csv:  "id,name\n1,\"Bob\n2,Ann\n3,\"Cy\"\n",
		want: []rec{
			{Line: 2, Raw: `1,"Bob`, Err: `line 2: unbalanced quote: extraneous or missing " in quoted field (column 2 "name") on line 4`},
			{Line: 3, Fields: map[string]any{"id": "2", "name": "Ann"}, Raw: "2,Ann"},
			{Line: 4, Fields: map[string]any{"id": "3", "name": "Cy"}, Raw: `3,"Cy"`},
		},
	},
	{
		name: "multi-line record with the wrong field count",
		csv:  "id,note\n1,\"a\nb\",extra\n2,x\n",
		want: []rec{
			{Line: 2, Raw: `1,"a`, Err: "line 2: unbalanced quote: record running to line 3 has 3 fields, header has 2"},
			{Line: 3, Raw: `b",extra`, Err: `line 3: bare " in unquoted field (column 1 "id")`},
			{Line: 4, Fields: map[string]any{"id": "2", "note": "x"}, Raw: "2,x"},
		},
	},
	{
		name:  "quoted field over max_record_lines",
		attrs: "max_record_lines = 2",
		csv:   "id,note\n1,\"a\nb\nc\"\n2,\"x\ny\"\n",
		want: []rec{
			{Line: 2, Raw: `1,"a`, Err: "line 2: unbalanced quote: quoted field not closed within 2 lines (max_record_lines)"},
			{Line: 3, Raw: "b", Err: "line 3: row has 1 fields, header has 2"},
			{Line: 4, Raw: `c"`, Err: `line 4: bare " in unquoted field (column 1 "id")`},
			{Line: 5, Fields: map[string]any{"id": "2", "note": "x\ny"}, Raw: "2,\"x\ny\""},
		},
	},
	{
		name: "bare CR inside a quoted field",
		csv:  "id,note\r1,\"a\rb\"\r2,x\r",
		want: []rec{
			{Line: 2, Fields: map[string]any{"id": "1", "note": "a\rb"}, Raw: "1,\"a\rb\""},
			{Line: 4, Fields: map[string]any{"id": "2", "note": "x"}, Raw: "2,x"},
		},
	},
	{
		name: "ragged row with invalid UTF-8",
		csv:  "id,name\n1,Caf\xe9,x\n",
		want: []rec{{Line: 2, Raw: `1,Caf\xE9,x`, Err: "line 2: row has 3 fields, header has 2"}},
	},
	{
		name: "fields over 64 KiB",
		csv:  "id,a,b\n1," + strings.Repeat("x", 70000) + ",\"" + strings.Repeat("y\"\"", 30000) + "\"\n2,,\n",
		want: []rec{
			{
				Line:   2,
				Fields: map[string]any{"id": "1", "a": strings.Repeat("x", 70000), "b": strings.Repeat(`y"`, 30000)},
				Raw:    "1," + strings.Repeat("x", 70000) + ",\"" + strings.Repeat("y\"\"", 30000) + "\"",
			},
			{Line: 3, Fields: map[string]any{"id": "2", "a": "", "b": ""}, Raw: "2,,"},
		},
	},
}

func TestRead(t *testing.T) {
	for _, tt := range readCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "users.csv"), []byte(tt.csv), 0o600))
			s := mustDecode(t, dir, "source \"csv\" {\npath = \"users.csv\"\n"+tt.attrs+"\n}\n")

			recs, err := readAll(t, s)
			require.NoError(t, err)
			assert.Equal(t, tt.want, simplify(recs))
			for _, r := range recs {
				assert.Equal(t, "users.csv", r.Pos.File)
			}
		})
	}
}

// TestReaderChunking reads every case with small buffers and reads, so
// that records, quotes and line ends straddle buffer ends: the records must
// not depend on where the input is split.
func TestReaderChunking(t *testing.T) {
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"one byte", iotest.OneByteReader},
		{"half", iotest.HalfReader},
	}
	for _, tt := range readCases {
		for _, bufLen := range []int{1, 2, 5, 16} {
			for _, rr := range readers {
				t.Run(fmt.Sprintf("%s/buffer %d/%s", tt.name, bufLen, rr.name), func(t *testing.T) {
					s := mustDecode(t, "", "source \"csv\" {\npath = \"users.csv\"\n"+tt.attrs+"\n}\n")
					s.bufSize = bufLen
					var recs []engine.Record
					src := rr.wrap(strings.NewReader(tt.csv))
					err := s.readStream(context.Background(), engine.ReadOptions{}, "users.csv", src, func(r engine.Record) error {
						recs = append(recs, r)
						return nil
					})
					require.NoError(t, err)
					assert.Equal(t, tt.want, simplify(recs))
				})
			}
		}
	}
}

func TestReadError(t *testing.T) {
	s := mustDecode(t, "", `source "csv" { path = "users.csv" }`)
	src := io.MultiReader(strings.NewReader("id,name\n1,Ann\n2,B"), iotest.ErrReader(errors.New("connection reset")))
	var recs []engine.Record
	err := s.readStream(context.Background(), engine.ReadOptions{}, "users.csv", src, func(r engine.Record) error {
		recs = append(recs, r)
		return nil
	})
	require.EqualError(t, err, "csv: users.csv: read line 3: connection reset")
	assert.Len(t, recs, 1)
}

func TestReadFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		attrs string
		csv   string // written to users.csv unless empty
		path  string // default users.csv
		err   string
	}{
		{name: "missing file", path: "missing.csv", err: "csv: open missing.csv: no such file or directory"},
		{name: "glob matching nothing", path: "exports/*.csv", err: `csv: no files match "exports/*.csv"`},
		{name: "duplicate header", csv: "id,email,name,email\n1,a,b,c\n", err: `csv: users.csv: header column 4 "email" repeats column 2: rename it in the file or declare columns`},
		{name: "empty header name", csv: "id,,name\n", err: "csv: users.csv: header column 2 has no name: name it in the file or declare columns"},
		{name: "trailing delimiter in header", csv: "id,name,\n", err: "csv: users.csv: header column 3 has no name: name it in the file or declare columns"},
		{name: "bad quote in header", csv: "id,na\"me\n", err: `csv: users.csv: header: line 1: bare " in unquoted field (column 2)`},
		{name: "header and columns disagree", attrs: `columns = ["id"]`, csv: "id,name\n", err: "csv: users.csv: header has 2 columns, columns lists 1: list one name for each column"},
		{name: "path is a folder", path: ".", err: "csv: .: read line 1: read "},
		{name: "a million header columns", csv: "c" + strings.Repeat(",c", 1000000) + "\n1\n", err: "csv: users.csv: header: line 1: more than 10000 fields: a record has at most 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.csv != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "users.csv"), []byte(tt.csv), 0o600))
			}
			path := tt.path
			if path == "" {
				path = "users.csv"
			}
			s := mustDecode(t, dir, "source \"csv\" {\npath = \""+path+"\"\n"+tt.attrs+"\n}\n")
			recs, err := readAll(t, s)
			require.Error(t, err)
			assert.Empty(t, recs)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}

func TestReadDuplicateHeaderFixedByColumns(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users.csv"), []byte("id,email,email\n1,a,b\n"), 0o600))
	s := mustDecode(t, dir, `source "csv" {
  path    = "users.csv"
  columns = ["id", "email", "email_2"]
}`)
	recs, err := readAll(t, s)
	require.NoError(t, err)
	assert.Equal(t, []rec{{Line: 2, Fields: map[string]any{"id": "1", "email": "a", "email_2": "b"}, Raw: "1,a,b"}}, simplify(recs))
}

func TestReadGlob(t *testing.T) {
	s := mustDecode(t, "testdata", `source "csv" { path = "exports/*.csv" }`)
	recs, err := readAll(t, s)
	require.NoError(t, err)

	var got []string
	for _, r := range recs {
		require.NoError(t, r.Err)
		got = append(got, r.Pos.String()+" "+r.Map()["objectId"].(string)+" "+r.Map()["name"].(string))
	}
	assert.Equal(t, []string{
		"exports/offices-2024-01.csv:2 Of1 North",
		"exports/offices-2024-02.csv:2 Of2 South",
		"exports/offices-2024-02.csv:3 Of3 East, upper",
	}, got, "files in sorted order, the folder old.csv skipped")
}

func TestReadAbsolutePath(t *testing.T) {
	abs, err := filepath.Abs("testdata/exports/offices-2024-01.csv")
	require.NoError(t, err)
	s := mustDecode(t, "elsewhere", `source "csv" { path = "`+filepath.ToSlash(abs)+`" }`)
	recs, err := readAll(t, s)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, engine.Position{File: abs, Line: 2}, recs[0].Pos)
}

func TestReadSalesProFixture(t *testing.T) {
	s := mustDecode(t, "testdata", `source "csv" { path = "salespro_users.csv" }`)
	var log bytes.Buffer
	var recs []engine.Record
	opts := engine.ReadOptions{Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	err := s.Read(context.Background(), opts, func(r engine.Record) error {
		recs = append(recs, r)
		return nil
	})
	require.NoError(t, err)
	assert.Contains(t, log.String(), "file=salespro_users.csv records=3")
	require.Len(t, recs, 3)
	for _, r := range recs {
		require.NoError(t, r.Err)
	}
	assert.Equal(t, map[string]any{
		"objectId":       "Ab12Cd34Ef",
		"username":       "jdoe",
		"email":          "jdoe@example.com",
		"isActive":       "TRUE",
		"allowedOffices": `[{"__type":"Pointer","className":"Office","objectId":"Of12Of34Of"}]`,
		"createdAt":      "2023-05-01T14:03:22.123Z",
	}, recs[0].Map())
	assert.Equal(t, engine.Position{File: "salespro_users.csv", Line: 2}, recs[0].Pos)
	assert.Equal(t, "", recs[1].Map()["objectId"], "an empty key stays an empty string; validate rejects it")
	assert.Equal(t, 4, recs[2].Pos.Line)
}

func TestReadFreshValues(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users.csv"), []byte("id,name\n1,Ann\n2,Bob\n"), 0o600))
	s := mustDecode(t, dir, `source "csv" { path = "users.csv" }`)
	var recs []engine.Record
	err := s.Read(context.Background(), engine.ReadOptions{}, func(r engine.Record) error {
		r.Values[1] = "seen by " + r.Values[1].(string) // the engine may keep and change what it holds
		recs = append(recs, r)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, map[string]any{"id": "1", "name": "seen by Ann"}, recs[0].Map())
	assert.Equal(t, map[string]any{"id": "2", "name": "seen by Bob"}, recs[1].Map())
	assert.Same(t, recs[0].Schema, recs[1].Schema, "the records of one file share their schema")
}

func TestReadStops(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users.csv"), []byte("id\n1\n2\n3\n4\n"), 0o600))
	s := mustDecode(t, dir, `source "csv" { path = "users.csv" }`)
	errStop := errors.New("batch failed")

	tests := []struct {
		name string
		emit func(cancel context.CancelFunc, n int) error // n: records emitted so far, this one included
		want error
	}{
		{"emit returns an error", func(_ context.CancelFunc, n int) error {
			if n == 2 {
				return errStop
			}
			return nil
		}, errStop},
		{"context canceled", func(cancel context.CancelFunc, n int) error {
			if n == 2 {
				cancel()
			}
			return nil
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			err := s.Read(ctx, engine.ReadOptions{}, func(engine.Record) error {
				n++
				return tt.emit(cancel, n)
			})
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, 2, n)
		})
	}
}

func TestExampleHCL(t *testing.T) {
	src, err := os.ReadFile("example.hcl")
	require.NoError(t, err)
	f, diags := hclsyntax.ParseConfig(src, "example.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), diags.Error())

	content, _, diags := f.Body.PartialContent(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "pipeline", LabelNames: []string{"name"}}},
	})
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, content.Blocks, 1)
	inner, _, diags := content.Blocks[0].Body.PartialContent(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "source", LabelNames: []string{"kind"}}},
	})
	require.False(t, diags.HasErrors(), diags.Error())
	require.Len(t, inner.Blocks, 1)
	assert.Equal(t, []string{"csv"}, inner.Blocks[0].Labels)

	s, diags := New(inner.Blocks[0].Body, nil, engine.PluginContext{Dir: "testdata"})
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Equal(t, "csv exports/salespro/users-*.csv", s.(engine.Describer).Describe())
}

func TestReadReportsBytesAgainstTheFilesTotal(t *testing.T) {
	dir := t.TempDir()
	var body strings.Builder
	body.WriteString("id,name\n")
	for i := 0; i < 40000; i++ {
		fmt.Fprintf(&body, "%d,name %d\n", i, i)
	}
	for _, name := range []string{"a.csv", "b.csv"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body.String()), 0o644))
	}
	s := mustDecode(t, dir, `source "csv" { path = "*.csv" }`)
	var calls [][2]int64
	err := s.Read(context.Background(), engine.ReadOptions{Progress: func(done, total int64) {
		calls = append(calls, [2]int64{done, total})
	}}, func(engine.Record) error { return nil })
	require.NoError(t, err)
	size := int64(2 * body.Len())
	require.Greater(t, len(calls), 2, "reports along the way, not only at the end")
	assert.Equal(t, [2]int64{size, size}, calls[len(calls)-1])
	for i := 1; i < len(calls); i++ {
		assert.GreaterOrEqual(t, calls[i][0], calls[i-1][0])
		assert.Equal(t, size, calls[i][1])
	}
}

// TestReadBoundsFieldsPerRecord: a header may name up to 10,000 columns; a
// row with more fields than that is rejected by its line, and reading goes on.
func TestReadBoundsFieldsPerRecord(t *testing.T) {
	dir := t.TempDir()
	header := make([]string, maxFields)
	for i := range header {
		header[i] = fmt.Sprintf("c%d", i)
	}
	row := strings.Repeat("1,", maxFields-1) + "1"
	csv := strings.Join(header, ",") + "\n" + row + "\n" + row + strings.Repeat(",\"1\"", 5000) + "\n" + row + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "wide.csv"), []byte(csv), 0o600))
	s := mustDecode(t, dir, "source \"csv\" {\npath = \"wide.csv\"\n}\n")
	recs, err := readAll(t, s)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.NoError(t, recs[0].Err)
	assert.Len(t, recs[0].Map(), maxFields)
	assert.EqualError(t, recs[1].Err, "line 3: more than 10000 fields: a record has at most 10000")
	assert.Equal(t, 3, recs[1].Pos.Line)
	assert.NoError(t, recs[2].Err)
	assert.Equal(t, 4, recs[2].Pos.Line)
}
