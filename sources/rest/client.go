package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/etl-dev/etl/engine"
)

// Client sends HTTP requests the way every HTTP-based source should: it
// authenticates them, keeps to the client-side rate budget and to the
// server's rate-limit headers, retries what is worth retrying with
// exponential backoff and jitter, and reports failures without secrets.
//
// Build one with NewClient from the decoded auth, rate_limit and retry
// blocks; it is safe for concurrent use. Every error it returns and every
// line it logs has been passed through Redact.
type Client struct {
	http     *http.Client
	auth     authenticator // nil: no auth
	throttle *throttle
	retry    retryPolicy
	timeout  time.Duration // per attempt, body included
	maxBody  int64         // most bytes of a body read whole
	log      *slog.Logger
	secrets  *engine.Redactor
	// sensitive names headers and query parameters that carry secrets:
	// stripped on a redirect to another host, masked in printed URLs.
	sensitiveHeaders []string
	sensitiveParams  []string
	authSecrets      []string
	// sleep waits d or until ctx is done.
	sleep func(ctx context.Context, d time.Duration) error
}

// ClientOptions configures NewClient with the built auth, rate_limit and
// retry blocks (AuthConfig.Build, RateLimitConfig.Build, RetryConfig.Build);
// nil ones mean no auth, no client-side budget and DefaultRetry.
type ClientOptions struct {
	Auth      *Authenticator
	RateLimit *RateLimit
	// Budget, when not nil, is a rate budget shared with other clients
	// (those of every pipeline on one connection, see SharedBudget); it
	// takes the place of RateLimit.
	Budget *Budget
	Retry  *Retry
	// Timeout bounds one attempt, reading the body included; default 30s.
	Timeout time.Duration
	// Logger receives retry and throttling messages; nil discards them.
	Logger *slog.Logger
	// Transport is the round tripper; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// MaxBody bounds a response body that Do reads whole; 0 means
	// DefaultMaxPageSize. Open's streamed bodies are not bounded here.
	MaxBody int64
	// SensitiveHeaders names request headers, besides the auth block's,
	// that carry credentials (a signature computed per request): they are
	// dropped on a redirect to another host, as Authorization always is.
	SensitiveHeaders []string
}

// DefaultTimeout bounds one attempt of a request when no timeout is set.
const DefaultTimeout = 30 * time.Second

// NewClient returns a client for the given blocks.
func NewClient(opts ClientOptions) *Client {
	c := &Client{
		timeout:          opts.Timeout,
		secrets:          engine.NewRedactor(),
		sleep:            sleepCtx,
		log:              opts.Logger,
		sensitiveHeaders: append([]string(nil), opts.SensitiveHeaders...),
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	c.maxBody = opts.MaxBody
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxPageSize
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if opts.Retry != nil {
		c.retry = opts.Retry.policy()
	} else {
		c.retry = DefaultRetry().policy()
	}
	if opts.Budget != nil {
		c.throttle = opts.Budget.t
	} else {
		c.throttle = newThrottle(opts.RateLimit)
	}
	if opts.Auth != nil {
		c.auth = opts.Auth.impl
		c.secrets.Add(opts.Auth.secrets...)
		c.authSecrets = opts.Auth.secrets
		c.sensitiveHeaders = append(c.sensitiveHeaders, opts.Auth.headers...)
		c.sensitiveParams = opts.Auth.params
		if o, ok := c.auth.(*oauth2Auth); ok {
			o.client = c
		}
	}
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport
	}
	c.http = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c
}

// WithLogger returns a shallow copy of c that logs to l (a run's logger).
func (c *Client) WithLogger(l *slog.Logger) *Client {
	if l == nil {
		return c
	}
	cc := *c
	cc.log = l
	return &cc
}

// AddSecret makes s one of the values Redact removes (a token obtained at
// run time, a password read from a file). Values shorter than 4 bytes are
// ignored.
func (c *Client) AddSecret(s string) { c.secrets.Add(s) }

