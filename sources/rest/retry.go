package rest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// RetryConfig is the schema of a `retry {}` block.
type RetryConfig struct {
	// Attempts is how many times a request is sent at most, the first time
	// included; default 6.
	Attempts int `hcl:"attempts,optional"`
	// MaxWait bounds the total time one request spends waiting between
	// attempts, Retry-After included; default "2m".
	MaxWait string `hcl:"max_wait,optional"`
	// Backoff is the first wait when the server gives none; it doubles each
	// attempt up to MaxBackoff, with jitter. Default "1s".
	Backoff string `hcl:"backoff,optional"`
	// MaxBackoff caps one exponential wait; default "30s".
	MaxBackoff string `hcl:"max_backoff,optional"`

	AttemptsRange   hcl.Range `hcl:"attempts,attr_value_range"`
	MaxWaitRange    hcl.Range `hcl:"max_wait,attr_value_range"`
	BackoffRange    hcl.Range `hcl:"backoff,attr_value_range"`
	MaxBackoffRange hcl.Range `hcl:"max_backoff,attr_value_range"`
	DefRange        hcl.Range `hcl:",def_range"`
}

// Retry is a validated retry policy; build it with RetryConfig.Build.
type Retry struct {
	Attempts   int
	MaxWait    time.Duration
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultRetry is the policy of a source without a retry block: 6 attempts,
// 2 minutes of waiting at most, backoff from 1s doubling to 30s.
func DefaultRetry() *Retry {
	return &Retry{Attempts: 6, MaxWait: 2 * time.Minute, Backoff: time.Second, MaxBackoff: 30 * time.Second}
}

// Build validates the block (nil: DefaultRetry) and returns the policy.
func (rc *RetryConfig) Build() (*Retry, hcl.Diagnostics) {
	r := DefaultRetry()
	if rc == nil {
		return r, nil
	}
	var diags hcl.Diagnostics
	if rc.AttemptsRange != (hcl.Range{}) {
		if rc.Attempts < 1 || rc.Attempts > 100 {
			diags = append(diags, errorAt(rc.AttemptsRange, "Invalid attempts", fmt.Sprintf("attempts is %d; it counts the first try too and must be between 1 and 100 (1: never retry).", rc.Attempts)))
		} else {
			r.Attempts = rc.Attempts
		}
	}
	dur := func(s string, rng hcl.Range, name string, into *time.Duration) {
		if rng == (hcl.Range{}) {
			return
		}
		d, diag := parseDuration(s, rng, name)
		if diag != nil {
			diags = append(diags, diag)
			return
		}
		*into = d
	}
	dur(rc.MaxWait, rc.MaxWaitRange, "max_wait", &r.MaxWait)
	dur(rc.Backoff, rc.BackoffRange, "backoff", &r.Backoff)
	dur(rc.MaxBackoff, rc.MaxBackoffRange, "max_backoff", &r.MaxBackoff)
	if r.MaxBackoff < r.Backoff && !diags.HasErrors() {
		diags = append(diags, errorAt(rc.MaxBackoffRange, "Invalid max_backoff", fmt.Sprintf("max_backoff (%s) is shorter than backoff (%s); make it at least as long.", r.MaxBackoff, r.Backoff)))
	}
	return r, diags
}

type retryPolicy struct {
	attempts            int
	maxWait             time.Duration
	backoff, maxBackoff time.Duration
}

func (r *Retry) policy() retryPolicy {
	return retryPolicy{attempts: r.Attempts, maxWait: r.MaxWait, backoff: r.Backoff, maxBackoff: r.MaxBackoff}
}

// retryableStatus lists the statuses worth another attempt besides 5xx:
// 408 Request Timeout, 423 Locked (HubSpot: wait at least 2s), 425 Too
// Early, 429, and HubSpot's 477 Migration In Progress (with Retry-After).
var retryableStatus = map[int]bool{408: true, 423: true, 425: true, 429: true, 477: true}

// minLockedWait is the least wait after HubSpot's 423 Locked.
const minLockedWait = 2 * time.Second

// classify says whether err is worth another attempt and how long to wait
// first. attempt is the 1-based attempt that failed.
func (p retryPolicy) classify(err error, attempt int) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		if !retryableStatus[se.Status] && se.Status < 500 {
			return 0, false
		}
		if se.Status == http.StatusNotImplemented || se.Status == http.StatusHTTPVersionNotSupported {
			return 0, false
		}
		// HubSpot's daily budget will not come back within max_wait.
		if se.Status == http.StatusTooManyRequests && strings.Contains(se.Excerpt, `"policyName":"DAILY"`) {
			return 0, false
		}
		d := retryAfterOf(err)
		if d <= 0 {
			d = p.exponential(attempt)
		}
		if se.Status == http.StatusLocked && d < minLockedWait {
			d = minLockedWait
		}
		return d, true
	}
	if isTransient(err) {
		return p.exponential(attempt), true
	}
	return 0, false
}

// exponential is the wait before attempt+1: backoff·2^(attempt-1), capped
// at max_backoff, with jitter in its upper half.
func (p retryPolicy) exponential(attempt int) time.Duration {
	d := p.backoff
	for i := 1; i < attempt && d < p.maxBackoff; i++ {
		d *= 2
	}
	if d > p.maxBackoff {
		d = p.maxBackoff
	}
	return jitter(d)
}

// parseDuration reads a Go duration ("500ms", "10s", "2m") that must be
// positive.
func parseDuration(s string, rng hcl.Range, name string) (time.Duration, *hcl.Diagnostic) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errorAt(rng, "Invalid duration", fmt.Sprintf("%s is %q; write a positive duration such as \"500ms\", \"10s\" or \"2m\".", name, s))
	}
	return d, nil
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	r := rng
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &r}
}
