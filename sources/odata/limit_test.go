package odata_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestMaxRecordSizeInAtom: an Atom entry larger than max_record_size ends
// the read with its page and its place in the page; the entries before it
// in earlier pages were emitted.
func TestMaxRecordSizeInAtom(t *testing.T) {
	es := contacts(30)
	es[14].Notes = strings.Repeat("n", 5000)
	f := &fakeOData{t: t, entities: es}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
top = 10
max_record_size = "4KiB"`, nil)
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.Error(t, err)
	assert.Len(t, recs, 10, "the first page; nothing of the page that failed")
	assert.Regexp(t, `^Contacts: page 2 \(GET `+srv.URL+`/Svc.svc/Contacts\?\$skip=10&\$top=10\): entry 5 of the page is larger than max_record_size \(4 KiB\): stopped at byte \d+ of the page; raise max_record_size if such entries are expected$`, err.Error())

	s = mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
top = 10`, nil)
	recs, err = readAll(t, s, engine.ReadOptions{})
	require.NoError(t, err, "the default, 16 MiB, holds it")
	assert.Len(t, recs, 30)
}

// TestMaxPageSize: a page body larger than max_page_size is refused, in
// Atom and JSON alike, naming the request; it is not retried.
func TestMaxPageSize(t *testing.T) {
	for _, format := range []string{"atom", "v4json"} {
		t.Run(format, func(t *testing.T) {
			f := &fakeOData{t: t, entities: contacts(100), format: format}
			srv := httptest.NewServer(f)
			defer srv.Close()
			extra := ""
			if format == "v4json" {
				extra = "\nversion = 4\nformat = \"json\""
			}
			s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
top = 50
max_page_size = "8KiB"`+extra, nil)
			recs, err := readAll(t, s, engine.ReadOptions{})
			require.Error(t, err)
			assert.Empty(t, recs)
			assert.Contains(t, err.Error(), "/Svc.svc/Contacts?$top=50: the response body is larger than max_page_size (8 KiB); raise max_page_size, or ask for fewer records per page")
			assert.Len(t, f.urls(), 1, "not retried")
		})
	}
}
