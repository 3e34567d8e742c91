package rest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/sources/rest"
)

// TestMaxPageSize: a page larger than max_page_size (default 64 MiB) is
// refused with its request named, and not retried; one within it is read.
func TestMaxPageSize(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		notes := strings.Repeat("x", 3000)
		if r.URL.Path == "/small" {
			notes = "x"
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[{"id": 1, "notes": "` + notes + `"}]`))
	}))
	defer srv.Close()

	s := mustLoad(t, `url = "`+srv.URL+`/items"
max_page_size = "2KiB"`, nil)
	recs, err := read(t, s, nil)
	require.Error(t, err)
	assert.Empty(t, recs)
	assert.Contains(t, err.Error(), "GET "+srv.URL+"/items: the response body is larger than max_page_size (2 KiB); raise max_page_size, or ask for fewer records per page")
	assert.Equal(t, int32(1), calls.Load(), "not retried")

	s = mustLoad(t, `url = "`+srv.URL+`/small"
max_page_size = "2KiB"`, nil)
	recs, err = read(t, s, nil)
	require.NoError(t, err)
	assert.Len(t, recs, 1)

	s = mustLoad(t, `url = "`+srv.URL+`/items"`, nil)
	recs, err = read(t, s, nil)
	require.NoError(t, err, "the default holds it")
	assert.Len(t, recs, 1)
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"16MiB", 16 << 20}, {"512 KiB", 512 << 10}, {"1GiB", 1 << 30}, {"100", 100}, {"2kb", 2000},
		{"3 MB", 3000000}, {"7b", 7}, {"0", 0}, {"-1MiB", 0}, {"16 parsecs", 0}, {"MiB", 0}, {"", 0},
		{"99999999999999999999", 0}, {"9999999999GiB", 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, d := rest.ParseSize(tt.in, hcl.Range{Filename: "p.hcl"}, "max_page_size")
			assert.Equal(t, tt.want, got)
			if tt.want == 0 {
				require.NotNil(t, d)
				assert.Equal(t, "Invalid size", d.Summary)
				assert.Contains(t, d.Detail, "max_page_size is "+`"`+tt.in+`"`)
			} else {
				assert.Nil(t, d)
			}
		})
	}
	assert.Equal(t, "16 MiB", rest.FormatSize(16<<20))
	assert.Equal(t, "2 GiB", rest.FormatSize(2<<30))
	assert.Equal(t, "3 KiB", rest.FormatSize(3<<10))
	assert.Equal(t, "1500 bytes", rest.FormatSize(1500))
}
