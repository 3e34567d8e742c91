package xml_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/syncbuf"
	xmlsrc "github.com/etl-dev/etl/sources/xml"
)

func registry() *engine.Registry {
	r := engine.NewRegistry()
	xmlsrc.Register(r)
	return r
}

// load builds the source from a `source "xml" {}` block body, in a
// pipeline file in dir.
func load(t testing.TB, dir, source string) (*xmlsrc.Source, hcl.Diagnostics) {
	t.Helper()
	l := engine.NewLoader(registry())
	l.Strict = true
	l.LookupEnv = func(string) (string, bool) { return "", false }
	p, diags := l.LoadSource(filepath.Join(dir, "pipeline.hcl"), []byte(`pipeline "t" {
  system = "test"
  entity = "t"
  source "xml" {
`+source+`
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
`))
	if diags.HasErrors() {
		return nil, diags
	}
	return p.Source.(*xmlsrc.Source), diags
}

func mustLoad(t testing.TB, dir, source string) *xmlsrc.Source {
	t.Helper()
	s, diags := load(t, dir, source)
	require.False(t, diags.HasErrors(), diags.Error())
	return s
}

func readAll(t testing.TB, s engine.Source, opts engine.ReadOptions) ([]engine.Record, error) {
	t.Helper()
	var out []engine.Record
	err := s.Read(context.Background(), opts, func(r engine.Record) error { out = append(out, r); return nil })
	return out, err
}

// TestFields reads each record's fields by XPath relative to the record:
// attributes, nested paths, repeated elements as lists, functions, a
// missing or xsi:nil element as nil.
func TestFields(t *testing.T) {
	s := mustLoad(t, "testdata", `path = "customers.xml"
records = "/export/customers/customer"
key = "record.id"
fields = {
  id      = "@id"
  name    = "name"
  email   = "email"
  city    = "address/city"
  zip     = "address/zip"
  tags    = "tags/tag"
  n_tags  = "count(tags/tag)"
  balance = "balance"
  active  = "@status = 'active'"
}`)
	assert.Equal(t, []string{"active", "balance", "city", "email", "id", "n_tags", "name", "tags", "zip"}, s.Fields())
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, map[string]any{
		"id": "C-1", "name": "Ann Lee", "email": "ann@example.com", "city": "Springfield", "zip": "62701",
		"tags": []any{"vip", "roofing"}, "n_tags": int64(2), "balance": "1234.50", "active": true,
	}, recs[0].Fields)
	assert.Equal(t, engine.Position{File: "customers.xml", Key: "C-1"}, recs[0].Pos)
	assert.Equal(t, map[string]any{
		"id": "C-2", "name": "Bob & Co", "email": nil, "city": "", "zip": nil,
		"tags": nil, "n_tags": int64(0), "balance": "0", "active": false,
	}, recs[1].Fields)
}

// TestWholeElement reads a record without fields: its attributes and
// child elements by name, nested as maps, repeated as lists.
func TestWholeElement(t *testing.T) {
	s := mustLoad(t, "testdata", `path = "customers.xml"
records = "//customer"`)
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, map[string]any{
		"id": "C-1", "status": "active", "name": "Ann Lee", "email": "ann@example.com",
		"address": map[string]any{"city": "Springfield", "zip": "62701"},
		"tags":    map[string]any{"tag": []any{"vip", "roofing"}},
		"balance": "1234.50", "updated": "2024-04-30T22:01:02Z",
	}, recs[0].Fields)
	assert.Nil(t, recs[1].Fields["email"], "xsi:nil")
	assert.Equal(t, "", recs[1].Fields["tags"])
	assert.Nil(t, s.Fields())
}

// TestGlobAndInvalidCharacters reads every file a glob matches, in order,
// with characters XML forbids removed and counted.
func TestGlobAndInvalidCharacters(t *testing.T) {
	s := mustLoad(t, "testdata", `path = "exports/*.xml"
records = "/rows/row"
fields = { id = "id", note = "note" }`)
	logBuf := &syncbuf.Buffer{}
	var progress [2]int64
	recs, err := readAll(t, s, engine.ReadOptions{Logger: slog.New(slog.NewTextHandler(logBuf, nil)), Progress: func(d, t int64) { progress = [2]int64{d, t} }})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Equal(t, []string{"1", "2", "3"}, []string{recs[0].Fields["id"].(string), recs[1].Fields["id"].(string), recs[2].Fields["id"].(string)})
	assert.Equal(t, "bad  char here", recs[2].Fields["note"])
	assert.Equal(t, filepath.Join("exports", "part-2.xml"), recs[2].Pos.File)
	assert.Contains(t, logBuf.String(), "removed=2")
	assert.Equal(t, progress[1], progress[0], "progress reaches the total size")
	assert.Equal(t, "xml exports/*.xml", s.Describe())
}

// TestMalformedDocument fails the read naming the file, after the records
// before the fault.
func TestMalformedDocument(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cut.xml"), []byte(`<rows><row><id>1</id></row><row><id>2</id></ro`), 0o600))
	s := mustLoad(t, dir, `path = "cut.xml"
records = "/rows/row"`)
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.Error(t, err)
	assert.Len(t, recs, 1)
	assert.Contains(t, err.Error(), "cut.xml: after record 1: XML syntax error")
}

