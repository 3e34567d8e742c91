package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

// entityPipeline is a pipeline on connection "api" reading path.
func entityPipeline(name, path string) string {
	return fmt.Sprintf(`pipeline %q {
  system = "api"
  entity = %q
  source "rest" {
    connection = "api"
    url        = %q
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = %q
    mode  = "append"
  }
}
`, name, name, path, name)
}

// TestPipelinesOnOneConnectionShareItsRateBudget runs two pipelines on one
// connection at once against a server that records when each request
// arrived: between them they keep the connection's budget (5 requests in
// any second), where each alone would spend all of it.
func TestPipelinesOnOneConnectionShareItsRateBudget(t *testing.T) {
	const pages = 5
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page == 0 {
			page = 1
		}
		body := map[string]any{"results": []map[string]any{{"id": fmt.Sprintf("%s-%d", r.URL.Path, page)}}}
		if page < pages {
			body["next"] = page + 1
		}
		writeJSON(w, http.StatusOK, body)
	}))
	defer srv.Close()

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"connections/api.hcl": fmt.Sprintf(`connection "api" {
  base_url = %q
  records  = "results"
  paginate "cursor" {
    next  = "body.next"
    param = "page"
  }
  rate_limit {
    requests = 5
    per      = "1s"
  }
}
`, srv.URL),
		"deals.hcl":    entityPipeline("deals", "/deals"),
		"contacts.hcl": entityPipeline("contacts", "/contacts"),
	})

	reg := registry()
	l := engine.NewLoader(reg)
	var sources []engine.Source
	for _, f := range []string{"deals.hcl", "contacts.hcl"} {
		p, diags := l.Load(filepath.Join(dir, f))
		require.False(t, diags.HasErrors(), diags.Error())
		sources = append(sources, p.Source)
	}

	var wg sync.WaitGroup
	counts := make([]int, len(sources))
	errs := make([]error, len(sources))
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Read(context.Background(), engine.ReadOptions{}, func(engine.Record) error { counts[i]++; return nil })
		}()
	}
	wg.Wait()
	for i := range sources {
		require.NoError(t, errs[i])
		assert.Equal(t, pages, counts[i])
	}

	require.Len(t, arrivals, 2*pages)
	// In any window a little shorter than the second (network jitter can
	// only bring arrivals closer than the sends by a hair), at most 5.
	most := 0
	for i := range arrivals {
		n := 0
		for _, a := range arrivals[i:] {
			if a.Sub(arrivals[i]) < 900*time.Millisecond {
				n++
			}
		}
		most = max(most, n)
	}
	assert.LessOrEqual(t, most, 5, "requests in one second, both pipelines together: %v", arrivals)
}

// TestASourceOwnRateLimitIsItsOwnBudget: a source that declares its own
// rate_limit (HubSpot's search API has a budget apart from the list
// endpoints') does not take the connection's shared budget.
func TestASourceOwnRateLimitIsItsOwnBudget(t *testing.T) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"results": []map[string]any{{"id": "1"}}})
	}))
	defer srv.Close()
	dir := t.TempDir()
	own := `pipeline "own" {
  system = "api"
  entity = "own"
  source "rest" {
    connection = "api"
    url        = "/own"
    rate_limit {
      requests = 100
      per      = "1s"
    }
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = "own"
    mode  = "append"
  }
}
`
	writeFiles(t, dir, map[string]string{
		"connections/api.hcl": fmt.Sprintf(`connection "api" {
  base_url = %q
  records  = "results"
  rate_limit {
    requests = 1
    per      = "1h"
  }
}
`, srv.URL),
		"shared.hcl": entityPipeline("shared", "/shared"),
		"own.hcl":    own,
	})
	l := engine.NewLoader(registry())
	shared, diags := l.Load(filepath.Join(dir, "shared.hcl"))
	require.False(t, diags.HasErrors(), diags.Error())
	p, diags := l.Load(filepath.Join(dir, "own.hcl"))
	require.False(t, diags.HasErrors(), diags.Error())

	// The shared budget (1 an hour) is spent by the first pipeline; the
	// second, on its own budget, still reads at once, twice.
	_, err := read(t, shared.Source, nil)
	require.NoError(t, err)
	for range 2 {
		recs, err := read(t, p.Source, nil)
		require.NoError(t, err)
		assert.Len(t, recs, 1)
	}
	assert.Equal(t, 3, n)
}

// TestLiteralCredentialIsAWarning: etl validate warns on a credential
// written in the file, at its value; env() and file(), with or without a
// default, are not literals.
func TestLiteralCredentialIsAWarning(t *testing.T) {
	cases := []struct {
		name, auth string
		warn       string // the attribute warned about; "" for none
	}{
		{"basic user written in", `auth "basic" {
      username = "API"
      password = env("KEY")
    }`, "username"},
		{"bearer token written in", `auth "bearer" { token = "s3cr3t-t0ken" }`, "token"},
		{"a header written in", `auth "headers" { X-Auth-Key = "abcd1234" }`, "X-Auth-Key"},
		{"a template of a literal", `auth "bearer" { token = "tok-${"en"}" }`, "token"},
		{"env with a documented default", `auth "basic" {
      username = env("USER_NAME", "API")
      password = env("KEY")
    }`, ""},
		{"file", `auth "bearer" { token = file("token.txt") }`, ""},
		{"env inside a template", `auth "bearer" { token = "v1-${env("KEY")}" }`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := engine.NewLoader(registry())
			l.LookupEnv = func(string) (string, bool) { return "value", true }
			_, diags := l.LoadSource(filepath.Join(t.TempDir(), "p.hcl"), []byte(wrap("url = \"https://example.com/x\"\n"+tc.auth)))
			require.False(t, diags.HasErrors(), diags.Error())
			var warned []string
			for _, d := range diags {
				if d.Summary == "Literal credential" {
					warned = append(warned, d.Detail)
					assert.NotContains(t, d.Detail, "s3cr3t", "the warning does not repeat the secret")
				}
			}
			if tc.warn == "" {
				assert.Empty(t, warned)
				return
			}
			require.Len(t, warned, 1)
			assert.Contains(t, warned[0], tc.warn)
		})
	}
}
