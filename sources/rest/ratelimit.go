package rest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/time/rate"

	"github.com/etl-dev/etl/engine"
)

// RateLimitConfig is the schema of a `rate_limit {}` block: at most
// Requests requests in any window of Per.
type RateLimitConfig struct {
	Requests int    `hcl:"requests"`
	Per      string `hcl:"per"`
	// Burst lets that many requests go at once before the steady rate
	// applies; default 1, which keeps every window of Per within the budget.
	Burst int `hcl:"burst,optional"`

	DefRange      hcl.Range `hcl:",def_range"`
	RequestsRange hcl.Range `hcl:"requests,attr_value_range"`
	PerRange      hcl.Range `hcl:"per,attr_value_range"`
	BurstRange    hcl.Range `hcl:"burst,attr_value_range"`
}

// RateLimit is a validated client-side request budget.
type RateLimit struct {
	Requests int
	Per      time.Duration
	Burst    int
}

// Build validates the block; a nil block gives a nil budget (no limit).
func (rc *RateLimitConfig) Build() (*RateLimit, hcl.Diagnostics) {
	if rc == nil {
		return nil, nil
	}
	var diags hcl.Diagnostics
	rl := &RateLimit{Requests: rc.Requests, Burst: 1}
	if rc.Requests < 1 {
		diags = append(diags, errorAt(rc.RequestsRange, "Invalid requests", fmt.Sprintf("requests is %d; the budget needs at least 1 request per period.", rc.Requests)))
	}
	d, diag := parseDuration(rc.Per, rc.PerRange, "per")
	if diag != nil {
		diags = append(diags, diag)
	}
	rl.Per = d
	if rc.BurstRange != (hcl.Range{}) {
		if rc.Burst < 1 || rc.Burst > rc.Requests {
			diags = append(diags, errorAt(rc.BurstRange, "Invalid burst", fmt.Sprintf("burst is %d; it must be between 1 and requests (%d).", rc.Burst, rc.Requests)))
		} else {
			rl.Burst = rc.Burst
		}
	}
	return rl, diags
}

// Budget is a request budget clients share: the client-side rate limit and
// what the server's rate-limit headers last said (a 429's Retry-After, an
// X-HubSpot-RateLimit-Remaining near 0), so one pipeline's answer from the
// server slows every pipeline on the account.
type Budget struct{ t *throttle }

// SharedBudget returns the rate budget of a source whose rate_limit block
// is rc (built as rl): when the block comes from the source's connection,
// the one budget every pipeline on that connection shares in this process;
// otherwise nil, and the client keeps a budget of its own. Across
// processes, the server's rate-limit headers are the shared budget, and
// each client honours them.
func SharedBudget(pc engine.PluginContext, rc *RateLimitConfig, rl *RateLimit) *Budget {
	if pc.Connection == nil || (rc != nil && !pc.Connection.Declares(rc.DefRange)) {
		return nil
	}
	key := "rest.budget"
	if rl != nil {
		key = fmt.Sprintf("rest.budget %d/%s burst %d", rl.Requests, rl.Per, rl.Burst)
	}
	return pc.Connection.Shared(key, func() any { return &Budget{t: newThrottle(rl)} }).(*Budget)
}

// throttle paces requests: the client-side budget first, then whatever the
// server's rate-limit headers last said.
//
// The budget is a token bucket (x/time/rate) for the steady pace, plus a
// sliding window over the send times of the last `requests` requests: a
// token bucket alone lets a late timer be followed by an on-time one, which
// puts requests+1 requests in some window of `per`, and servers count
// rolling windows. The window is widened by windowMargin of per to absorb
// network jitter.
type throttle struct {
	lim    *rate.Limiter // nil: no client-side budget
	per    time.Duration // window length, margin included
	window []time.Time   // ring of the last len(window) send times
	next   int           // the ring's oldest entry

	mu        sync.Mutex
	notBefore time.Time // the server asked for a pause until then
	lastSend  time.Time // when the last request went
}

// windowMargin widens the sliding window by this fraction of per.
const windowMargin = 0.01

