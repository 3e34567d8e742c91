package engine

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileSecret has every character that encoders treat differently: a
// slash, a plus, an ampersand, a space, non-ASCII, HTML's <>, a quote.
const hostileSecret = `s3cr/t+&k é<>"€𝄞`

// TestRedactorCoversEveryEncoding writes the secret the way each encoder a
// message may go through writes it, inside a longer text, and checks that
// no form survives. The encodings are produced by the encoders themselves
// (or written out by hand where Go has none, as Python's JSON), not by the
// redactor's own code.
func TestRedactorCoversEveryEncoding(t *testing.T) {
	s := hostileSecret
	jsonOf := func(html bool) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		require.NoError(t, enc.Encode(s))
		return strings.TrimSpace(b.String())
	}
	inURL := (&url.URL{Scheme: "https", Host: "api.example.com", Path: "/v1/" + s + "/items", RawQuery: url.Values{"key": {s}}.Encode()}).String()
	cases := map[string]string{
		"raw":                       "token " + s + " refused",
		"query escaped":             "GET https://h/x?k=" + url.QueryEscape(s) + "&limit=1",
		"path escaped":              "GET https://h/x/" + url.PathEscape(s) + "/y",
		"in a URL's path":           "GET " + inURL,
		"lowercase percent hex":     "GET https://h/x/" + strings.ToLower(url.PathEscape(s)),
		"encodeURIComponent":        "GET https://h/x?k=" + strings.ReplaceAll(url.QueryEscape(s), "+", "%20"),
		"userinfo":                  "dial " + (&url.URL{Scheme: "postgres", User: url.UserPassword("etl", s), Host: "db"}).String(),
		"JSON, Go default":          `{"error":` + jsonOf(true) + `}`,
		"JSON, no HTML escaping":    `{"error":` + jsonOf(false) + `}`,
		"JSON of a URL":             `{"endpoint":` + fmt.Sprintf("%q", inURL) + `}`,
		"JSON, Python ensure_ascii": `{"error": "s3cr/t+&k \u00e9<>\"\u20ac\ud834\udd1e"}`,
		"JSON, PHP slashes":         `{"error":"s3cr\/t+&k é<>\"€𝄞"}`,
		"Go %q":                     fmt.Sprintf("url %q is not an absolute URL", "https://h/"+s),
		"Go %+q":                    fmt.Sprintf("value %+q", s),
		"base64 std":                "Basic " + base64.StdEncoding.EncodeToString([]byte(s)),
		"base64 url raw":            "t=" + base64.RawURLEncoding.EncodeToString([]byte(s)),
		"base64 after a prefix":     "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+s)),
		"base64 after 1 byte":       base64.URLEncoding.EncodeToString([]byte("u" + s + "tail")),
		"base64 after 2 bytes":      base64.StdEncoding.EncodeToString([]byte("uv" + s + "t")),
		"HTML escaped":              "<td>s3cr/t+&amp;k é&lt;&gt;&#34;€𝄞</td>",
		"html/template escaped":     "<td>s3cr/t&#43;&amp;k é&lt;&gt;&#34;€𝄞</td>",
	}
	r := NewRedactor(s)
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			got := r.Redact(text)
			assert.Contains(t, got, "[redacted]")
			assert.NotContains(t, got, "s3cr", "a piece of the secret survived")
			if strings.HasPrefix(name, "base64") {
				// What is left around [redacted] is the prefix's and the
				// tail's encoding: too short to hold a piece of the secret.
				for _, run := range base64Run.FindAllString(got, -1) {
					assert.Less(t, len(run), 9, "a piece of the encoded secret survived in %q", got)
				}
			}
		})
	}
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]+`)

func TestRedactorLeavesOtherTextAlone(t *testing.T) {
	r := NewRedactor(hostileSecret, "tok_abcdef")
	for _, text := range []string{
		"GET https://api.hubapi.com/crm/v3/objects/contacts?limit=100: 401 Unauthorized",
		`{"message":"s3cr is not a secret on its own","n":1}`,
		"processed 250 = created 246 + updated 0",
	} {
		assert.Equal(t, text, r.Redact(text))
	}
}

func TestRedactURLPasswords(t *testing.T) {
	cases := []struct{ in, want string }{
		{"open postgres://etl:Pw%2F1@db.prod:5432/w?sslmode=disable: refused", "open postgres://etl:[redacted]@db.prod:5432/w?sslmode=disable: refused"},
		{"target: postgres://u:p@h/db table t", "target: postgres://u:[redacted]@h/db table t"},
		{`{"url":"mysql://root:hunter22@10.0.0.1/x"}`, `{"url":"mysql://root:[redacted]@10.0.0.1/x"}`},
		{"https://api.example.com:8443/v1 and https://x.example/a@b", "https://api.example.com:8443/v1 and https://x.example/a@b"},
		{"postgres://user@h/db", "postgres://user@h/db"},
		{"no url here: a:b@c", "no url here: a:b@c"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, RedactURLPasswords(c.in), c.in)
		assert.Equal(t, c.want, (*Redactor)(nil).Redact(c.in), "a nil redactor still removes URL passwords")
	}
}

// TestEnvValuesAreSecretButURLOriginsAreShown is the rule of the README's
// Secrets section, value by value.
func TestEnvValuesAreSecretButURLOriginsAreShown(t *testing.T) {
	cases := []struct {
		name, value, text, want string
	}{
		{"a token is secret", "pat-na1-0123", "Bearer pat-na1-0123", "Bearer [redacted]"},
		{"a base URL is shown", "https://api.hubapi.com", "GET https://api.hubapi.com/crm/v3/objects/contacts: 401", "GET https://api.hubapi.com/crm/v3/objects/contacts: 401"},
		{"its path too", "https://api4.marketsharpm.com/WcfDataService.svc", "GET https://api4.marketsharpm.com/WcfDataService.svc/Contacts", "GET https://api4.marketsharpm.com/WcfDataService.svc/Contacts"},
		{"a URL's password is not", "postgres://etl:pa55word@db:5432/w", "auth failed for pa55word at db:5432/w", "auth failed for [redacted] at db:5432/w"},
		{"nor a credential in its query", "https://h.example/api?api_key=K3y/+&x=1&limit=100", "GET https://h.example/api?api_key=K3y%2F%2B&x=1&limit=100", "GET https://h.example/api?api_key=[redacted]&x=1&limit=100"},
		{"nor a signature", "https://acct.blob.example/c?sv=2020&sig=AbCdEf%2B1", "GET https://acct.blob.example/c?sig=AbCdEf%2B1", "GET https://acct.blob.example/c?sig=[redacted]"},
		{"nor a token as the user", "https://ghp_abc123def@git.example/x", "clone ghp_abc123def failed", "clone [redacted] failed"},
		{"a URL-escaped password", "postgres://etl:p%40ss%2Fw@db/w", "password p@ss/w refused", "password [redacted] refused"},
		{"a MySQL DSN is secret whole", "genius:s3cr3t!@tcp(10.0.0.1:3306)/genius", "user genius:s3cr3t! denied", "user genius:[redacted] denied"},
		{"key=value password", "host=db user=etl password='sp ace' dbname=w", "got sp ace", "got [redacted]"},
		{"short values kept", "abc", "abc", "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := &configEnv{}
			env.addSecret(c.value)
			assert.Equal(t, c.want, newRedactor(env.secrets).Redact(c.text))
		})
	}
}

func TestSensitiveMarksAWholeURLSecret(t *testing.T) {
	const hook = "https://hooks.example.com/services/T0/B0/XYZsecret"
	env := &configEnv{lookup: func(string) (string, bool) { return hook, true }}
	ctx := env.evalContext()
	for _, src := range []string{`env("HOOK")`, `sensitive(env("HOOK"))`} {
		env.secrets = nil
		v, diags := parseExpr(t, src).Value(ctx)
		require.False(t, diags.HasErrors(), "%v", diags)
		assert.Equal(t, hook, v.AsString())
		got := newRedactor(env.secrets).Redact("POST " + hook + ": 410 Gone")
		if strings.HasPrefix(src, "sensitive") {
			assert.Equal(t, "POST [redacted]: 410 Gone", got)
		} else {
			assert.Equal(t, "POST "+hook+": 410 Gone", got, "without sensitive(), an env() URL's origin and path are shown")
		}
	}
}

// TestDiagnosticsCarryNoSecret: a diagnostic that quotes a value (an
// unknown timezone here; the REST source's "Invalid URL" the same way)
// leaves the loader redacted.
func TestDiagnosticsCarryNoSecret(t *testing.T) {
	l := NewLoader(NewRegistry())
	l.LookupEnv = func(string) (string, bool) { return hostileSecret, true }
	_, diags := l.LoadSource("p.hcl", []byte(`pipeline "p" {
  system   = "s"
  entity   = "e"
  timezone = env("TZ_SECRET")
}
`))
	require.True(t, diags.HasErrors())
	var all strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&all, "%s: %s\n", d.Summary, d.Detail)
	}
	assert.Contains(t, all.String(), "Unknown timezone")
	assert.Contains(t, all.String(), "[redacted]")
	assert.NotContains(t, all.String(), "s3cr")
}

// BenchmarkRedact is the cost of redacting one log line with five secrets
// of every shape, none of which is in the line (the common case), and one
// that is.
func BenchmarkRedact(b *testing.B) {
	env := &configEnv{}
	for _, v := range []string{hostileSecret, "pat-na1-0123456789abcdef", "postgres://etl:pa55word@db:5432/w", "genius:s3cr3t!@tcp(10.0.0.1:3306)/genius", "https://h.example/api?api_key=K3y/+&x=1"} {
		env.addSecret(v)
	}
	r := newRedactor(env.secrets)
	clean := `time=2026-12-07T01:00:00Z level=WARN msg="request failed; retrying" request="page 3" url=https://api.hubapi.com/crm/v3/objects/contacts?limit=100&after=12345 attempt=2 wait=1.2s error="503 Service Unavailable"`
	for _, c := range []struct{ name, line string }{{"clean", clean}, {"leaky", clean + " token=pat-na1-0123456789abcdef"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.line)))
			for b.Loop() {
				_ = r.Redact(c.line)
			}
		})
	}
}

func parseExpr(t *testing.T, src string) hcl.Expression {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "x.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%v", diags)
	return e
}
