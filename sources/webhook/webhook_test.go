package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pipelinetest"
	"github.com/etl-dev/etl/sinks/sqlite"
	"github.com/etl-dev/etl/sources/webhook"

	_ "modernc.org/sqlite"
)

func registry() *engine.Registry {
	r := engine.NewRegistry()
	webhook.Register(r)
	sqlite.Register(r)
	return r
}

const secret = "app-client-secret-1234"

func hubspotSign(h http.Header, method, url, body, sec string, at time.Time) {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	m := hmac.New(sha256.New, []byte(sec))
	m.Write([]byte(method + url + body + ts))
	h.Set("X-HubSpot-Request-Timestamp", ts)
	h.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

func hubspotEvents(t *testing.T) (*engine.Pipeline, engine.Receiver) {
	t.Helper()
	p := pipelinetest.Load(t, registry(), "hubspot_contact_events.hcl", "hubspot.contact_events",
		map[string]string{"HUBSPOT_CLIENT_SECRET": secret, "HUBSPOT_TOKEN": "unused"}, nil)
	r, ok := p.Source.(engine.Receiver)
	require.True(t, ok)
	return p, r
}

const events = `[{"eventId":100,"subscriptionId":7,"portalId":62515,"appId":1,"occurredAt":1712000000123,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":501,"changeSource":"CRM","propertyName":"email","propertyValue":"a@example.com"},
 {"eventId":101,"subscriptionId":7,"portalId":62515,"appId":1,"occurredAt":1712000000456,"subscriptionType":"contact.creation","attemptNumber":1,"objectId":502,"changeSource":"FORM"}]`

// TestHubSpotSignatureIsCheckedAsHubSpotSigns runs the shipped HubSpot
// verify declaration over deliveries signed as HubSpot does, and over
// every way one can be wrong.
func TestHubSpotSignatureIsCheckedAsHubSpotSigns(t *testing.T) {
	_, r := hubspotEvents(t)
	const url = "https://etl.example.com/webhooks/hubspot"
	for _, tc := range []struct {
		name   string
		sign   func(h http.Header)
		body   string
		status int // 0: accepted
	}{
		{"signed now", func(h http.Header) { hubspotSign(h, "POST", url, events, secret, time.Now()) }, events, 0},
		{"signed 4 minutes ago", func(h http.Header) { hubspotSign(h, "POST", url, events, secret, time.Now().Add(-4*time.Minute)) }, events, 0},
		{"signed 6 minutes ago", func(h http.Header) { hubspotSign(h, "POST", url, events, secret, time.Now().Add(-6*time.Minute)) }, events, 401},
		{"signed 6 minutes ahead", func(h http.Header) { hubspotSign(h, "POST", url, events, secret, time.Now().Add(6*time.Minute)) }, events, 401},
		{"another secret", func(h http.Header) { hubspotSign(h, "POST", url, events, "another-secret-5678", time.Now()) }, events, 401},
		{"another URL", func(h http.Header) {
			hubspotSign(h, "POST", "https://evil.example.com/webhooks/hubspot", events, secret, time.Now())
		}, events, 401},
		{"body changed after signing", func(h http.Header) { hubspotSign(h, "POST", url, events, secret, time.Now()) }, strings.Replace(events, "501", "999", 1), 401},
		{"no signature", func(h http.Header) {}, events, 401},
		{"timestamp not a number", func(h http.Header) {
			hubspotSign(h, "POST", url, events, secret, time.Now())
			h.Set("X-HubSpot-Request-Timestamp", "yesterday")
		}, events, 401},
		{"signed, malformed JSON", func(h http.Header) { hubspotSign(h, "POST", url, `[{"eventId":`, secret, time.Now()) }, `[{"eventId":`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/json"}}
			tc.sign(h)
			recs, err := r.Receive(engine.Delivery{Method: "POST", URL: url, Header: h, Body: []byte(tc.body)})
			if tc.status == 0 {
				require.NoError(t, err)
				require.Len(t, recs, 2)
				assert.Equal(t, "7:501:100:1712000000123:email", recs[0].Key)
				assert.Equal(t, "7:502:101:1712000000456:", recs[1].Key)
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(recs[0].Fields), &rec))
				assert.Equal(t, "a@example.com", rec["propertyValue"])
				return
			}
			var ref *engine.Refusal
			require.ErrorAs(t, err, &ref)
			assert.Equal(t, tc.status, ref.Status)
			assert.NotContains(t, ref.Reason, secret)
			assert.Empty(t, recs)
		})
	}
}