func newThrottle(rl *RateLimit) *throttle {
	t := &throttle{}
	if rl != nil && rl.Requests > 0 && rl.Per > 0 {
		t.lim = rate.NewLimiter(rate.Every(rl.Per/time.Duration(rl.Requests)), rl.Burst)
		t.per = rl.Per + time.Duration(float64(rl.Per)*windowMargin)
		t.window = make([]time.Time, rl.Requests)
	}
	return t
}

// wait blocks until the next request may go.
func (t *throttle) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	if t.lim != nil {
		if err := t.lim.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("rate limit: %w", err)
		}
	}
	t.mu.Lock()
	now := time.Now()
	at := now
	if t.notBefore.After(at) {
		at = t.notBefore
	}
	slot := -1
	if t.window != nil {
		if free := t.window[t.next].Add(t.per); free.After(at) {
			at = free
		}
		slot = t.next
		t.window[slot] = at
		t.next = (t.next + 1) % len(t.window)
	}
	t.mu.Unlock()
	if err := sleep(ctx, at.Sub(now)); err != nil {
		return err
	}
	t.mu.Lock()
	sent := time.Now()
	t.lastSend = sent
	if slot >= 0 && sent.After(t.window[slot]) {
		// A stalled goroutine sends later than planned: count the request
		// from when it really goes, or a window could hold one too many.
		t.window[slot] = sent
	}
	t.mu.Unlock()
	return nil
}

// pause makes the next request wait at least d from now.
func (t *throttle) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	t.pauseUntil(time.Now().Add(d))
}

// space makes the next request go at least d after the last one went.
func (t *throttle) space(d time.Duration) {
	t.mu.Lock()
	last := t.lastSend
	t.mu.Unlock()
	t.pauseUntil(last.Add(d))
}

func (t *throttle) pauseUntil(until time.Time) {
	t.mu.Lock()
	if until.After(t.notBefore) {
		t.notBefore = until
	}
	t.mu.Unlock()
}

// maxServerPause caps a pause read from headers, so a misread header cannot
// stall a run for hours.
const maxServerPause = 5 * time.Minute

// observe reads a response's rate-limit headers and slows down when the
// server says the budget is (nearly) spent:
//
//   - HubSpot: X-HubSpot-RateLimit-Remaining with -Interval-Milliseconds and
//     -Max. Once fewer than a tenth of Max remain, requests go no faster than
//     Max per interval: each goes at least interval/Max after the last. The
//     window rolls, so a budget used to the full reads 0 remaining all the
//     time; pacing, not pausing, keeps it full without a 429. The daily
//     budget (-Daily-Remaining 0) is left to the 429 that follows.
//   - X-RateLimit-Remaining / X-RateLimit-Reset (seconds until the reset, or
//     a Unix time): at 0 the next request waits for the reset.
func (t *throttle) observe(h http.Header, log *slog.Logger) {
	if rem, ok := headerInt(h, "X-HubSpot-RateLimit-Remaining"); ok {
		interval, iok := headerInt(h, "X-HubSpot-RateLimit-Interval-Milliseconds")
		max, mok := headerInt(h, "X-HubSpot-RateLimit-Max")
		if iok && mok && interval > 0 && max > 0 {
			if rem*10 < max {
				slot := time.Duration(interval) * time.Millisecond / time.Duration(max)
				log.Debug("server rate budget nearly spent; pacing", "remaining", rem, "spacing", slot)
				t.space(slot)
			}
		}
		return
	}
	rem, ok := headerInt(h, "X-RateLimit-Remaining")
	if !ok || rem > 0 {
		return
	}
	reset, ok := headerInt(h, "X-RateLimit-Reset")
	if !ok {
		return
	}
	var d time.Duration
	if reset > 1_000_000_000 { // a Unix time
		d = time.Until(time.Unix(reset, 0))
	} else {
		d = time.Duration(reset) * time.Second
	}
	if d > maxServerPause {
		d = maxServerPause
	}
	log.Debug("server rate budget spent; pausing until its reset", "pause", d)
	t.pause(d)
}

func headerInt(h http.Header, name string) (int64, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(v, 64); ferr == nil {
			return int64(f), true
		}
		return 0, false
	}
	return n, true
}
