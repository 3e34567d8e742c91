package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRateLimitPacesBurstOne checks the token bucket's schedule without a
// clock: the delays the throttle's limiter computes for requests asked for
// all at one instant. With burst = 1 each request waits one slot (per /
// requests) more than the last; a larger burst lets that many go at once
// first. The sliding window alone would let `requests` go at once.
func TestRateLimitPacesBurstOne(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	slot := 100 * time.Millisecond
	cases := []struct {
		name  string
		burst int
		want  []time.Duration
	}{
		{"burst 1: one slot apart", 1, []time.Duration{0, slot, 2 * slot, 3 * slot, 4 * slot}},
		{"burst 3: three at once, then one slot apart", 3, []time.Duration{0, 0, 0, slot, 2 * slot}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := newThrottle(&RateLimit{Requests: 10, Per: time.Second, Burst: c.burst})
			require.NotNil(t, th.lim, "a rate_limit block makes a token bucket")
			var got []time.Duration
			for range c.want {
				got = append(got, th.lim.ReserveN(t0, 1).DelayFrom(t0))
			}
			assert.Equal(t, c.want, got)
		})
	}
}

// TestRateLimitWaitTakesATokenPerRequest checks that every request waits
// for the token bucket, through Client.Do against a real server: with 10
// requests per hour and burst 1, the second request's token is 6 minutes
// away, so under a 1-minute deadline it is refused at once (the limiter
// knows it cannot make it) and never sent. With burst 3, three go first.
// Without the bucket, the sliding window of 10 would let all of them go.
func TestRateLimitWaitTakesATokenPerRequest(t *testing.T) {
	for _, burst := range []int{1, 3} {
		var served atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			w.WriteHeader(http.StatusOK)
		}))
		c := NewClient(ClientOptions{RateLimit: &RateLimit{Requests: 10, Per: time.Hour, Burst: burst}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var errs []error
		for range burst + 2 {
			_, err := c.Do(ctx, &Request{Method: http.MethodGet, URL: srv.URL})
			errs = append(errs, err)
		}
		cancel()
		srv.Close()
		for i, err := range errs {
			if i < burst {
				assert.NoError(t, err, "burst %d: request %d goes at once", burst, i+1)
			} else {
				assert.ErrorContains(t, err, "rate limit", "burst %d: request %d waits for its token", burst, i+1)
			}
		}
		assert.Equal(t, int64(burst), served.Load(), "burst %d: the refused requests were never sent", burst)
	}
}