// TestHubSpotVerifyRefusesEverythingWithoutTheSecret: an empty key would
// let anyone sign.
func TestHubSpotVerifyRefusesEverythingWithoutTheSecret(t *testing.T) {
	p := pipelinetest.Load(t, registry(), "hubspot_contact_events.hcl", "hubspot.contact_events", map[string]string{"HUBSPOT_TOKEN": "x"}, nil)
	r := p.Source.(engine.Receiver)
	h := http.Header{}
	hubspotSign(h, "POST", "http://h/webhooks/hubspot", events, "", time.Now())
	_, err := r.Receive(engine.Delivery{Method: "POST", URL: "http://h/webhooks/hubspot", Header: h, Body: []byte(events)})
	var ref *engine.Refusal
	require.ErrorAs(t, err, &ref)
	assert.Equal(t, 401, ref.Status)
}

func leadconduit(t *testing.T) engine.Receiver {
	t.Helper()
	p := pipelinetest.Load(t, registry(), "leadconduit_leads_webhook.hcl", "leadconduit.leads",
		map[string]string{"LEADCONDUIT_WEBHOOK_SECRET": "shared-secret-abcdef"}, nil)
	return p.Source.(engine.Receiver)
}

// TestLeadConduitDeliveriesAndAnswers: a form or JSON lead with the shared
// secret in a header or as the basic-auth password is accepted, anything
// else refused, and every answer is LeadConduit's JSON outcome.
func TestLeadConduitDeliveriesAndAnswers(t *testing.T) {
	r := leadconduit(t)
	form := "lead_id=5fd7b2a0c3e1d400124b0a99&first_name=Ann&email=ann%40example.com&phone_1=512-555-0100&tag=a&tag=b"
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		status int
	}{
		{"form, secret header", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Etl-Secret": {"shared-secret-abcdef"}}, form, 0},
		{"JSON, basic auth", http.Header{"Content-Type": {"application/json"}, "Authorization": {basic("leadconduit", "shared-secret-abcdef")}}, `{"lead_id":"5fd7b2a0c3e1d400124b0a99","first_name":"Ann"}`, 0},
		{"wrong secret header", http.Header{"X-Etl-Secret": {"shared-secret-abcdeg"}}, form, 401},
		{"wrong basic password", http.Header{"Authorization": {basic("leadconduit", "nope")}}, form, 401},
		{"basic auth not base64", http.Header{"Authorization": {"Basic %%%"}}, form, 401},
		{"no credentials", http.Header{}, form, 401},
		{"malformed form", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Etl-Secret": {"shared-secret-abcdef"}}, "a=%zz", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := r.Receive(engine.Delivery{Method: "POST", URL: "http://h/webhooks/leadconduit", Header: tc.header, Body: []byte(tc.body)})
			if tc.status == 0 {
				require.NoError(t, err)
				require.Len(t, recs, 1)
				assert.Equal(t, "5fd7b2a0c3e1d400124b0a99", recs[0].Key)
				ct, body := r.Respond(200, "", 1)
				assert.Equal(t, "application/json", ct)
				assert.JSONEq(t, `{"outcome":"success","reason":""}`, string(body))
				return
			}
			var ref *engine.Refusal
			require.ErrorAs(t, err, &ref)
			assert.Equal(t, tc.status, ref.Status)
			_, body := r.Respond(ref.Status, ref.Reason, 0)
			var answer map[string]string
			require.NoError(t, json.Unmarshal(body, &answer))
			assert.Equal(t, "failure", answer["outcome"])
			assert.NotEmpty(t, answer["reason"])
			assert.NotContains(t, string(body), "shared-secret-abcdef")
		})
	}
	// A repeated form field is a list; the form's fields are the record.
	recs, err := r.Receive(engine.Delivery{Method: "POST", URL: "http://h/x", Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Etl-Secret": {"shared-secret-abcdef"}}, Body: []byte(form)})
	require.NoError(t, err)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(recs[0].Fields), &rec))
	assert.Equal(t, []any{"a", "b"}, rec["tag"])
	assert.Equal(t, "ann@example.com", rec["email"])
}

func load(t *testing.T, src string) (*engine.Pipeline, hcl) {
	t.Helper()
	l := engine.NewLoader(registry())
	l.LookupEnv = func(string) (string, bool) { return "", false }
	p, diags := l.LoadSource(filepath.Join(t.TempDir(), "p.hcl"), []byte(src))
	return p, hcl{diags.Error(), diags.HasErrors()}
}

type hcl struct {
	text string
	bad  bool
}

