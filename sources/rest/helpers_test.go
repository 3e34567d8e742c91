package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sources/rest"
)

// registry holds the rest source only.
func registry() *engine.Registry {
	r := engine.NewRegistry()
	rest.Register(r)
	return r
}

// wrap puts a source block into a pipeline the loader accepts.
func wrap(source string) string {
	return `pipeline "t" {
  system = "test"
  entity = "t"
  source "rest" {
` + source + `
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
`
}

// load builds the source from the body of a `source "rest" {}` block
// through the engine's loader, with env as the environment.
func load(t testing.TB, source string, env map[string]string) (*rest.Source, hcl.Diagnostics) {
	t.Helper()
	l := engine.NewLoader(registry())
	l.Strict = true
	l.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, diags := l.LoadSource("pipeline.hcl", []byte(wrap(source)))
	if diags.HasErrors() {
		return nil, diags
	}
	s, ok := p.Source.(*rest.Source)
	require.True(t, ok)
	return s, diags
}

// mustLoad is load for a block that must be valid.
func mustLoad(t testing.TB, source string, env map[string]string) *rest.Source {
	t.Helper()
	s, diags := load(t, source, env)
	require.False(t, diags.HasErrors(), diags.Error())
	return s
}

// logBuffer is a concurrency-safe log sink the tests search for secrets.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// read reads every record of s, since being the incremental lower bound.
func read(t testing.TB, s engine.Source, since any) ([]engine.Record, error) {
	t.Helper()
	recs, _, err := readLogged(t, s, since)
	return recs, err
}

// readLogged is read that also returns what the source logged.
func readLogged(t testing.TB, s engine.Source, since any) ([]engine.Record, string, error) {
	t.Helper()
	var logs logBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []engine.Record
	err := s.Read(ctx, engine.ReadOptions{Since: since, Location: time.UTC, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, func(r engine.Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, logs.String(), err
}

// ids is the "id" field of each record, as text.
func ids(recs []engine.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, fmt.Sprint(r.Fields["id"]))
	}
	return out
}

// seenRequest is one request as a fake server saw it.
type seenRequest struct {
	Method string
	Path   string
	Query  map[string][]string
	Header http.Header
	Body   string
	At     time.Time
}

// recorder keeps the requests a fake server saw.
type recorder struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (r *recorder) record(req *http.Request) seenRequest {
	b, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(b))
	s := seenRequest{Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(), Header: req.Header.Clone(), Body: string(b), At: time.Now()}
	r.mu.Lock()
	r.reqs = append(r.reqs, s)
	r.mu.Unlock()
	return s
}

func (r *recorder) all() []seenRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seenRequest(nil), r.reqs...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fastRetry is a retry block with waits short enough for tests.
const fastRetry = `retry {
      attempts    = 4
      max_wait    = "5s"
      backoff     = "5ms"
      max_backoff = "20ms"
    }`

// q quotes s for HCL.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// lines joins HCL lines.
func lines(l ...string) string { return strings.Join(l, "\n") }

func urlValues(q map[string][]string) url.Values { return url.Values(q) }

// replaceSrv puts the server's URL where a want string says SRV.
func replaceSrv(s, srv string) string { return strings.ReplaceAll(s, "SRV", srv) }
