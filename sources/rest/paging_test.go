package rest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// items returns n records {"id": "1"} … {"id": "n"}.
func items(from, to int) []map[string]any {
	out := []map[string]any{}
	for i := from; i <= to; i++ {
		out = append(out, map[string]any{"id": strconv.Itoa(i)})
	}
	return out
}

func TestPagingStyles(t *testing.T) {
	tests := []struct {
		name     string
		handler  func(srv *string) http.HandlerFunc // srv is the server's URL
		source   string                             // the block body; URL is replaced
		wantIDs  []string
		wantReqs []string // the query each request carried, as "k=v&…"
	}{
		{
			name: "cursor with an empty page that still carries a cursor",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Query().Get("after") {
					case "":
						writeJSON(w, 200, map[string]any{"results": items(1, 2), "paging": map[string]any{"next": map[string]any{"after": "QUJD"}}})
					case "QUJD":
						writeJSON(w, 200, map[string]any{"results": items(3, 2), "paging": map[string]any{"next": map[string]any{"after": "REVG"}}})
					case "REVG":
						writeJSON(w, 200, map[string]any{"results": items(3, 4)})
					}
				}
			},
			source: `query = { limit = 2 }
records = "results"
paginate "cursor" {
  next  = "body.paging?.next?.after"
  param = "after"
}`,
			wantIDs:  []string{"1", "2", "3", "4"},
			wantReqs: []string{"limit=2", "after=QUJD&limit=2", "after=REVG&limit=2"},
		},
		{
			name: "next_url relative then absolute",
			handler: func(srv *string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Query().Get("p") {
					case "":
						writeJSON(w, 200, map[string]any{"data": items(1, 2), "next": "/items?p=2"})
					case "2":
						writeJSON(w, 200, map[string]any{"data": items(3, 3), "next": *srv + "/items?p=3"})
					case "3":
						writeJSON(w, 200, map[string]any{"data": items(4, 4), "next": nil})
					}
				}
			},
			source: `records = "data"
paginate "next_url" {
  next = "body.next"
}`,
			wantIDs:  []string{"1", "2", "3", "4"},
			wantReqs: []string{"", "p=2", "p=3"},
		},
		{
			name: "link_header",
			handler: func(srv *string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					p, _ := strconv.Atoi(r.URL.Query().Get("page"))
					if p == 0 {
						p = 1
					}
					if p < 3 {
						w.Header().Add("Link", fmt.Sprintf(`<%s/items?page=1>; rel="first", <%s/items?page=%d&per_page=2>; rel="next"`, *srv, *srv, p+1))
					}
					writeJSON(w, 200, items(2*p-1, 2*p))
				}
			},
			source:   `paginate "link_header" {}`,
			wantIDs:  []string{"1", "2", "3", "4", "5", "6"},
			wantReqs: []string{"", "page=2&per_page=2", "page=3&per_page=2"},
		},
		{
			name: "offset stops on a short page",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
					all := items(1, 5)
					end := min(off+2, len(all))
					writeJSON(w, 200, map[string]any{"items": all[off:end]})
				}
			},
			source: `query   = { limit = 2 }
records = "items"
paginate "offset" {
  limit = 2
}`,
			wantIDs:  []string{"1", "2", "3", "4", "5"},
			wantReqs: []string{"limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"},
		},
		{
			name: "offset stops at the declared total",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					off, _ := strconv.Atoi(r.URL.Query().Get("start"))
					all := items(1, 4)
					end := min(off+2, len(all))
					writeJSON(w, 200, map[string]any{"items": all[off:end], "total": 4})
				}
			},
			source: `query   = { count = 2 }
records = "items"
paginate "offset" {
  param = "start"
  limit = 2
  total = "body.total"
}`,
			wantIDs:  []string{"1", "2", "3", "4"},
			wantReqs: []string{"count=2&start=0", "count=2&start=2"},
		},
		{
			name: "page stops on an empty page (Arrivy ignores page_size)",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					p, _ := strconv.Atoi(r.URL.Query().Get("page"))
					if p > 2 {
						writeJSON(w, 200, []any{})
						return
					}
					writeJSON(w, 200, items(3*p-2, 3*p))
				}
			},
			source:   `paginate "page" {}`,
			wantIDs:  []string{"1", "2", "3", "4", "5", "6"},
			wantReqs: []string{"page=1", "page=2", "page=3"},
		},
		{
			name: "page from 0 stops on a short page",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					p, _ := strconv.Atoi(r.URL.Query().Get("p"))
					writeJSON(w, 200, items(3*p+1, min(3*p+3, 7)))
				}
			},
			source: `paginate "page" {
  param = "p"
  start = 0
  limit = 3
}`,
			wantIDs:  []string{"1", "2", "3", "4", "5", "6", "7"},
			wantReqs: []string{"p=0", "p=1", "p=2"},
		},
		{
			name: "page with a stop condition",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					p, _ := strconv.Atoi(r.URL.Query().Get("page"))
					writeJSON(w, 200, map[string]any{"results": items(2*p-1, 2*p), "has_next": p < 2})
				}
			},
			source: `records = "results"
paginate "page" {
  stop = "body.has_next == false"
}`,
			wantIDs:  []string{"1", "2", "3", "4"},
			wantReqs: []string{"page=1", "page=2"},
		},
		{
			name: "after_id sends the last id back (LeadConduit)",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					all := []map[string]any{
						{"id": "66000000000000000000a001"}, {"id": "66000000000000000000a002"},
						{"id": "66000000000000000000a003"}, {"id": "66000000000000000000a004"},
						{"id": "66000000000000000000a005"},
					}
					after := r.URL.Query().Get("after_id")
					i := 0
					for after != "" && i < len(all) && all[i]["id"] != after {
						i++
					}
					if after != "" {
						i++
					}
					writeJSON(w, 200, all[i:min(i+2, len(all))])
				}
			},
			source: `query = { sort = "asc", limit = 2 }
paginate "after_id" {
  limit = 2
}`,
			wantIDs: []string{"66000000000000000000a001", "66000000000000000000a002", "66000000000000000000a003", "66000000000000000000a004", "66000000000000000000a005"},
			wantReqs: []string{"limit=2&sort=asc",
				"after_id=66000000000000000000a002&limit=2&sort=asc",
				"after_id=66000000000000000000a004&limit=2&sort=asc"},
		},
		{
			name: "max_pages caps the run",
			handler: func(*string) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					n, _ := strconv.Atoi(r.URL.Query().Get("after"))
					writeJSON(w, 200, map[string]any{"results": items(n+1, n+1), "paging": map[string]any{"next": map[string]any{"after": strconv.Itoa(n + 1)}}})
				}
			},
			source: `records = "results"
paginate "cursor" {
  next      = "body.paging?.next?.after"
  param     = "after"
  max_pages = 3
}`,
			wantIDs:  []string{"1", "2", "3"},
			wantReqs: []string{"", "after=1", "after=2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			var srvURL string
			h := tt.handler(&srvURL)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				h(w, r)
			}))
			defer srv.Close()
			srvURL = srv.URL
			s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, tt.source), nil)
			recs, err := read(t, s, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.wantIDs, ids(recs))
			var got []string
			for _, r := range rec.all() {
				got = append(got, encodeQuery(r.Query))
			}
			assert.Equal(t, tt.wantReqs, got)
		})
	}
}

