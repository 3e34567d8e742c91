package xml_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestHugeTextNodeIsRefused streams a document whose second record holds a
// 200 MB text node, generated as it is sent: the read stops at the default
// max_record_size (16 MiB), naming the record and where it starts, having
// received and allocated a fraction of the node (it used to take 1 GB).
func TestHugeTextNodeIsRefused(t *testing.T) {
	const node = 200 << 20
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := `<?xml version="1.0"?><export><customer id="C-1"><notes>short</notes></customer><customer id="C-2"><notes>`
		if _, err := w.Write([]byte(head)); err != nil {
			return
		}
		chunk := []byte(strings.Repeat("lorem ipsum ", 64<<10/12))
		for n := 0; n < node; n += len(chunk) {
			k, err := w.Write(chunk)
			sent.Add(int64(k))
			if err != nil {
				return // the reader gave up
			}
		}
		w.Write([]byte(`</notes></customer></export>`))
	}))
	defer srv.Close()

	s := mustLoad(t, t.TempDir(), `url = "`+srv.URL+`/export.xml"
records = "/export/customer"
fields = { id = "@id", notes = "notes" }`)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	recs, err := readAll(t, s, engine.ReadOptions{})
	runtime.ReadMemStats(&after)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/export.xml: record 2 is larger than max_record_size (16 MiB): stopped at byte 1678", "the 16 MiB of the record, with what was read ahead before it")
	require.Len(t, recs, 1, "the record before it was read")
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("refused after the server sent %d MiB; %d MiB allocated", sent.Load()>>20, allocated>>20)
	assert.Less(t, allocated, uint64(160<<20), "a fraction of the 200 MB node, not several times it")
	assert.Less(t, sent.Load(), int64(node/2), "the rest of the node was never read")
}

// TestMaxRecordSize: records up to max_record_size are read; the first
// larger one ends the read with its document, number and offset.
func TestMaxRecordSize(t *testing.T) {
	dir := t.TempDir()
	doc := `<export><c id="1">` + strings.Repeat("x", 500) + `</c><c id="2">` + strings.Repeat("y", 900) + `</c><c id="3">` + strings.Repeat("z", 3000) + `</c><c id="4"/></export>`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.xml"), []byte(doc), 0o644))
	s := mustLoad(t, dir, `path = "a.xml"
records = "/export/c"
fields = { id = "@id" }
max_record_size = "1KiB"`)
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a.xml: record 3 is larger than max_record_size (1 KiB): stopped at byte ")
	assert.Contains(t, err.Error(), "; raise max_record_size if such records are expected")
	require.Len(t, recs, 2)
	assert.Equal(t, "2", recs[1].Fields["id"])

	_, diags := load(t, dir, "path = \"a.xml\"\nrecords = \"/export/c\"\nmax_record_size = \"16 parsecs\"")
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Invalid size", diags[0].Summary)
	assert.Equal(t, 7, diags[0].Subject.Start.Line)
}