const pipelineTmpl = `pipeline "hooks" {
  system      = "test"
  entity      = "events"
  max_rejects = "50%"
  source "webhook" {
    path = "/hooks"
    %s
  }
  map {
    id   = "int(record.id)"
    name = "record.name"
  }
  validate "has_name" {
    check = "name != nil"
  }
  sink "warehouse" {
    table = "events"
    key   = ["id"]
  }
}`

// TestWebhookConfigErrorsPointAtTheirAttribute: each bad declaration is a
// diagnostic at its line, never a panic.
func TestWebhookConfigErrorsPointAtTheirAttribute(t *testing.T) {
	for _, tc := range []struct {
		name, attrs, want string
	}{
		{"verify not an expression", `verify = "headers['x'] =="`, "p.hcl:7"},
		{"verify names an unknown variable", `verify = "secret.key == ''"`, "p.hcl:7"},
		{"records unknown function", `records = "explode(body)"`, "p.hcl:7"},
		{"dedupe broken", `dedupe = "record.id +"`, "p.hcl:7"},
		{"batch_wait not a duration", `batch_wait = "soon"`, "Invalid duration"},
		{"dedupe_window negative", `dedupe_window = "-1h"`, "Invalid duration"},
		{"method GET", `method = "GET"`, "Invalid method"},
		{"max_body zero", `max_body = 0`, "Invalid max_body"},
		{"public_url with a path", `public_url = "https://etl.example.com/hooks"`, "Invalid public_url"},
		{"debounce on a source", `debounce = "5s"`, "debounce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, d := load(t, strings.Replace(pipelineTmpl, "%s", tc.attrs, 1))
			require.True(t, d.bad, "no error for %s", tc.attrs)
			assert.Contains(t, d.text, tc.want)
		})
	}
	_, d := load(t, strings.Replace(strings.Replace(pipelineTmpl, `path = "/hooks"`, `path = "hooks?x"`, 1), "%s", "", 1))
	assert.True(t, d.bad)
	assert.Contains(t, d.text, "Invalid path")
}

