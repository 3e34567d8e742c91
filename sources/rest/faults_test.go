package rest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoPages answers page 1 with ids 1–2 and a cursor, page 2 with id 3.
func twoPages(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("after") == "" {
		writeJSON(w, 200, map[string]any{"results": items(1, 2), "paging": map[string]any{"next": map[string]any{"after": "p2"}}})
		return
	}
	writeJSON(w, 200, map[string]any{"results": items(3, 3)})
}

const cursorPaging = `records = "results"
paginate "cursor" {
  next  = "body.paging?.next?.after"
  param = "after"
}`

func TestRetries(t *testing.T) {
	tests := []struct {
		name string
		// fail answers request n (from 1) in its own way, or returns false
		// to let twoPages answer.
		fail     func(n int, w http.ResponseWriter, r *http.Request) bool
		extra    string // more source attributes
		wantErr  string // "" for success
		wantReqs int
		minTime  time.Duration
	}{
		{
			name: "429 with Retry-After waits that long",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 2 {
					w.Header().Set("Retry-After", "1")
					writeJSON(w, 429, map[string]any{"status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})
					return true
				}
				return false
			},
			wantReqs: 3,
			minTime:  900 * time.Millisecond,
		},
		{
			name: "429 without Retry-After backs off exponentially",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n <= 3 {
					writeJSON(w, 429, map[string]any{"status": "error", "message": "You have reached your secondly limit.", "category": "RATE_LIMITS"})
					return true
				}
				return false
			},
			wantReqs: 5,
			minTime:  (5 + 10 + 20) * time.Millisecond / 2,
		},
		{
			name: "a burst of 502 and 503",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				switch n {
				case 1, 3:
					w.WriteHeader(http.StatusBadGateway)
					return true
				case 4:
					w.WriteHeader(http.StatusServiceUnavailable)
					return true
				}
				return false
			},
			wantReqs: 5,
		},
		{
			name: "408 is retried",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					w.WriteHeader(http.StatusRequestTimeout)
					return true
				}
				return false
			},
			wantReqs: 3,
		},
		{
			name: "a server that hangs past the timeout",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 1 {
					select {
					case <-r.Context().Done():
					case <-time.After(2 * time.Second):
					}
					return true
				}
				return false
			},
			extra:    `timeout = "100ms"`,
			wantReqs: 3,
			minTime:  100 * time.Millisecond,
		},
		{
			name: "a connection dropped mid-body",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 2 {
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Content-Length", "1000")
					w.WriteHeader(200)
					_, _ = w.Write([]byte(`{"results": [{"id": "3"`))
					w.(http.Flusher).Flush()
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
					return true
				}
				return false
			},
			wantReqs: 3,
		},
		{
			name: "every attempt fails",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n >= 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = w.Write([]byte("upstream down"))
					return true
				}
				return false
			},
			wantErr:  "gave up after 4 attempts: page 2: GET SRV/items?after=p2: 503 Service Unavailable: upstream down",
			wantReqs: 5,
		},
		{
			name: "Retry-After beyond max_wait fails at once",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			},
			wantErr:  "server asks to wait 1h0m0s, beyond retry max_wait 5s",
			wantReqs: 1,
		},
		{
			name: "HubSpot's daily limit is not retried",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				writeJSON(w, 429, map[string]any{"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT", "policyName": "DAILY"})
				return true
			},
			wantErr:  `429 Too Many Requests: {"errorType":"RATE_LIMIT","message":"You have reached your daily limit.","policyName":"DAILY","status":"error"}`,
			wantReqs: 1,
		},
		{
			name: "a 404 fails with the status, the URL and the body",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				writeJSON(w, 404, map[string]any{"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"})
				return true
			},
			wantErr:  `page 1: GET SRV/items: 404 Not Found: {"category":"OBJECT_NOT_FOUND","message":"resource not found","status":"error"}`,
			wantReqs: 1,
		},
		{
			name: "malformed JSON names the page",
			fail: func(n int, w http.ResponseWriter, r *http.Request) bool {
				if n == 2 {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(`{"results": [{"id": "3",}]}`))
					return true
				}
				return false
			},
			wantErr:  `page 2 (GET SRV/items?after=p2): response is not valid JSON (Content-Type "application/json"): invalid character '}' looking for beginning of object key string at byte 25`,
			wantReqs: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tt.fail(int(n.Add(1)), w, r) {
					twoPages(w, r)
				}
			}))
			defer srv.Close()
			s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging, tt.extra, fastRetry), nil)
			start := time.Now()
			recs, err := read(t, s, nil)
			took := time.Since(start)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), replaceSrv(tt.wantErr, srv.URL))
			} else {
				require.NoError(t, err)
				assert.Equal(t, []string{"1", "2", "3"}, ids(recs))
			}
			assert.Equal(t, tt.wantReqs, int(n.Load()))
			assert.GreaterOrEqual(t, took, tt.minTime)
		})
	}
}