// TestURL streams a document from a URL through the rest client, retrying
// a 503.
func TestURL(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		assert.Equal(t, "Bearer tok-12345", r.Header.Get("Authorization"))
		http.ServeFile(w, r, "testdata/customers.xml")
	}))
	defer srv.Close()
	t.Setenv("XML_TOKEN", "tok-12345")
	l := engine.NewLoader(registry())
	p, diags := l.LoadSource("p.hcl", []byte(`pipeline "t" {
  system = "test"
  entity = "t"
  source "xml" {
    url     = "`+srv.URL+`/export.xml"
    records = "//customer"
    fields  = { id = "@id" }
    auth "bearer" {
      token = env("XML_TOKEN")
    }
    retry {
      backoff = "1ms"
    }
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}`))
	require.False(t, diags.HasErrors(), diags.Error())
	recs, err := readAll(t, p.Source, engine.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, "C-2", recs[1].Fields["id"])
	assert.Equal(t, int32(2), n.Load())
}

// TestConfigErrors reports bad attributes as diagnostics.
func TestConfigErrors(t *testing.T) {
	cases := []struct{ name, block, summary string }{
		{"no path or url", `records = "/a"`, "Missing path or url"},
		{"both", "path = \"a.xml\"\nurl = \"https://h/a.xml\"\nrecords = \"/a\"", "Both path and url"},
		{"bad records xpath", "path = \"a.xml\"\nrecords = \"/a[\"", "Invalid XPath"},
		{"bad field xpath", "path = \"a.xml\"\nrecords = \"/a\"\nfields = { x = \"count(\" }", "Invalid XPath"},
		{"retry without url", "path = \"a.xml\"\nrecords = \"/a\"\nretry {\n}", "HTTP settings without a url"},
		{"broken key expression", "path = \"a.xml\"\nrecords = \"/a\"\nkey = \"record.id +\"", "Syntax error in expression"},
		{"key names no record", "path = \"a.xml\"\nrecords = \"/a\"\nkey = \"recrod.id\"", "Unknown name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, "testdata", c.block)
			require.True(t, diags.HasErrors())
			assert.Equal(t, c.summary, diags[0].Summary, diags.Error())
		})
	}
}

// TestCleaner removes what XML 1.0 forbids, whichever way the input is cut
// into reads, and counts it.
func TestCleaner(t *testing.T) {
	cases := []struct {
		name, in, want string
		removed        int64
	}{
		{name: "clean", in: "<a>héllo &amp; &#233;</a>", want: "<a>héllo &amp; &#233;</a>"},
		{name: "controls", in: "<a>x\x00y\x1a\x0bz\tw\r\n</a>", want: "<a>xyz\tw\r\n</a>", removed: 3},
		{name: "references", in: "<a>&#x1A;&#26;&#x0;&#9;&#xD7FF;</a>", want: "<a>&#9;&#xD7FF;</a>", removed: 3},
		{name: "non-characters", in: "<a>\uFFFE\uFFFF\U0001F600</a>", want: "<a>\U0001F600</a>", removed: 2},
		{name: "invalid utf-8", in: "<a>a\xff\xfeb\xe2\x82</a>", want: "<a>ab</a>", removed: 4},
		{name: "latin-1 keeps bytes", in: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9\x01</a>", want: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>", removed: 1},
		{name: "not a reference", in: "<a>&#xZZ; &# &</a>", want: "<a>&#xZZ; &# &</a>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, n := xmlsrc.Clean([]byte(c.in))
			assert.Equal(t, c.want, string(got))
			assert.Equal(t, c.removed, int64(n))
			for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in)), iotest.HalfReader(strings.NewReader(c.in))} {
				cl := xmlsrc.NewCleaner(r)
				b, err := io.ReadAll(cl)
				require.NoError(t, err)
				assert.Equal(t, c.want, string(b))
				assert.Equal(t, c.removed, cl.Removed())
			}
		})
	}
}

// TestLargeFileConstantMemory streams a generated ~100 MB file and reports
// the peak live heap: it stays that of a few records, not the file's size.
func TestLargeFileConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 100 MB file")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "big.xml")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := &countWriter{w: f}
	fmt.Fprint(w, "<?xml version=\"1.0\"?>\n<export><customers>\n")
	n := 0
	for w.n < 100<<20 {
		n++
		fmt.Fprintf(w, "<customer id=\"C-%d\"><name>Customer number %d</name><email>c%d@example.com</email><address><city>Springfield</city><zip>62701</zip></address><notes>%s</notes><updated>2024-04-30T22:01:02Z</updated></customer>\n", n, n, n, strings.Repeat("lorem ipsum ", 20))
	}
	fmt.Fprint(w, "</customers></export>\n")
	require.NoError(t, f.Close())

	s := mustLoad(t, dir, `path = "big.xml"
records = "/export/customers/customer"
fields = { id = "@id", name = "name", city = "address/city" }`)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	count := 0
	start := time.Now()
	err = s.Read(context.Background(), engine.ReadOptions{}, func(r engine.Record) error {
		count++
		if count%20000 == 0 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	took := time.Since(start)
	require.NoError(t, err)
	require.Equal(t, n, count)
	grown := float64(peak-min(peak, before.HeapAlloc)) / (1 << 20)
	t.Logf("%d records, %.0f MiB in %s (%.0f records/s): live heap grew at most %.2f MiB", n, float64(w.n)/(1<<20), took.Round(time.Millisecond), float64(n)/took.Seconds(), grown)
	assert.Less(t, grown, 8.0, "the heap must not grow with the file")
}

type countWriter struct {
	w io.Writer
	n int
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// TestExampleLoads loads example.hcl.
func TestExampleLoads(t *testing.T) {
	l := engine.NewLoader(registry())
	p, diags := l.Load("example.hcl")
	require.False(t, diags.HasErrors(), diags.Error())
	recs, err := readAll(t, p.Source, engine.ReadOptions{})
	require.NoError(t, err)
	outs, err := p.Transform(recs)
	require.NoError(t, err)
	require.Len(t, outs, 2)
	assert.Nil(t, outs[0].Reject)
	assert.Equal(t, int64(2), outs[0].Row["tag_count"])
}