// Redact returns s with every secret the client knows replaced by
// "[redacted]", in every form (percent-encoded, base64, JSON-escaped: see
// engine.Redactor), and every URL's password removed.
func (c *Client) Redact(s string) string { return c.secrets.Redact(s) }

// Secrets returns the client's credentials known when it was built (the
// auth block's values), for engine.SecretHolder.
func (c *Client) Secrets() []string { return append([]string(nil), c.authSecrets...) }

// SafeURL renders u for messages: user info dropped, the values of
// query parameters that carry secrets masked, and known secrets redacted.
func (c *Client) SafeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return c.Redact(u)
	}
	p.User = nil
	if len(c.sensitiveParams) > 0 && p.RawQuery != "" {
		q := p.Query()
		for _, name := range c.sensitiveParams {
			if q.Has(name) {
				q.Set(name, "redacted")
			}
		}
		p.RawQuery = q.Encode()
	}
	return c.Redact(p.String())
}

// Request is one logical request; the client may send it several times.
type Request struct {
	Method string
	URL    string // without auth: the client adds it
	Header http.Header
	Body   []byte // sent as is on every attempt; nil for none
	// Label names the request in errors and logs, e.g. "page 3".
	Label string
	// Headers, when set, is called before every attempt, and the headers it
	// returns are set on that attempt over Header: for values that must be
	// fresh on a retry too, such as a signature over the current time.
	Headers func() (http.Header, error)
}

// Response is a completed response whose status was 2xx.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	URL    string // the URL that answered (after redirects), without secrets
}

// StatusError is a response the client does not retry (most 4xx), or the
// last of the retried ones. Its message carries the method, the URL without
// secrets, the status and an excerpt of the body, redacted.
type StatusError struct {
	Method  string
	URL     string // without secrets
	Status  int
	Excerpt string // the start of the body, redacted
	Label   string
	// Body is the response body, redacted, cut at 64 KiB: for sources that
	// read a structured error from it (an OData error document).
	Body string
}

func (e *StatusError) Error() string {
	var b strings.Builder
	if e.Label != "" {
		b.WriteString(e.Label + ": ")
	}
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if e.Excerpt != "" {
		b.WriteString(": " + e.Excerpt)
	}
	return b.String()
}

// excerptLen is how much of an error body a StatusError quotes.
const excerptLen = 300

// errorBodyLen is how much of an error body a StatusError keeps in Body.
const errorBodyLen = 64 << 10

// Do sends req, waiting for the rate budget first, and returns the 2xx
// response with its body read. It retries 429 (honouring Retry-After), 408,
// 423, 5xx, timeouts and connection errors up to the retry policy's
// attempts and max_wait; a 401 with oauth2 auth refreshes the token and is
// sent once more. Any other status is a *StatusError.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	resp, err := c.do(ctx, req, true)
	if err != nil {
		return nil, c.redactErr(err)
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, req *Request, withAuth bool) (*Response, error) {
	return c.doWith(ctx, req, withAuth, c.attempt)
}

// doWith is do with the way one attempt is made.
func (c *Client) doWith(ctx context.Context, req *Request, withAuth bool, try func(context.Context, *Request, bool) (*Response, error)) (*Response, error) {
	var (
		waited    time.Duration
		refreshed bool
		lastErr   error
	)
	label := req.Label
	for attempt := 1; ; attempt++ {
		if err := c.throttle.wait(ctx, c.sleep); err != nil {
			return nil, err
		}
		resp, err := try(ctx, req, withAuth)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var se *StatusError
		if withAuth && errors.As(err, &se) && se.Status == http.StatusUnauthorized && !refreshed {
			if r, ok := c.auth.(refresher); ok {
				refreshed = true
				r.invalidate()
				c.log.Warn("request unauthorized; refreshing the token and trying again", "request", label, "url", se.URL)
				attempt--
				continue
			}
		}
		wait, retry := c.retry.classify(err, attempt)
		if !retry {
			return nil, err
		}
		lastErr = err
		if attempt >= c.retry.attempts {
			return nil, fmt.Errorf("gave up after %d attempts: %w", attempt, lastErr)
		}
		if waited+wait > c.retry.maxWait {
			if retryAfterOf(err) > 0 {
				return nil, fmt.Errorf("server asks to wait %s, beyond retry max_wait %s: %w", wait.Round(time.Millisecond), c.retry.maxWait, lastErr)
			}
			return nil, fmt.Errorf("gave up after %d attempts and %s of retry max_wait %s: %w", attempt, waited.Round(time.Millisecond), c.retry.maxWait, lastErr)
		}
		c.log.Warn("request failed; retrying", "request", label, "attempt", attempt, "wait", wait.Round(time.Millisecond), "error", c.Redact(err.Error()))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
		waited += wait
	}
}

