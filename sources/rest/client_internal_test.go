package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"seconds", "7", 7 * time.Second, true},
		{"fractional seconds", " 1.5 ", 1500 * time.Millisecond, true},
		{"an HTTP date ahead", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"an HTTP date gone by waits nothing", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"empty", "", 0, false},
		{"negative", "-3", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, ok := parseRetryAfter(c.in, now)
			assert.Equal(t, c.ok, ok)
			assert.Equal(t, c.want, d)
		})
	}
}

func TestIsTransient(t *testing.T) {
	tr := func(err error) error { return &transportError{method: "GET", url: "https://h/x", err: err} }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"a timeout", &transportError{err: context.DeadlineExceeded, timeout: true}, true},
		{"a refused connection", tr(&net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{"a body cut short", tr(fmt.Errorf("read body: %w", io.ErrUnexpectedEOF)), true},
		{"a reset named in text", tr(errors.New("read tcp: connection reset by peer")), true},
		{"a broken HTTP/2 stream", tr(errors.New("http2: server closed the stream")), true},
		{"any other transport error", tr(errors.New("tls: bad certificate")), false},
		{"not a transport error", errors.New("connection reset"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, isTransient(c.err))
		})
	}
}

func TestExcerptIsShortOneLineAndValidUTF8(t *testing.T) {
	got := excerpt("  first\n\tline " + strings.Repeat("é", 400))
	assert.True(t, utf8.ValidString(got), "cut on a rune boundary")
	assert.True(t, strings.HasPrefix(got, "first line éé"), "blanks collapsed: %q", got[:20])
	assert.True(t, strings.HasSuffix(got, "…"))
	assert.LessOrEqual(t, len(got), excerptLen+len("…"))
	assert.Equal(t, "short body", excerpt("short body"))
}

// TestOpenStreamsTheBodyAfterRetrying: Open retries a 503 like Do, then
// hands over the 2xx body unread; a 404 is a StatusError with an excerpt
// of its body, redacted; closing the body releases the request.
func TestOpenStreamsTheBodyAfterRetrying(t *testing.T) {
	const token = "tok-open-secret"
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/missing":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "no such export for %s", r.Header.Get("Authorization"))
		case n.Add(1) == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, strings.Repeat("<row/>", 1000))
		}
	}))
	defer srv.Close()
	auth := &Authenticator{impl: &headerAuth{values: map[string]string{"Authorization": "Bearer " + token}}, secrets: []string{token}, headers: []string{"Authorization"}}
	c := NewClient(ClientOptions{Auth: auth, Retry: &Retry{Attempts: 3, MaxWait: time.Minute, Backoff: time.Second, MaxBackoff: time.Second}})
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }

	resp, body, err := c.Open(context.Background(), &Request{Method: http.MethodGet, URL: srv.URL + "/export", Label: "export"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.Status)
	assert.Nil(t, resp.Body, "the body is the caller's to stream")
	b, err := io.ReadAll(body)
	require.NoError(t, err)
	require.NoError(t, body.Close())
	assert.Equal(t, 6000, len(b))
	assert.Equal(t, int64(2), n.Load(), "the 503 was retried")
	assert.NotEmpty(t, waits, "after a backoff")

	_, _, err = c.Open(context.Background(), &Request{Method: http.MethodGet, URL: srv.URL + "/missing", Label: "export"})
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusNotFound, se.Status)
	assert.Contains(t, err.Error(), "export: GET "+srv.URL+"/missing: 404 Not Found: no such export for Bearer [redacted]")
	assert.NotContains(t, err.Error(), token)
}
