package rest_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pagedAPI serves pages of limit records, ids from 1, until total records.
// With gate, the requests for pages 1 and 2 are each answered only once the
// other has arrived (so both are in flight together; a read that asks one
// page at a time waits a minute and fails, never passes by luck). It
// records the most requests it had in flight at once.
type pagedAPI struct {
	limit, total int
	gate         bool
	declared     bool // the response carries the total

	mu       sync.Mutex
	inFlight int
	most     int
	pages    []int
	arrived  [3]chan struct{} // pages 1 and 2 arrived
	once     [3]sync.Once
}

func (a *pagedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if off := r.URL.Query().Get("offset"); off != "" {
		o, _ := strconv.Atoi(off)
		page = o/a.limit + 1
	}
	a.mu.Lock()
	a.inFlight++
	a.most = max(a.most, a.inFlight)
	a.pages = append(a.pages, page)
	a.mu.Unlock()
	defer func() { a.mu.Lock(); a.inFlight--; a.mu.Unlock() }()
	if a.gate && (page == 1 || page == 2) {
		a.once[page].Do(func() { close(a.arrived[page]) })
		select {
		case <-a.arrived[3-page]:
		case <-time.After(time.Minute):
		case <-r.Context().Done():
		}
	}
	var recs []map[string]any
	for id := (page-1)*a.limit + 1; id <= min(page*a.limit, a.total); id++ {
		recs = append(recs, map[string]any{"id": id})
	}
	body := map[string]any{"results": recs}
	if a.declared {
		body["total"] = a.total
	}
	writeJSON(w, 200, body)
}

func (a *pagedAPI) requested() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.pages...)
}

// TestPagesAreRequestedAheadWithinTheBudget: where the next request does
// not depend on the last answer (page or offset paging with a limit) and a
// budget is declared, the next pages' requests are in flight while a page
// is read; the records still come once each, in order, and a declared total
// keeps every request within it. Without a budget, one request at a time.
func TestPagesAreRequestedAheadWithinTheBudget(t *testing.T) {
	const budget = `rate_limit {
  requests = 50
  per      = "1s"
}`
	for _, tt := range []struct {
		name, paginate, budget string
		declared, gate         bool
		wantMost               int  // 0: at least 2
		wantExact              bool // every request is for a page read
	}{
		{name: "page with a declared total", paginate: `paginate "page" {
  limit = 10
  total = "body.total"
}`, budget: budget, declared: true, gate: true, wantExact: true},
		{name: "offset", paginate: `paginate "offset" {
  limit = 10
}`, budget: budget, gate: true},
		{name: "page without a budget", paginate: `paginate "page" {
  limit = 10
}`, wantMost: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := &pagedAPI{limit: 10, total: 95, gate: tt.gate, declared: tt.declared,
				arrived: [3]chan struct{}{nil, make(chan struct{}), make(chan struct{})}}
			srv := httptest.NewServer(api)
			defer srv.Close()
			s := mustLoad(t, lines(`url = `+q(srv.URL), `query = { limit = 10 }`, `records = "results"`, tt.paginate, tt.budget), nil)
			recs, err := read(t, s, nil)
			require.NoError(t, err)
			want := make([]string, 95)
			for i := range want {
				want[i] = strconv.Itoa(i + 1)
			}
			assert.Equal(t, want, ids(recs), "every record once, in order")
			if tt.wantMost > 0 {
				assert.Equal(t, tt.wantMost, api.most)
			} else {
				assert.GreaterOrEqual(t, api.most, 2, "requests in flight together")
			}
			if tt.wantExact {
				assert.ElementsMatch(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, api.requested(), "no request past the declared total")
			}
		})
	}
}