// attempt sends the request once and reads the whole body.
func (c *Client) attempt(ctx context.Context, req *Request, withAuth bool) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, safe, err := c.send(ctx, actx, req, withAuth)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return nil, &transportError{method: req.Method, url: safe, err: fmt.Errorf("read body after %d bytes: %w", len(b), unwrapURLError(err)), timeout: actx.Err() != nil && ctx.Err() == nil}
	}
	if int64(len(b)) > c.maxBody {
		// Not retried: the same page would come back as large.
		return nil, fmt.Errorf("%s %s: the response body is larger than max_page_size (%s); raise max_page_size, or ask for fewer records per page", req.Method, safe, FormatSize(c.maxBody))
	}
	return c.response(req, res, safe, b)
}

// send sends the request once under actx (ctx with the attempt's
// deadline) and returns the response with its body unread.
func (c *Client) send(ctx, actx context.Context, req *Request, withAuth bool) (*http.Response, string, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(actx, req.Method, req.URL, body)
	if err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", req.Method, c.SafeURL(req.URL), err)
	}
	for k, vs := range req.Header {
		hr.Header[k] = append([]string(nil), vs...)
	}
	if req.Headers != nil {
		h, err := req.Headers()
		if err != nil {
			return nil, "", fmt.Errorf("%s %s: headers: %w", req.Method, c.SafeURL(req.URL), err)
		}
		for k, vs := range h {
			hr.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
		}
	}
	if req.Body != nil && hr.Header.Get("Content-Type") == "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if hr.Header.Get("Accept") == "" {
		hr.Header.Set("Accept", "application/json")
	}
	if withAuth && c.auth != nil {
		if err := c.auth.apply(ctx, hr); err != nil {
			return nil, "", fmt.Errorf("authenticate: %w", err)
		}
	}
	safe := c.SafeURL(req.URL)
	res, err := c.http.Do(hr)
	if err != nil {
		return nil, safe, &transportError{method: req.Method, url: safe, err: unwrapURLError(err), timeout: actx.Err() != nil && ctx.Err() == nil}
	}
	c.throttle.observe(res.Header, c.log)
	return res, safe, nil
}

// response turns a response whose body b has been read into a Response, or
// a *StatusError when its status is not 2xx.
func (c *Client) response(req *Request, res *http.Response, safe string, b []byte) (*Response, error) {
	final := safe
	if res.Request != nil && res.Request.URL != nil {
		final = c.SafeURL(res.Request.URL.String())
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		red := c.Redact(string(b))
		full := red
		if len(full) > errorBodyLen {
			full = full[:errorBodyLen]
		}
		return nil, withRetryAfter(&StatusError{
			Method:  req.Method,
			URL:     final,
			Status:  res.StatusCode,
			Excerpt: excerpt(red),
			Label:   req.Label,
			Body:    full,
		}, res.Header)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b, URL: final}, nil
}

