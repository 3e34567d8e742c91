package xml_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/syncbuf"
)

// TestDescribeAndPlanRead name the file or the URL (without secrets) and
// the record XPath.
func TestDescribeAndPlanRead(t *testing.T) {
	s := mustLoad(t, t.TempDir(), "path = \"exports/*.xml\"\nrecords = \"//c\"")
	assert.Equal(t, "xml exports/*.xml", s.Describe())
	assert.Equal(t, "read exports/*.xml, records //c", s.PlanRead(engine.ReadOptions{}))

	s = mustLoad(t, t.TempDir(), "url = \"https://user:pw@example.com/export.xml\"\nrecords = \"//c\"")
	assert.Equal(t, "xml https://example.com/export.xml", s.Describe())
	assert.Equal(t, "GET https://example.com/export.xml, records //c", s.PlanRead(engine.ReadOptions{}))
}

// TestFieldValues: XPath results of every kind become field values.
func TestFieldValues(t *testing.T) {
	dir := t.TempDir()
	doc := `<export xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<c id="1"><n>2.5</n><n>1</n><tag>a</tag><tag>b</tag><empty xsi:nil="true"/><deep><x>1</x><x>2</x><x>3</x></deep></c>
</export>`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.xml"), []byte(doc), 0o644))
	s := mustLoad(t, dir, `path = "a.xml"
records = "/export/c"
fields = {
  id = "@id", sum = "sum(n)", half = "sum(n) div 2", inf = "1 div 0", nan = "number('x')",
  tags = "tag", first = "string(tag)", has = "boolean(tag)", none = "missing", null = "empty",
  xs = "deep/x"
}`)
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, map[string]any{
		"id": "1", "sum": 3.5, "half": 1.75, "inf": nil, "nan": nil,
		"tags": []any{"a", "b"}, "first": "a", "has": true, "none": nil, "null": nil,
		"xs": []any{"1", "2", "3"},
	}, recs[0].Fields)
}

// TestWholeElementShapes: without fields, repeated children become lists
// (a nil one kept in place), text beside attributes is "text", and a nil
// record is an empty map.
func TestWholeElementShapes(t *testing.T) {
	dir := t.TempDir()
	doc := `<export xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<c kind="k"><v xsi:nil="true"/><v>2</v><v>3</v><w>x</w><w xsi:nil="true"/><note lang="en">hello</note></c>
<c xsi:nil="true"/>
</export>`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.xml"), []byte(doc), 0o644))
	s := mustLoad(t, dir, "path = \"a.xml\"\nrecords = \"/export/c\"")
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, map[string]any{
		"kind": "k",
		"v":    []any{nil, "2", "3"},
		"w":    []any{"x", nil},
		"note": map[string]any{"lang": "en", "text": "hello"},
	}, recs[0].Fields)
	assert.Equal(t, map[string]any{}, recs[1].Fields)
}

// TestKeys: the key expression names each record's position; one that
// fails makes the record an error; without a key it is the record's number.
func TestKeys(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.xml"), []byte(`<e><c id="7"/><c/><c id="x"/></e>`), 0o644))
	s := mustLoad(t, dir, "path = \"a.xml\"\nrecords = \"/e/c\"\nfields = { id = \"@id\" }\nkey = \"int(record.id)\"")
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Equal(t, "7", recs[0].Pos.Key)
	assert.NoError(t, recs[0].Err)
	assert.Equal(t, "#2", recs[1].Pos.Key, "a nil key falls back to the number")
	assert.ErrorContains(t, recs[2].Err, "key: ")
	assert.Equal(t, "#3", recs[2].Pos.Key)
	assert.Equal(t, "a.xml", recs[2].Pos.File)
}

// TestReadReportsProgressAndRemovedCharacters: progress goes up to the
// file's size; removed characters are counted and logged once.
func TestReadReportsProgressAndRemovedCharacters(t *testing.T) {
	dir := t.TempDir()
	doc := "<e><c><v>a\x01b</v></c><c><v>c\x00d</v></c></e>"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.xml"), []byte(doc), 0o644))
	s := mustLoad(t, dir, "path = \"a.xml\"\nrecords = \"/e/c\"")
	var done, total int64
	counts := map[string]int64{}
	log, buf := newLogger()
	recs, err := readAll(t, s, engine.ReadOptions{
		Progress: func(d, tot int64) { done, total = d, tot },
		Count:    func(name string, n int64) { counts[name] += n },
		Logger:   log,
	})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, "ab", recs[0].Fields["v"])
	assert.Equal(t, "cd", recs[1].Fields["v"])
	assert.Equal(t, int64(len(doc)), total)
	assert.Equal(t, total, done)
	assert.Equal(t, map[string]int64{"xml_chars_removed": 2}, counts)
	assert.Contains(t, buf.String(), "removed characters that XML forbids")
}

// TestReadStops: a canceled context or an emit error ends the read with
// that error; a missing file, a glob matching nothing and a failing URL
// are errors naming them.
func TestReadStops(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.xml"), []byte(`<e><c/><c/></e>`), 0o644))
	s := mustLoad(t, dir, "path = \"a.xml\"\nrecords = \"/e/c\"")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Read(ctx, engine.ReadOptions{}, func(engine.Record) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)

	stop := errors.New("stop")
	n := 0
	err = s.Read(context.Background(), engine.ReadOptions{}, func(engine.Record) error { n++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n)

	_, err = readAll(t, mustLoad(t, dir, "path = \"nope.xml\"\nrecords = \"/e/c\""), engine.ReadOptions{})
	assert.ErrorContains(t, err, "open nope.xml: ")
	_, err = readAll(t, mustLoad(t, dir, "path = \"x/*.xml\"\nrecords = \"/e/c\""), engine.ReadOptions{})
	assert.ErrorContains(t, err, "glob x/*.xml: no file matches")

	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err = readAll(t, mustLoad(t, dir, "url = \""+srv.URL+"/gone.xml\"\nrecords = \"/e/c\""), engine.ReadOptions{})
	assert.ErrorContains(t, err, "404")
}

func newLogger() (*slog.Logger, *syncbuf.Buffer) {
	b := &syncbuf.Buffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}
