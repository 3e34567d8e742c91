package service_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statusPipelines writes five pipelines that end every way a run can:
// good (success), strict (failed: a reject past the default max_rejects of
// 0, one attempt), partial (a reject within max_rejects), masked (a reject
// whose reason quotes a masked field's value) and off (enabled = false).
func statusPipelines(t *testing.T, dir string) {
	t.Helper()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("rows.csv", "id,email\n1,ann@example.com\n2,bob@example.com\n-3,cy@example.com\n4,not-an-email\n5,dee@example.com\n")
	for _, p := range []struct{ name, extra, mapEmail string }{
		{"good", "", "nullif(record.email, 'not-an-email')"},
		{"strict", "max_attempts = 1", "nullif(record.email, 'not-an-email')"},
		{"partial", "max_rejects = 10", "nullif(record.email, 'not-an-email')"},
		{"masked", "max_rejects = 10\n  mask = [\"email\"]", "email(record.email)"},
		{"off", "enabled = false", "record.email"},
	} {
		check := `validate "positive_id" {
    check   = "id > 0"
    message = "id must be positive"
  }`
		if p.name == "good" || p.name == "masked" {
			check = ""
		}
		write(p.name+".hcl", fmt.Sprintf(`pipeline %q {
  system = "test"
  entity = %q
  %s
  source "csv" {
    path = "rows.csv"
  }
  map {
    id    = "int(record.id)"
    email = %q
  }
  %s
  sink "warehouse" {
    table = "t_%s"
    key   = ["id"]
  }
}
`, p.name, p.name, p.extra, p.mapEmail, check, p.name))
	}
}

// trigger posts like an API client: no form, so no CSRF token.
func trigger(t *testing.T, addr, name string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/pipelines/"+name+"/trigger", nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func historyStatus(t *testing.T, db *sql.DB) map[string][]string {
	out := map[string][]string{}
	for _, r := range readRuns(t, db) {
		out[r.Pipeline] = append(out[r.Pipeline], r.Status)
	}
	return out
}