// Open sends req as Do does, retrying until a 2xx response's headers
// arrive, and returns that response with its body unread (Response.Body is
// nil): the caller streams it from the ReadCloser and must close it. The
// client's timeout bounds the wait for the headers, not the reading; a body
// cut short while the caller reads it is the caller's error. Open is for
// responses too large to hold in memory (a 100 MB XML export).
func (c *Client) Open(ctx context.Context, req *Request) (*Response, io.ReadCloser, error) {
	var rc io.ReadCloser
	resp, err := c.doWith(ctx, req, true, func(ctx context.Context, req *Request, withAuth bool) (*Response, error) {
		actx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(c.timeout, cancel)
		res, safe, err := c.send(ctx, actx, req, withAuth)
		timedOut := !timer.Stop()
		if err != nil {
			cancel()
			return nil, err
		}
		if res.StatusCode < 200 || res.StatusCode > 299 || timedOut {
			defer cancel()
			defer res.Body.Close()
			b, err := io.ReadAll(io.LimitReader(res.Body, errorBodyLen))
			if err != nil || timedOut {
				if err == nil {
					err = context.DeadlineExceeded
				}
				return nil, &transportError{method: req.Method, url: safe, err: fmt.Errorf("read body after %d bytes: %w", len(b), unwrapURLError(err)), timeout: timedOut && ctx.Err() == nil}
			}
			return c.response(req, res, safe, b)
		}
		resp, _ := c.response(req, res, safe, nil)
		rc = &cancelBody{ReadCloser: res.Body, cancel: cancel}
		return resp, nil
	})
	if err != nil {
		return nil, nil, c.redactErr(err)
	}
	return resp, rc, nil
}

// cancelBody releases its request's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// statusWithRetryAfter carries the Retry-After of a response next to its
// StatusError, for the retry policy.
type statusWithRetryAfter struct {
	*StatusError
	retryAfter time.Duration
	hasAfter   bool
}

func (e *statusWithRetryAfter) Unwrap() error { return e.StatusError }

// withRetryAfter pairs se with the response's Retry-After, for classify.
func withRetryAfter(se *StatusError, h http.Header) error {
	d, ok := parseRetryAfter(h.Get("Retry-After"), time.Now())
	return &statusWithRetryAfter{StatusError: se, retryAfter: d, hasAfter: ok}
}

// retryAfterOf is the Retry-After an error carries, or 0.
func retryAfterOf(err error) time.Duration {
	var sr *statusWithRetryAfter
	if errors.As(err, &sr) && sr.hasAfter {
		return sr.retryAfter
	}
	return 0
}

// transportError is a request that got no complete response.
type transportError struct {
	method, url string
	err         error
	timeout     bool
}

func (e *transportError) Error() string {
	if e.timeout {
		return fmt.Sprintf("%s %s: timed out: %v", e.method, e.url, e.err)
	}
	return fmt.Sprintf("%s %s: %v", e.method, e.url, e.err)
}

func (e *transportError) Unwrap() error { return e.err }

// unwrapURLError drops net/http's *url.Error wrapper, whose message holds
// the full URL (secrets in the query included).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func excerpt(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > excerptLen {
		cut := excerptLen
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// redactErr passes an error's message through Redact, keeping the chain
// for errors.As.
func (c *Client) redactErr(err error) error {
	msg := err.Error()
	red := c.Redact(msg)
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// checkRedirect follows up to 10 redirects and strips every header that
// carries a credential when the redirect leaves the original host.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
			req.Header.Del(h)
		}
		for _, h := range c.sensitiveHeaders {
			req.Header.Del(h)
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// isTransient reports whether a transport error is worth another attempt:
// timeouts, refused or reset connections, and bodies cut short.
func isTransient(err error) bool {
	var te *transportError
	if !errors.As(err, &te) {
		return false
	}
	if te.timeout {
		return true
	}
	var ne net.Error
	if errors.As(te.err, &ne) {
		return true
	}
	if errors.Is(te.err, io.ErrUnexpectedEOF) || errors.Is(te.err, io.EOF) {
		return true
	}
	var oe *net.OpError
	if errors.As(te.err, &oe) {
		return true
	}
	msg := te.err.Error()
	for _, s := range []string{"connection reset", "connection refused", "broken pipe", "EOF", "server closed", "transport connection broken", "timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// jitter returns a duration uniformly in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}
