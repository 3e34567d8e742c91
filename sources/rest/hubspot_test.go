package rest_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contact is one HubSpot contact of the fake.
type contact struct {
	ID       string
	Email    string
	First    string
	Created  time.Time
	Modified time.Time
}

func (c contact) json() map[string]any {
	ms := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	return map[string]any{
		"id": c.ID, "archived": false,
		"createdAt": ms(c.Created), "updatedAt": ms(c.Modified),
		"properties": map[string]any{
			"hs_object_id": c.ID, "email": c.Email, "firstname": c.First,
			"lastname": nil, "phone": "",
			"createdate": ms(c.Created), "lastmodifieddate": ms(c.Modified),
		},
	}
}

// fakeHubSpot speaks the CRM v3 contacts list and search APIs as documented:
// bearer auth, list paging by an opaque `after` with `paging.next.after`
// (absent on the last page), rate-limit headers on list responses, and a
// search that sorts by lastmodifieddate, filters GTE, pages by a stringified
// offset and answers 400 past 10,000 results.
type fakeHubSpot struct {
	t     testing.TB
	token string
	// emptyPageAt makes the list answer an empty page that still carries a
	// cursor before the contact at this index (0: never).
	emptyPageAt int
	searchCap   int
	// malformedAt makes the search answer broken JSON for the page at this
	// offset (0: never).
	malformedAt int

	// budget, when set, makes the list API enforce a rolling window of
	// budget requests per window, answering 429 beyond it.
	budget int
	window time.Duration

	mu        sync.Mutex
	contacts  []contact // by id
	rec       recorder
	refused   int         // searches refused past the cap
	sent      []time.Time // list requests in the current window
	throttled int         // list requests answered 429
}

func newFakeHubSpot(t testing.TB, n int) *fakeHubSpot {
	f := &fakeHubSpot{t: t, token: secretToken, searchCap: 10000}
	base := time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		f.contacts = append(f.contacts, contact{
			ID:      strconv.Itoa(512000000001 + i),
			Email:   fmt.Sprintf("c%d@example.com", i+1),
			First:   fmt.Sprintf("Contact %d", i+1),
			Created: base.Add(-time.Hour),
			// Groups of 7 contacts share a millisecond: restart boundaries
			// fall inside groups.
			Modified: base.Add(time.Duration(i/7) * time.Millisecond),
		})
	}
	return f
}

