package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/pipelinetest"
	"github.com/etl-dev/etl/internal/syncbuf"
)

const hubspotSecret = "test-client-secret-7f3a"

// signHubSpot signs a delivery as HubSpot's v3 signature does: the base64
// HMAC-SHA256, keyed with the app's client secret, of method + URL + body +
// timestamp.
func signHubSpot(req *http.Request, body []byte, secret string, at time.Time) {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(req.Method + req.URL.String() + string(body) + ts))
	req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	req.Header.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

// servePipelines starts `etl serve` on dir and a fresh PostgreSQL schema,
// and returns its base URL and warehouse URL. The server is killed when the
// test ends.
func servePipelines(t *testing.T, bin, dir, whURL string, env ...string) (base string, stderr *syncbuf.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, "serve", dir, "--listen", "127.0.0.1:0", "--warehouse", whURL, "--workers", "2", "--grace", "5s")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr = &syncbuf.Buffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("etl serve stderr:\n%s", stderr.String())
		}
	})
	lines := bufio.NewScanner(stdout)
	addr := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if _, a, ok := strings.Cut(lines.Text(), "listening on "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		require.True(t, ok, "etl serve ended before listening: %s", stderr.String())
		return a, stderr
	case <-time.After(60 * time.Second):
		t.Fatalf("etl serve did not listen within 60 s: %s", stderr.String())
	}
	return "", nil
}

// hubspotEventsDir copies the shipped HubSpot event-log pipeline and its
// connection into a temp folder, its table local to the test's schema.
func hubspotEventsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "connections"), 0o755))
	conn, err := os.ReadFile(filepath.Join(pipelinetest.Dir(), "connections", "hubspot.hcl"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "connections", "hubspot.hcl"), conn, 0o644))
	src, err := os.ReadFile(filepath.Join(pipelinetest.Dir(), "hubspot_contact_events.hcl"))
	require.NoError(t, err)
	text := strings.Replace(string(src), `table = "hubspot.contact_events"`, `table = "hubspot_contact_events"`, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hubspot_contact_events.hcl"), []byte(text), 0o644))
	return dir
}

// triggered is a CSV pipeline whose trigger shares HubSpot's path: a
// verified delivery starts a run of it.
const triggered = `pipeline "csv_triggered" {
  system = "test"
  entity = "triggered"
  source "csv" {
    path = "people.csv"
  }
  trigger "webhook" {
    path     = "/webhooks/hubspot"
    secrets  = { client_secret = env("HUBSPOT_CLIENT_SECRET", "") }
    verify   = var.hubspot_webhook_verify
    debounce = "1s"
  }
  map {
    id = "int(record.id)"
  }
  sink "warehouse" {
    table = "csv_triggered"
    key   = ["id"]
  }
}
`

// TestHubSpotWebhookEndToEndIntegration sends HubSpot-signed deliveries to
// a running etl serve, on PostgreSQL and on SQLite, and checks what lands:
// good deliveries as rows (a repeated one once), a run of the pipeline
// whose trigger shares the path, and a wrong signature, a stale timestamp,
// an oversized and a malformed body refused with nothing stored, counted
// in /metrics and logged without the body or the secret.
func TestHubSpotWebhookEndToEndIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs etl serve")
	}
	bin := buildETL(t)
	for _, w := range []struct {
		name  string
		url   func(t *testing.T) string
		count func(url, q string) (int64, error)
	}{
		{"postgres", func(t *testing.T) string { return pgtest.URL(t) }, pgCount},
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "etl.db") }, sqliteCount},
	} {
		t.Run(w.name, func(t *testing.T) {
			whURL := w.url(t)
			dir := hubspotEventsDir(t)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "csv_triggered.hcl"), []byte(triggered), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "people.csv"), []byte("id\n1\n2\n"), 0o644))
			base, stderr := servePipelines(t, bin, dir, whURL, "HUBSPOT_CLIENT_SECRET="+hubspotSecret, "HUBSPOT_TOKEN=unused")
			count := func(q string) int64 {
				n, err := w.count(whURL, q)
				require.NoError(t, err, q)
				return n
			}
			hubspotDeliveries(t, base, count, func(q string) (int64, error) { return w.count(whURL, q) })
			assert.Eventually(t, func() bool {
				n, err := w.count(whURL, `SELECT count(*) FROM etl_sync_history WHERE pipeline = 'csv_triggered' AND status = 'success'`)
				return err == nil && n >= 1
			}, 60*time.Second, 200*time.Millisecond, "the trigger started a run")
			logs := stderr.String()
			assert.NotContains(t, logs, hubspotSecret)
			assert.NotContains(t, logs, "x@example.com", "a refused body is not logged")
			assert.Contains(t, logs, "webhook delivery refused")
		})
	}
}