// TestInboxRecordsLandOnceAndAreMarkedProcessed stores deliveries as etl
// serve does, runs the pipeline on an SQLite warehouse twice, and checks
// that each record landed once (a bad one rejected), every record was
// marked processed by the first run, and the second run read nothing.
func TestInboxRecordsLandOnceAndAreMarkedProcessed(t *testing.T) {
	p, d := load(t, strings.Replace(pipelineTmpl, "%s", `key = "string(record.id)"`, 1))
	require.False(t, d.bad, d.text)
	dbPath := filepath.Join(t.TempDir(), "etl.db")
	url := "sqlite://" + dbPath
	ctx := context.Background()
	wh, err := registry().OpenWarehouse(ctx, "warehouse", url)
	require.NoError(t, err)
	require.NoError(t, wh.Migrate(ctx))
	require.NoError(t, wh.Close())

	db, err := sql.Open("sqlite", dbPath)
	require.NoError(t, err)
	defer db.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for i, rec := range []string{`{"id":1,"name":"a"}`, `{"id":2,"name":"b"}`, `{"id":3}`, `{"id":1,"name":"a2"}`} {
		_, err := db.Exec(`INSERT INTO etl_webhook_inbox (pipeline, dedupe_key, record, received_at) VALUES ('hooks', ?, ?, ?)`, strconv.Itoa(i), rec, now)
		require.NoError(t, err)
	}
	res, err := p.Run(ctx, registry(), engine.RunOptions{WarehouseURL: url})
	require.NoError(t, err)
	assert.Equal(t, engine.StatusPartial, res.Status)
	assert.Equal(t, int64(4), res.Tally.Processed)
	assert.Equal(t, int64(1), res.Tally.Rejected)

	var names []string
	rows, err := db.Query(`SELECT name FROM events ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"a2", "b"}, names, "the later delivery of id 1 wins")
	var pending, marked int
	require.NoError(t, db.QueryRow(`SELECT count(*) FILTER (WHERE processed_run IS NULL), count(*) FILTER (WHERE processed_run = ?) FROM etl_webhook_inbox`, res.RunID).Scan(&pending, &marked))
	assert.Equal(t, 0, pending)
	assert.Equal(t, 4, marked, "the rejected record is processed too: it is in etl_rejects")
	var rejectPos string
	require.NoError(t, db.QueryRow(`SELECT page || ' ' || source_key FROM etl_rejects`).Scan(&rejectPos))
	assert.Equal(t, "delivery 3 3", rejectPos)

	again, err := p.Run(ctx, registry(), engine.RunOptions{WarehouseURL: url})
	require.NoError(t, err)
	assert.Equal(t, int64(0), again.Tally.Processed, "nothing left to land")

	// A dry run has no inbox and reads nothing.
	dry, err := p.Run(ctx, registry(), engine.RunOptions{WarehouseURL: url, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, int64(0), dry.Tally.Processed)
}

// TestTriggerVerifiesAndDebounces: a trigger block verifies like a source,
// keeps no records, and carries its debounce.
func TestTriggerVerifiesAndDebounces(t *testing.T) {
	src := `pipeline "t" {
  system = "s"
  entity = "e"
  trigger "webhook" {
    path     = "/go"
    secrets  = { k = "trigger-secret-1234" }
    verify   = "secure_equal(headers['x-key'], secrets.k)"
    debounce = "30s"
  }
  source "webhook" {
    path = "/in"
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}`
	p, d := load(t, src)
	require.False(t, d.bad, d.text)
	require.Len(t, p.Triggers, 1)
	tr := p.Triggers[0]
	m, path := tr.Route()
	assert.Equal(t, "POST", m)
	assert.Equal(t, "/go", path)
	assert.Equal(t, 30*time.Second, tr.Debounce())
	assert.True(t, tr.Verifies())
	recs, err := tr.Receive(engine.Delivery{Method: "POST", URL: "http://h/go", Header: http.Header{"X-Key": {"trigger-secret-1234"}}, Body: []byte(`[{"id":1}]`)})
	require.NoError(t, err)
	assert.Empty(t, recs)
	_, err = tr.Receive(engine.Delivery{Method: "POST", URL: "http://h/go", Header: http.Header{"X-Key": {"nope"}}})
	var ref *engine.Refusal
	require.ErrorAs(t, err, &ref)
	assert.Equal(t, 401, ref.Status)
	ct, body := tr.Respond(202, "", 0)
	assert.Empty(t, ct)
	assert.Empty(t, body)

	_, d = load(t, strings.Replace(src, `debounce = "30s"`, `debounce = "30s"`+"\n    records = \"body\"", 1))
	assert.True(t, d.bad, "records belongs to a source")
	_, d = load(t, strings.Replace(src, `trigger "webhook"`, `trigger "webhok"`, 1))
	assert.Contains(t, d.text, `Did you mean "webhook"`)
	src2 := strings.Replace(src, `source "webhook" {
    path = "/in"
  }`, `source "webhook" {
    path = "/in"
  }`, 1)
	p2, d := load(t, src2)
	require.False(t, d.bad)
	assert.False(t, p2.Source.(engine.Receiver).Verifies(), "a source without verify says so")
}

// TestRecordsExpressionShapes: records may give a list, one object or
// nothing; anything else is a 400 naming what it gave.
func TestRecordsExpressionShapes(t *testing.T) {
	for _, tc := range []struct {
		records, body string
		n             int
		status        int
	}{
		{`"body.items"`, `{"items":[{"id":1},{"id":2}]}`, 2, 0},
		{`"body"`, `{"id":1}`, 1, 0},
		{`"body"`, ``, 0, 0},
		{`"body.items"`, `{"items":"x"}`, 0, 400},
		{`"body"`, `[1, 2]`, 0, 400},
		{`"body.items[5]"`, `{"items":[]}`, 0, 400},
		{`"body"`, `{"a":1} {"b":2}`, 0, 400},
	} {
		p, d := load(t, strings.Replace(pipelineTmpl, "%s", "records = "+tc.records+"\n    dedupe = \"record?.id\"", 1))
		require.False(t, d.bad, d.text)
		recs, err := p.Source.(engine.Receiver).Receive(engine.Delivery{Method: "POST", URL: "http://h/hooks", Header: http.Header{}, Body: []byte(tc.body)})
		if tc.status != 0 {
			var ref *engine.Refusal
			require.ErrorAs(t, err, &ref, "%s over %s", tc.records, tc.body)
			assert.Equal(t, tc.status, ref.Status)
			continue
		}
		require.NoError(t, err, "%s over %s", tc.records, tc.body)
		assert.Len(t, recs, tc.n)
		for _, r := range recs {
			assert.NotEmpty(t, r.Key)
		}
	}
}

// FuzzReceive feeds arbitrary bodies and headers to the shipped HubSpot and
// LeadConduit declarations: Receive never panics, and accepts nothing that
// is not signed with the secret.
func FuzzReceive(f *testing.F) {
	f.Add([]byte(events), "application/json", "123", "sig", "")
	f.Add([]byte(`{"lead_id":"x"}`), "application/json", "", "", "shared-secret-abcdef")
	f.Add([]byte("lead_id=1&a=%zz"), "application/x-www-form-urlencoded", "", "", "shared-secret-abcdef")
	f.Add([]byte(`[{"eventId":1e999}]`), "application/json", "1712000000000", "", "")
	f.Add([]byte{0xff, 0xfe, '['}, "text/plain; charset=x", "-1", "====", "Basic Og==")
	reg := registry()
	hub := pipelinetest.Load(f, reg, "hubspot_contact_events.hcl", "hubspot.contact_events",
		map[string]string{"HUBSPOT_CLIENT_SECRET": secret, "HUBSPOT_TOKEN": "x"}, nil).Source.(engine.Receiver)
	lc := pipelinetest.Load(f, reg, "leadconduit_leads_webhook.hcl", "leadconduit.leads",
		map[string]string{"LEADCONDUIT_WEBHOOK_SECRET": "shared-secret-abcdef"}, nil).Source.(engine.Receiver)
	f.Fuzz(func(t *testing.T, body []byte, contentType, ts, sig, extra string) {
		h := http.Header{"Content-Type": {contentType}, "X-Hubspot-Request-Timestamp": {ts}, "X-Hubspot-Signature-V3": {sig}, "Authorization": {extra}}
		_, err := hub.Receive(engine.Delivery{Method: "POST", URL: "http://h/webhooks/hubspot", Header: h, Body: body})
		assert.Error(t, err, "an unsigned delivery is refused")
		recs, err := lc.Receive(engine.Delivery{Method: "POST", URL: "http://h/webhooks/leadconduit", Header: h, Body: body})
		if err == nil {
			for _, r := range recs {
				assert.True(t, json.Valid([]byte(r.Fields)))
			}
		}
		_, _ = lc.Respond(400, string(body), 0)
	})
}

// TestDefaultsPublicURLAndTextAnswers: the documented defaults; public_url
// replaces the scheme and host verify signs over; a string response is
// sent as text, one that fails as its error.
func TestDefaultsPublicURLAndTextAnswers(t *testing.T) {
	p, d := load(t, strings.Replace(pipelineTmpl, "%s", `public_url = "https://etl.example.com"
    verify     = "url == 'https://etl.example.com/hooks?x=1' && method == 'POST'"
    response   = "ok ? 'thanks, ' + string(stored) : 'no: ' + reason"`, 1))
	require.False(t, d.bad, d.text)
	s := p.Source.(*webhook.Source)
	assert.Equal(t, int64(webhook.DefaultMaxBody), s.MaxBody())
	assert.Equal(t, webhook.DefaultBatchWait, s.BatchWait())
	assert.Equal(t, webhook.DefaultDedupeWindow, s.DedupeWindow())
	assert.Equal(t, "webhook POST /hooks", s.Describe())
	_, err := s.Receive(engine.Delivery{Method: "POST", URL: "http://127.0.0.1:8080/hooks?x=1", Header: http.Header{}, Body: []byte(`{"id":1}`)})
	require.NoError(t, err, "signed over the public URL, received on loopback")
	_, err = s.Receive(engine.Delivery{Method: "POST", URL: "http://127.0.0.1:8080/hooks?x=2", Header: http.Header{}, Body: []byte(`{"id":1}`)})
	require.Error(t, err)
	ct, body := s.Respond(200, "", 3)
	assert.Equal(t, "text/plain; charset=utf-8", ct)
	assert.Equal(t, "thanks, 3", string(body))
	_, body = s.Respond(401, "bad signature", 0)
	assert.Equal(t, "no: bad signature", string(body))

	p, d = load(t, strings.Replace(pipelineTmpl, "%s", `response = "{'n': int('x' + reason)}"`, 1))
	require.False(t, d.bad, d.text)
	ct, body = p.Source.(*webhook.Source).Respond(200, "", 0)
	assert.Equal(t, "text/plain; charset=utf-8", ct)
	assert.Contains(t, string(body), "response: ")

	p, d = load(t, strings.Replace(pipelineTmpl, "%s", `max_body = 10
    batch_wait = "250ms"
    dedupe_window = "48h"`, 1))
	require.False(t, d.bad, d.text)
	s = p.Source.(*webhook.Source)
	assert.Equal(t, int64(10), s.MaxBody())
	assert.Equal(t, 250*time.Millisecond, s.BatchWait())
	assert.Equal(t, 48*time.Hour, s.DedupeWindow())
	assert.False(t, s.Verifies())
}