// TestStatusPageMetricsAndTriggers runs one `etl serve` on SQLite, triggers
// every pipeline over HTTP, and checks: /metrics, parsed with Prometheus'
// text parser, counts what the sync history holds; the status page, in a
// real headless Chromium, shows every pipeline, the failed run's error and
// a reject's reason, and no value of a masked field; its Run now button
// (a CSRF-protected form) queues a run; forms without the token and
// cross-site posts are refused. A PNG screenshot is saved as an artifact.
func TestStatusPageMetricsAndTriggers(t *testing.T) {
	dir := t.TempDir()
	statusPipelines(t, dir)
	dbPath := filepath.Join(t.TempDir(), "etl.db")
	p := startServe(t, dir, "sqlite://"+dbPath, "--workers", "2")
	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()

	for _, name := range []string{"good", "strict", "partial", "masked"} {
		assert.Equal(t, http.StatusOK, trigger(t, p.addr, name, nil).StatusCode, name)
	}
	assert.Equal(t, http.StatusConflict, trigger(t, p.addr, "off", nil).StatusCode, "a disabled pipeline is not triggered")
	assert.Equal(t, http.StatusNotFound, trigger(t, p.addr, "nope", nil).StatusCode)
	assert.Equal(t, http.StatusForbidden, trigger(t, p.addr, "good", http.Header{"Sec-Fetch-Site": {"cross-site"}}).StatusCode,
		"a cross-site post is refused")
	form, err := http.PostForm("http://"+p.addr+"/pipelines/good/trigger", url.Values{"csrf": {"forged"}})
	require.NoError(t, err)
	form.Body.Close()
	assert.Equal(t, http.StatusForbidden, form.StatusCode, "a form without the page's token is refused")

	want := map[string][]string{"good": {"success"}, "strict": {"failed"}, "partial": {"partial"}, "masked": {"partial"}}
	waitFor(t, 60*time.Second, "the four runs", func() bool {
		got := historyStatus(t, db)
		for k, v := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				return false
			}
		}
		var waiting int
		_ = db.QueryRow(`SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled')`).Scan(&waiting)
		return waiting == 0
	})

	// /metrics against the history.
	resp, err := http.Get("http://" + p.addr + "/metrics")
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	value := func(family string, labels map[string]string) float64 {
		f, ok := families[family]
		require.True(t, ok, "metric %s", family)
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		return 0
	}
	for _, r := range readRuns(t, db) {
		l := map[string]string{"pipeline": r.Pipeline}
		assert.Equal(t, 1.0, value("etl_runs_total", map[string]string{"pipeline": r.Pipeline, "status": r.Status}), "runs of %s", r.Pipeline)
		for outcome, n := range map[string]int64{"created": r.Created, "updated": r.Updated, "unchanged": r.Unchanged,
			"rejected": r.Rejected, "failed": r.Failed, "skipped": r.Skipped} {
			assert.Equal(t, float64(n), value("etl_records_total", map[string]string{"pipeline": r.Pipeline, "outcome": outcome}), "%s of %s", outcome, r.Pipeline)
		}
		assert.Equal(t, 1.0, value("etl_run_duration_seconds", l), "durations of %s", r.Pipeline)
		if r.Status != "failed" {
			assert.InDelta(t, float64(r.Finshed.Unix()), value("etl_last_success_timestamp_seconds", l), 1, "last success of %s", r.Pipeline)
		}
	}
	assert.Equal(t, 0.0, value("etl_queue_waiting_jobs", nil))
	assert.Equal(t, 1.0, value("etl_warehouse_up", nil))

	// The status page in a real browser.
	browser := chromiumPath(t)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("http://"+p.addr+"/"), chromedp.WaitVisible(chromedp.CSS("#pipelines"))))
	step, cancelStep := context.WithTimeout(ctx, 30*time.Second)
	defer cancelStep()
	names, err := chromedp.Run(step, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tr.pipeline')].map(r => r.dataset.pipeline)`))
	require.NoError(t, err)
	assert.Equal(t, []string{"good", "masked", "off", "partial", "strict"}, names)
	text := func(sel string) string {
		s, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	assert.Contains(t, text("#pipeline-strict .error"), "max_rejects", "the failed run's error")
	assert.Contains(t, text("#pipeline-strict .run"), "failed")
	assert.Contains(t, text("#pipeline-partial .reason"), "id must be positive", "a reject's reason")
	masked := text("#pipeline-masked")
	assert.Contains(t, masked, "[masked]")
	assert.NotContains(t, masked, "not-an-email", "a masked field's value stays off the page")
	assert.Contains(t, text("#pipeline-off"), "disabled")
	buttons, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll('#pipeline-off button').length`))
	require.NoError(t, err)
	assert.Zero(t, buttons, "a disabled pipeline has no Run now button")

	shot, err := chromedp.Run(step, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	artifacts := os.Getenv("ETL_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	shotPath := filepath.Join(artifacts, "status-page.png")
	require.NoError(t, os.WriteFile(shotPath, shot, 0o644))
	t.Logf("status page screenshot: %s (%d bytes)", shotPath, len(shot))

	// The Run now button: a real form post with the page's token.
	require.NoError(t, chromedp.Do(step, chromedp.Click(chromedp.CSS("#pipeline-good button")), chromedp.WaitVisible(chromedp.CSS("#triggered"))))
	waitFor(t, 30*time.Second, "the second run of good", func() bool {
		return fmt.Sprint(historyStatus(t, db)["good"]) == "[success success]"
	})
}

// chromiumPath finds Debian's chromium (.ci/run installs it): the test
// skips without it, but fails in CI (ETL_TEST_REQUIRE_DB=1).
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("ETL_TEST_REQUIRE_DB") == "1" {
		t.Fatal("chromium is required (ETL_TEST_REQUIRE_DB=1) but not installed: apt-get install -y chromium")
	}
	t.Skip("chromium not installed (apt-get install -y chromium)")
	return ""
}

// TestServeRefusesToListenBeyondLoopbackWithoutAuth starts etl serve on
// every interface: without credentials it refuses to start; with a bearer
// token it starts and every guarded endpoint asks for the token, while the
// probes answer without it.
func TestServeRefusesToListenBeyondLoopbackWithoutAuth(t *testing.T) {
	dir := t.TempDir()
	statusPipelines(t, dir)
	db := "sqlite://" + filepath.Join(t.TempDir(), "etl.db")
	out, err := exec.Command(etlBin, "serve", dir, "--listen", "0.0.0.0:0", "--warehouse", db).CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Contains(t, string(out), "refusing to listen beyond loopback without auth")

	t.Setenv("ETL_TEST_SERVE_TOKEN", "a-long-enough-test-token")
	p := startServe(t, dir, db, "--listen", "0.0.0.0:0", "--auth-token-env", "ETL_TEST_SERVE_TOKEN")
	addr := strings.Replace(p.addr, "[::]", "127.0.0.1", 1)
	addr = strings.Replace(addr, "0.0.0.0", "127.0.0.1", 1)
	get := func(path, token string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/", "/metrics"} {
		assert.Equal(t, http.StatusUnauthorized, get(path, ""), path)
		assert.Equal(t, http.StatusUnauthorized, get(path, "wrong-token-wrong-token"), path)
		assert.Equal(t, http.StatusOK, get(path, "a-long-enough-test-token"), path)
	}
	assert.Equal(t, http.StatusUnauthorized, trigger(t, addr, "good", nil).StatusCode)
	assert.Equal(t, http.StatusOK, get("/healthz", ""))
	assert.Equal(t, http.StatusOK, get("/readyz", ""))
}