func hubspotDeliveries(t *testing.T, base string, count func(string) int64, try func(string) (int64, error)) {
	endpoint := base + "/webhooks/hubspot"
	event := func(id, object int, prop, value string) string {
		return fmt.Sprintf(`{"eventId":%d,"subscriptionId":4242,"portalId":62515,"appId":54321,"occurredAt":1712000000%03d,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":%d,"changeSource":"CRM","propertyName":%q,"propertyValue":%q}`,
			id, id%1000, object, prop, value)
	}
	send := func(body string, sign func(*http.Request, []byte)) (int, string) {
		req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if sign != nil {
			sign(req, []byte(body))
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good := func(req *http.Request, body []byte) { signHubSpot(req, body, hubspotSecret, time.Now()) }

	// Refused: nothing stored.
	refusals := []struct {
		name   string
		body   string
		sign   func(*http.Request, []byte)
		status int
	}{
		{"unsigned", "[" + event(900, 1, "email", "x@example.com") + "]", nil, http.StatusUnauthorized},
		{"wrong secret", "[" + event(901, 1, "email", "x@example.com") + "]", func(r *http.Request, b []byte) { signHubSpot(r, b, "not-the-secret", time.Now()) }, http.StatusUnauthorized},
		{"stale timestamp", "[" + event(902, 1, "email", "x@example.com") + "]", func(r *http.Request, b []byte) { signHubSpot(r, b, hubspotSecret, time.Now().Add(-6*time.Minute)) }, http.StatusUnauthorized},
		{"tampered body", "[" + event(903, 1, "email", "x@example.com") + "]", func(r *http.Request, b []byte) {
			signHubSpot(r, []byte(strings.Replace(string(b), "903", "904", 1)), hubspotSecret, time.Now())
		}, http.StatusUnauthorized},
		{"malformed JSON", `[{"eventId": 905, "propertyValue": "x@example.com",`, good, http.StatusBadRequest},
		{"oversized", "[" + strings.Repeat(event(906, 1, "notes", strings.Repeat("x", 1000))+",", 1100) + event(907, 1, "a", "b") + "]", good, http.StatusRequestEntityTooLarge},
	}
	for _, r := range refusals {
		status, _ := send(r.body, r.sign)
		assert.Equal(t, r.status, status, r.name)
	}

	// Accepted: two deliveries, the second sent twice (HubSpot retries).
	first := "[" + event(1, 101, "email", "ann@example.com") + "," + event(2, 102, "lifecyclestage", "customer") + "]"
	second := "[" + event(3, 101, "phone", "+1 512 555 0100") + "]"
	for _, body := range []string{first, second, second} {
		status, resp := send(body, good)
		require.Equal(t, http.StatusOK, status, resp)
	}
	require.Eventually(t, func() bool {
		n, err := try(`SELECT count(*) FROM hubspot_contact_events`)
		return err == nil && n >= 3
	}, 60*time.Second, 200*time.Millisecond, "the three events land")
	assert.EqualValues(t, 3, count(`SELECT count(*) FROM hubspot_contact_events`))
	assert.EqualValues(t, 1, count(`SELECT count(*) FROM hubspot_contact_events WHERE event_id = 1 AND object_id = 101 AND property_name = 'email' AND property_value = 'ann@example.com'`))
	assert.EqualValues(t, 1, count(`SELECT count(*) FROM hubspot_contact_events WHERE event_id = 2 AND object_id = 102 AND property_value = 'customer'`))
	assert.EqualValues(t, 1, count(`SELECT count(*) FROM hubspot_contact_events WHERE event_id = 3 AND property_value = '+1 512 555 0100'`))
	assert.EqualValues(t, 3, count(`SELECT count(*) FROM etl_webhook_inbox`), "the repeat was not stored twice")
	assert.EqualValues(t, 0, count(`SELECT count(*) FROM etl_webhook_inbox WHERE record LIKE '%"eventId":9%'`), "no refused delivery was stored")

	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`etl_webhook_deliveries_total{outcome="stored",pipeline="hubspot_contact_events"} 2`,
		`etl_webhook_deliveries_total{outcome="duplicate",pipeline="hubspot_contact_events"} 1`,
		`etl_webhook_deliveries_total{outcome="refused_401",pipeline="hubspot_contact_events"} 4`,
		`etl_webhook_deliveries_total{outcome="refused_400",pipeline="hubspot_contact_events"} 1`,
		`etl_webhook_deliveries_total{outcome="refused_413",pipeline="hubspot_contact_events"} 1`,
	} {
		assert.Contains(t, string(metrics), want)
	}
}