func (f *fakeHubSpot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := f.rec.record(r)
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, 401, map[string]any{"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION", "correlationId": "c0ffee"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/crm/v3/objects/contacts":
		f.list(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/search":
		f.search(w, req.Body)
	default:
		writeJSON(w, 404, map[string]any{"status": "error", "message": "not found"})
	}
}

func (f *fakeHubSpot) list(w http.ResponseWriter, r *http.Request) {
	limit := 10
	if l := r.URL.Query().Get("limit"); l != "" {
		limit, _ = strconv.Atoi(l)
		limit = min(limit, 100)
	}
	// The cursor is opaque: base64 of the next index, "e" marking an empty
	// page to serve first.
	from, empty := 0, false
	if a := r.URL.Query().Get("after"); a != "" {
		b, err := base64.StdEncoding.DecodeString(a)
		require.NoError(f.t, err)
		s := string(b)
		empty = strings.HasPrefix(s, "e")
		from, _ = strconv.Atoi(strings.TrimPrefix(s, "e"))
	}
	max, window, remaining := 100, 10*time.Second, 99
	if f.budget > 0 {
		now := time.Now()
		for len(f.sent) > 0 && now.Sub(f.sent[0]) >= f.window {
			f.sent = f.sent[1:]
		}
		if len(f.sent) >= f.budget {
			f.throttled++
			writeJSON(w, 429, map[string]any{"status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})
			return
		}
		f.sent = append(f.sent, now)
		max, window, remaining = f.budget, f.window, f.budget-len(f.sent)
	}
	w.Header().Set("X-HubSpot-RateLimit-Max", strconv.Itoa(max))
	w.Header().Set("X-HubSpot-RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", strconv.FormatInt(window.Milliseconds(), 10))
	cursor := func(i int, e bool) map[string]any {
		s := strconv.Itoa(i)
		if e {
			s = "e" + s
		}
		c := base64.StdEncoding.EncodeToString([]byte(s))
		return map[string]any{"next": map[string]any{"after": c, "link": "https://api.hubapi.com/crm/v3/objects/contacts?after=" + c}}
	}
	if empty {
		writeJSON(w, 200, map[string]any{"results": []any{}, "paging": cursor(from, false)})
		return
	}
	to := min(from+limit, len(f.contacts))
	resp := map[string]any{}
	var results []any
	for i := from; i < to; i++ {
		if f.emptyPageAt > 0 && i == f.emptyPageAt && i > from {
			to = i
			break
		}
		results = append(results, f.contacts[i].json())
	}
	resp["results"] = results
	if to < len(f.contacts) {
		resp["paging"] = cursor(to, f.emptyPageAt == to)
	}
	writeJSON(w, 200, resp)
}

// searchBody is the part of a search request the fake reads.
type searchBody struct {
	FilterGroups []struct {
		Filters []struct {
			PropertyName string `json:"propertyName"`
			Operator     string `json:"operator"`
			Value        any    `json:"value"`
		} `json:"filters"`
	} `json:"filterGroups"`
	Sorts []struct {
		PropertyName string `json:"propertyName"`
		Direction    string `json:"direction"`
	} `json:"sorts"`
	Limit int    `json:"limit"`
	After string `json:"after"`
}

func (f *fakeHubSpot) search(w http.ResponseWriter, raw string) {
	var b searchBody
	require.NoError(f.t, json.Unmarshal([]byte(raw), &b))
	require.Len(f.t, b.Sorts, 1)
	require.Equal(f.t, "lastmodifieddate", b.Sorts[0].PropertyName)
	require.Equal(f.t, "ASCENDING", b.Sorts[0].Direction)
	var since time.Time
	for _, g := range b.FilterGroups {
		for _, fl := range g.Filters {
			require.Equal(f.t, "lastmodifieddate", fl.PropertyName)
			require.Equal(f.t, "GTE", fl.Operator)
			ms, err := strconv.ParseInt(fmt.Sprint(fl.Value), 10, 64)
			require.NoError(f.t, err, "filter value %v", fl.Value)
			since = time.UnixMilli(ms).UTC()
		}
	}
	byModified := func(a, b contact) int { return a.Modified.Compare(b.Modified) }
	sorted := f.contacts
	if !slices.IsSortedFunc(sorted, byModified) {
		sorted = slices.Clone(sorted)
		slices.SortStableFunc(sorted, byModified)
	}
	first := sort.Search(len(sorted), func(i int) bool { return !sorted[i].Modified.Before(since) })
	matches := sorted[first:]
	off := 0
	if b.After != "" {
		off, _ = strconv.Atoi(b.After)
	}
	if off >= f.searchCap {
		f.refused++
		writeJSON(w, 400, map[string]any{"status": "error", "message": "There was a problem with the request.", "category": "VALIDATION_ERROR", "correlationId": "c0ffee"})
		return
	}
	if f.malformedAt > 0 && off == f.malformedAt {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"total": 1, "results": [{"id": "1", "properties": {`))
		return
	}
	limit := min(max(b.Limit, 1), 200)
	end := min(off+limit, len(matches))
	results := []any{}
	for _, c := range matches[min(off, end):end] {
		results = append(results, c.json())
	}
	resp := map[string]any{"total": len(matches), "results": results}
	if end < len(matches) {
		resp["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(end)}}
	}
	writeJSON(w, 200, resp)
}

// searchSource is the search block of pipelines/hubspot_contacts_incremental.hcl,
// pointed at srv.
func searchSource(srv string, maxResults int) string {
	return fmt.Sprintf(`url    = "%s/crm/v3/objects/contacts/search"
method = "POST"
body = {
  limit      = 100
  properties = ["email", "firstname", "lastmodifieddate"]
  sorts      = [{ propertyName = "lastmodifieddate", direction = "ASCENDING" }]
  filterGroups = [{ filters = [{
    propertyName = "lastmodifieddate"
    operator     = "GTE"
    value        = "{{ since == nil ? '0' : string(timestamp(since).UnixMilli()) }}"
  }] }]
}
records = "results"
key     = "record.id"
auth "bearer" { token = env("TOKEN") }
paginate "cursor" {
  next         = "body.paging?.next?.after"
  param        = "after"
  in           = "body"
  restart_from = "timestamp(record.properties.lastmodifieddate)"
  max_results  = %d
}`, srv, maxResults)
}

func TestHubSpotList(t *testing.T) {
	f := newFakeHubSpot(t, 250)
	f.emptyPageAt = 200
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, lines(`url = "`+srv.URL+`/crm/v3/objects/contacts"
query = { limit = 100, properties = "email,firstname,lastmodifieddate" }
records = "results"
key = "record.id"
auth "bearer" { token = env("TOKEN") }
paginate "cursor" {
  next  = "body.paging?.next?.after"
  param = "after"
}`), authEnv)
	recs, err := read(t, s, nil)
	require.NoError(t, err)
	require.Len(t, recs, 250)
	for i, r := range recs {
		assert.Equal(t, f.contacts[i].ID, r.Fields["id"])
		assert.Equal(t, f.contacts[i].ID, r.Pos.Key)
	}
	assert.Equal(t, "1", recs[0].Pos.Page)
	assert.Equal(t, "4", recs[249].Pos.Page, "pages: 100, 100, empty, 50")
	// Property values keep their JSON shapes: null, "" and strings.
	props := recs[0].Fields["properties"].(map[string]any)
	assert.Nil(t, props["lastname"])
	assert.Equal(t, "", props["phone"])
	reqs := f.rec.all()
	require.Len(t, reqs, 4)
	assert.Empty(t, reqs[0].Query["after"])
	assert.Equal(t, []string{"100"}, reqs[0].Query["limit"])
	assert.Equal(t, []string{"email,firstname,lastmodifieddate"}, reqs[0].Query["properties"])
}

func TestHubSpotSearchRestartsBeforeTheCap(t *testing.T) {
	tests := []struct {
		name        string
		maxResults  int
		wantRefused int
	}{
		{name: "restart before the cap", maxResults: 10000, wantRefused: 0},
		{name: "restart on the server's 400", maxResults: 1000000, wantRefused: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHubSpot(t, 25003)
			srv := httptest.NewServer(f)
			defer srv.Close()
			s := mustLoad(t, searchSource(srv.URL, tt.maxResults), authEnv)
			assert.True(t, s.CursorOrdered())
			recs, logs, err := readLogged(t, s, nil)
			require.NoError(t, err)

			// Nothing missed, nothing twice, in ascending lastmodifieddate.
			got := ids(recs)
			want := make([]string, 0, len(f.contacts))
			for _, c := range f.contacts {
				want = append(want, c.ID)
			}
			assert.Len(t, got, len(want))
			assert.ElementsMatch(t, want, got)
			for i := 1; i < len(recs); i++ {
				a := recs[i-1].Fields["properties"].(map[string]any)["lastmodifieddate"].(string)
				b := recs[i].Fields["properties"].(map[string]any)["lastmodifieddate"].(string)
				require.LessOrEqual(t, a, b, "record %d", i)
			}
			assert.Equal(t, tt.wantRefused, f.refused)

			// Three queries: from 0, then twice from the last value read.
			var queries []string
			for _, r := range f.rec.all() {
				var b searchBody
				require.NoError(t, json.Unmarshal([]byte(r.Body), &b))
				if b.After == "" {
					queries = append(queries, fmt.Sprint(b.FilterGroups[0].Filters[0].Value))
				}
			}
			require.Len(t, queries, 3)
			assert.Equal(t, "0", queries[0])
			assert.Contains(t, logs, "restarting the query from the last value read")
		})
	}
}

func TestHubSpotSearchSinceIsSentAndInclusive(t *testing.T) {
	f := newFakeHubSpot(t, 70)
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, searchSource(srv.URL, 10000), authEnv)
	since := f.contacts[63].Modified // contacts 63–69 share this instant
	recs, err := read(t, s, since)
	require.NoError(t, err)
	assert.Equal(t, []string{"512000000064", "512000000065", "512000000066", "512000000067", "512000000068", "512000000069", "512000000070"}, ids(recs))
	reqs := f.rec.all()
	require.Len(t, reqs, 1)
	assert.Contains(t, reqs[0].Body, fmt.Sprintf(`"value":"%d"`, since.UnixMilli()))
}

func TestHubSpotSearchCannotPassAValueSharedByMoreThanTheCap(t *testing.T) {
	f := newFakeHubSpot(t, 30)
	for i := range f.contacts {
		f.contacts[i].Modified = f.contacts[0].Modified
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, strings.Replace(searchSource(srv.URL, 20), "limit      = 100", "limit      = 10", 1), authEnv)
	_, err := read(t, s, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than max_results (20) records share it")
}
