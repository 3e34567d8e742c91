package faults

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// api is a fake HubSpot-like contacts API: GET /crm/v3/objects/contacts
// serves the dataset ordered by updated time then id, limit records a page
// (at most 100), from ?since (epoch ms, inclusive), with an opaque after
// cursor; a bearer token is required. fault, when set, may answer a request
// instead (a dropped body, a hang, a 503).
type api struct {
	token     string
	pageDelay time.Duration

	mu     sync.Mutex
	rows   []row
	fault  func(n int64, w http.ResponseWriter, r *http.Request) bool
	tamper func(id int64, rec map[string]any) // edits a record before it is sent

	requests atomic.Int64 // served or faulted
	faulted  atomic.Int64
	srv      *httptest.Server

	// readers: when each client that put a /label/ before the API path
	// (FAULTS_API_URL=URL/label) made its first and last request.
	readers map[string]*[2]time.Time
}

func newAPI(t testing.TB, token string) *api {
	a := &api{token: token}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

// URL is the base URL, given to the pipeline as FAULTS_API_URL.
func (a *api) URL() string { return a.srv.URL }

// publish makes the API serve ds.
func (a *api) publish(ds *dataset) {
	rows := ds.sorted()
	a.mu.Lock()
	a.rows = rows
	a.mu.Unlock()
}

// setFault installs f; n counts requests from 1 since it was installed.
func (a *api) setFault(f func(n int64, w http.ResponseWriter, r *http.Request) bool) {
	var n atomic.Int64
	a.mu.Lock()
	if f == nil {
		a.fault = nil
	} else {
		a.fault = func(_ int64, w http.ResponseWriter, r *http.Request) bool { return f(n.Add(1), w, r) }
	}
	a.mu.Unlock()
}

// overlappingReaders lists the pairs of labelled clients whose requests
// interleaved in time: two runs reading, so two runs past their lock.
func (a *api) overlappingReaders() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for l1, s1 := range a.readers {
		for l2, s2 := range a.readers {
			if l1 < l2 && s1[0].Before(s2[1]) && s2[0].Before(s1[1]) {
				out = append(out, fmt.Sprintf("%s (%s–%s) and %s (%s–%s)", l1, s1[0].Format("15:04:05.000"), s1[1].Format("15:04:05.000"),
					l2, s2[0].Format("15:04:05.000"), s2[1].Format("15:04:05.000")))
			}
		}
	}
	sort.Strings(out)
	return out
}

// readerCount is how many labelled clients made requests.
func (a *api) readerCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.readers)
}

func hubspotTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.requests.Add(1)
	now := time.Now()
	a.mu.Lock()
	fault := a.fault
	rows := a.rows
	tamper := a.tamper
	if label, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); ok && strings.HasPrefix(label, "run-") {
		r.URL.Path = "/" + rest
		if a.readers == nil {
			a.readers = map[string]*[2]time.Time{}
		}
		if a.readers[label] == nil {
			a.readers[label] = &[2]time.Time{now, now}
		}
		a.readers[label][1] = now
	}
	a.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		writeJSON(w, 401, map[string]any{"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})
		return
	}
	if fault != nil && fault(n, w, r) {
		a.faulted.Add(1)
		return
	}
	if r.URL.Path != "/crm/v3/objects/contacts" {
		writeJSON(w, 404, map[string]any{"status": "error", "message": "not found"})
		return
	}
	if a.pageDelay > 0 {
		time.Sleep(a.pageDelay)
	}
	q := r.URL.Query()
	limit := 100
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, 100)
	}
	from := 0
	if s := q.Get("since"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeJSON(w, 400, map[string]any{"status": "error", "message": "since: " + err.Error()})
			return
		}
		since := time.UnixMilli(ms)
		from = sort.Search(len(rows), func(i int) bool { return !rows[i].Updated.Before(since) })
	}
	if after := q.Get("after"); after != "" {
		// The cursor is the (updated ms, id) of the last record sent.
		b, err := base64.RawURLEncoding.DecodeString(after)
		var ms, id int64
		if err == nil {
			_, err = fmt.Sscanf(string(b), "%d:%d", &ms, &id)
		}
		if err != nil {
			writeJSON(w, 400, map[string]any{"status": "error", "message": "bad after cursor"})
			return
		}
		from = sort.Search(len(rows), func(i int) bool {
			u := rows[i].Updated.UnixMilli()
			return u > ms || (u == ms && rows[i].ID > id)
		})
	}
	to := min(from+limit, len(rows))
	results := make([]any, 0, to-from)
	for _, c := range rows[from:to] {
		rec := map[string]any{
			"id": strconv.FormatInt(c.ID, 10),
			"properties": map[string]any{
				"name":             c.Name,
				"score":            strconv.FormatInt(c.Score, 10),
				"note":             c.Note,
				"lastmodifieddate": hubspotTime(c.Updated),
			},
			"updatedAt": hubspotTime(c.Updated),
			"archived":  false,
		}
		if tamper != nil {
			tamper(c.ID, rec)
		}
		results = append(results, rec)
	}
	resp := map[string]any{"results": results}
	if to < len(rows) {
		last := rows[to-1]
		c := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%d", last.Updated.UnixMilli(), last.ID))
		resp["paging"] = map[string]any{"next": map[string]any{"after": c}}
	}
	writeJSON(w, 200, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// dropMidBody answers 200 with a Content-Length it never fulfils: half a
// body, then the connection closes.
func dropMidBody(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "5000")
	w.WriteHeader(200)
	_, _ = w.Write([]byte(`{"results": [{"id": "1", "properties": {"name": "cut`))
	w.(http.Flusher).Flush()
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

// hang holds the request until the client gives up or d passes.
func hang(w http.ResponseWriter, r *http.Request, d time.Duration) {
	select {
	case <-r.Context().Done():
	case <-time.After(d):
	}
	w.WriteHeader(http.StatusGatewayTimeout)
}