func TestRateLimitKeepsTheBudget(t *testing.T) {
	const requests, per, pages = 10, 500 * time.Millisecond, 25
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.record(r)
		n, _ := strconv.Atoi(r.URL.Query().Get("after"))
		body := map[string]any{"results": items(n+1, n+1)}
		if n+1 < pages {
			body["paging"] = map[string]any{"next": map[string]any{"after": strconv.Itoa(n + 1)}}
		}
		writeJSON(w, 200, body)
	}))
	defer srv.Close()
	s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging,
		fmt.Sprintf(`rate_limit {
  requests = %d
  per      = "%s"
}`, requests, per)), nil)
	start := time.Now()
	recs, err := read(t, s, nil)
	took := time.Since(start)
	require.NoError(t, err)
	require.Len(t, recs, pages)

	// No window of `per` saw more than `requests` requests, as the server
	// saw them: its arrival times jitter on a loaded machine (one request
	// arriving late makes the next look early), so the window checked is
	// 80% of per. Without the limiter all 25 arrive within milliseconds.
	reqs := rec.all()
	window := per * 8 / 10
	for i := range reqs {
		inWindow := 0
		for j := i; j < len(reqs) && reqs[j].At.Sub(reqs[i].At) < window; j++ {
			inWindow++
		}
		assert.LessOrEqual(t, inWindow, requests, "requests in the %s from request %d", per, i+1)
	}
	// How much of the budget was used is a speed figure, measured by the
	// bench (case 7), not asserted here: a loaded machine starves the
	// test's goroutines. It is logged for the reader.
	budget := float64(requests) / per.Seconds()
	achieved := float64(len(reqs)-1) / reqs[len(reqs)-1].At.Sub(reqs[0].At).Seconds()
	t.Logf("achieved %.1f req/s of a %.0f req/s budget (%.0f%%) in %s", achieved, budget, 100*achieved/budget, took)
}

func TestServerRateLimitHeadersSlowDown(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		minGap  time.Duration // between consecutive requests
	}{
		{
			name: "HubSpot budget spent",
			headers: map[string]string{
				"X-HubSpot-RateLimit-Max": "10", "X-HubSpot-RateLimit-Remaining": "0",
				"X-HubSpot-RateLimit-Interval-Milliseconds": "1000",
			},
			minGap: 100 * time.Millisecond,
		},
		{
			name: "HubSpot budget nearly spent",
			headers: map[string]string{
				"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "5",
				"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
			},
			minGap: 100 * time.Millisecond,
		},
		{
			name:    "X-RateLimit reset in a second",
			headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"},
			minGap:  time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rec.record(r)
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				twoPages(w, r)
			}))
			defer srv.Close()
			s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging), nil)
			_, err := read(t, s, nil)
			require.NoError(t, err)
			reqs := rec.all()
			require.Len(t, reqs, 2)
			// The client waits minGap before the second request; the
			// server's arrival times may jitter by tens of ms on a loaded
			// machine, so half of it is asserted (without the slow-down the
			// gap is a few ms).
			assert.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), tt.minGap/2)
		})
	}
}