func encodeQuery(q map[string][]string) string {
	return (urlValues(q)).Encode()
}

func TestPagingLoopsAreErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		source  string
		wantErr string
	}{
		{
			name: "repeated cursor",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, map[string]any{"results": items(1, 1), "paging": map[string]any{"next": map[string]any{"after": "QUJD"}}})
			},
			source: `records = "results"
paginate "cursor" {
  next  = "body.paging?.next?.after"
  param = "after"
}`,
			wantErr: `page 2 (GET SRV/items?after=QUJD): the cursor "QUJD" was already returned by page 1`,
		},
		{
			name: "repeated next URL",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, map[string]any{"data": items(1, 1), "next": "/items?p=2"})
			},
			source: `records = "data"
paginate "next_url" {
  next = "body.next"
}`,
			wantErr: `the next page URL SRV/items?p=2 was already returned by page 1`,
		},
		{
			name: "repeated after_id",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, items(1, 2))
			},
			source:  `paginate "after_id" {}`,
			wantErr: `the last id "2" was already the last id of page 1`,
		},
		{
			name: "an API that ignores the page parameter",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, items(1, 2))
			},
			source:  `paginate "page" {}`,
			wantErr: `page 2 (GET SRV/items?page=2): the page is the same as page 1; does the API take "page"?`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				if rec.count() > 50 {
					w.WriteHeader(500)
					return
				}
				tt.handler(w, r)
			}))
			defer srv.Close()
			s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, tt.source), nil)
			_, err := read(t, s, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), replaceSrv(tt.wantErr, srv.URL))
			assert.LessOrEqual(t, rec.count(), 3)
		})
	}
}
