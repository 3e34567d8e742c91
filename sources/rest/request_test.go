package rest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

func TestTemplatesSeeSincePageAndOffset(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := rec.record(r)
		var body struct{ Skip int }
		require.NoError(t, json.Unmarshal([]byte(req.Body), &body))
		off := body.Skip
		if off >= 4 {
			writeJSON(w, 200, map[string]any{"items": []any{}})
			return
		}
		writeJSON(w, 200, map[string]any{"items": items(off+1, off+2)})
	}))
	defer srv.Close()
	s := mustLoad(t, lines(`url    = "`+srv.URL+`/v{{ 1 + 1 }}/items"
method = "POST"
query  = {
  from   = "{{ since == nil ? nil : timestamp(since).Format('2006-01-02T15:04:05Z07:00') }}"
  ids    = [1, 2]
  absent = "{{ nil }}"
}
headers = { X-Page = "page {{ page }}", X-Absent = "{{ nil }}" }
body = {
  filter = { gte = "{{ since }}", n = "{{ page * 10 }}" }
  list   = ["{{ offset }}", "a {{ offset }}"]
  big    = 12345678901234567890
}
records = "items"
paginate "offset" {
  param = "skip"
  in    = "body"
  limit = 2
}`), nil)
	since := time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)
	recs, err := read(t, s, since)
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2", "3", "4"}, ids(recs))
	reqs := rec.all()
	require.Len(t, reqs, 3)
	assert.Equal(t, "/v2/items", reqs[1].Path)
	assert.Equal(t, "from=2024-06-01T09%3A00%3A00Z&ids=1&ids=2", encodeQuery(reqs[1].Query))
	assert.Equal(t, "page 2", reqs[1].Header.Get("X-Page"))
	assert.NotContains(t, reqs[1].Header, "X-Absent")
	assert.JSONEq(t, `{"filter": {"gte": "2024-06-01T09:00:00Z", "n": 20}, "list": [2, "a 2"], "big": 12345678901234567890, "skip": 2}`, reqs[1].Body)
	assert.Contains(t, reqs[1].Body, `"big":12345678901234567890`, "every digit, no exponent")

	// A full load: since is nil, and the parameter is left out.
	_, err = read(t, s, nil)
	require.NoError(t, err)
	assert.Equal(t, "ids=1&ids=2", encodeQuery(rec.all()[3].Query))
}

func TestRecordsAndPositions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data": {"items": [
			{"id": 9007199254740993, "amount": 0.1000000000000000055511151231257827, "nested": {"a": [1, "x", null]}},
			"not an object"
		]}}`))
	}))
	defer srv.Close()
	s := mustLoad(t, lines(`url = "`+srv.URL+`/x"`, `records = "data.items"`, `key = "string(record.id)"`), nil)
	recs, err := read(t, s, nil)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, json.Number("9007199254740993"), recs[0].Fields["id"], "no precision lost")
	assert.Equal(t, json.Number("0.1000000000000000055511151231257827"), recs[0].Fields["amount"])
	assert.Equal(t, engine.Position{Page: "1", Key: "9007199254740993"}, recs[0].Pos)
	assert.EqualError(t, recs[1].Err, "record 2 of page 1 is a string, not an object")
	assert.Equal(t, `"not an object"`, recs[1].Raw)
}

func TestDescribeAndPlanReadLeaveSecretsOut(t *testing.T) {
	s := mustLoad(t, `url = "https://user:pw@api.example.com/crm/search?hapikey=`+secretKey+`"
method = "POST"
body = { since = "{{ since }}", limit = 100 }
auth "api_key" {
  name  = "hapikey"
  value = env("KEY")
  in    = "query"
}`, authEnv)
	assert.Equal(t, "rest POST https://api.example.com/crm/search?hapikey=redacted", s.Describe())
	assert.Equal(t, `POST https://api.example.com/crm/search?hapikey=redacted {"limit":100,"since":"2024-06-01T00:00:00Z"}`,
		s.PlanRead(engine.ReadOptions{Since: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}))
}

func TestProgressReportsTheDeclaredTotal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		writeJSON(w, 200, map[string]any{"items": items(2*p-1, min(2*p, 5)), "total": 5})
	}))
	defer srv.Close()
	s := mustLoad(t, lines(`url = "`+srv.URL+`/x"`, `records = "items"
paginate "page" {
  total = "body.total"
}`), nil)
	var mu sync.Mutex
	var got [][2]int64
	err := s.Read(context.Background(), engine.ReadOptions{Progress: func(done, total int64) {
		mu.Lock()
		got = append(got, [2]int64{done, total})
		mu.Unlock()
	}}, func(engine.Record) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, [][2]int64{{2, 5}, {4, 5}, {5, 5}}, got)
}

// TestFetchesAheadOfTheEngine holds the first record's emit until the server
// has been asked for page 2: without fetching ahead, that never happens.
func TestFetchesAheadOfTheEngine(t *testing.T) {
	page2 := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") == "p2" {
			once.Do(func() { close(page2) })
		}
		twoPages(w, r)
	}))
	defer srv.Close()
	s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging), nil)
	first := true
	err := s.Read(context.Background(), engine.ReadOptions{}, func(engine.Record) error {
		if first {
			first = false
			select {
			case <-page2:
			case <-time.After(5 * time.Second):
				t.Error("page 2 was not requested while page 1 was being emitted")
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// TestEmitErrorStopsTheFetcher returns an error from emit: Read returns it
// and fetches no further pages.
func TestEmitErrorStopsTheFetcher(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		n, _ := strconv.Atoi(r.URL.Query().Get("after"))
		writeJSON(w, 200, map[string]any{"results": items(n+1, n+1), "paging": map[string]any{"next": map[string]any{"after": strconv.Itoa(n + 1)}}})
	}))
	defer srv.Close()
	s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging), nil)
	stop := assert.AnError
	err := s.Read(context.Background(), engine.ReadOptions{}, func(engine.Record) error { return stop })
	require.ErrorIs(t, err, stop)
	srv.Close() // waits for any request in flight: every one made is counted
	assert.LessOrEqual(t, rec.count(), 3)
}
