package rest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/etl-dev/etl/engine"
)

// AuthConfig is the schema of an `auth "kind" {}` block; the kind decides
// what its body holds (see README.md): bearer, basic, api_key, headers or
// oauth2.
type AuthConfig struct {
	Kind     string    `hcl:"kind,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

// authKinds lists the auth block kinds, for messages.
var authKinds = []string{"bearer", "basic", "api_key", "headers", "oauth2"}

// Authenticator is a decoded auth block, ready for NewClient.
type Authenticator struct {
	impl    authenticator
	secrets []string // every credential value, for redaction
	headers []string // headers that carry credentials
	params  []string // query parameters that carry credentials
}

type authenticator interface {
	apply(ctx context.Context, req *http.Request) error
}

// stateful is an authenticator that keeps a credential from one run to the
// next in the engine's source state (oauth2's rotated refresh token).
type stateful interface {
	useState(engine.SourceState)
}

// refreshTokenKey is the source-state key of a rotated refresh token. Its
// value is "<origin> <token>": origin is a digest of the configured refresh
// token the kept one descends from, so a new token configured by hand (a
// re-authorization) wins over the kept one. One value, so one atomic Put.
const refreshTokenKey = "oauth2.refresh_token"

// refresher is an authenticator whose credential can go stale: on a 401 the
// client invalidates it and tries once more.
type refresher interface {
	invalidate()
}

type bearerConfig struct {
	Token  string `hcl:"token"`
	Header string `hcl:"header,optional"`
	Prefix string `hcl:"prefix,optional"`
}

type basicConfig struct {
	Username string `hcl:"username"`
	Password string `hcl:"password"`
}

type apiKeyConfig struct {
	Name    string    `hcl:"name"`
	Value   string    `hcl:"value"`
	In      string    `hcl:"in,optional"`
	InRange hcl.Range `hcl:"in,attr_value_range"`
}

type oauth2Config struct {
	TokenURL         string            `hcl:"token_url"`
	ClientID         string            `hcl:"client_id"`
	ClientSecret     string            `hcl:"client_secret"`
	Scopes           []string          `hcl:"scopes,optional"`
	RefreshToken     string            `hcl:"refresh_token,optional"`
	RefreshTokenFile string            `hcl:"refresh_token_file,optional"`
	ClientAuth       string            `hcl:"client_auth,optional"`
	Params           map[string]string `hcl:"params,optional"`

	ClientAuthRange   hcl.Range `hcl:"client_auth,attr_value_range"`
	RefreshTokenRange hcl.Range `hcl:"refresh_token,attr_value_range"`
	RefreshFileRange  hcl.Range `hcl:"refresh_token_file,attr_value_range"`
}

// Build decodes the block's body for its kind. dir resolves a relative
// refresh_token_file. A nil block gives a nil Authenticator. A credential
// written as a literal in the file is a warning (see literalCredentials).
func (ac *AuthConfig) Build(ctx *hcl.EvalContext, dir string) (*Authenticator, hcl.Diagnostics) {
	if ac == nil {
		return nil, nil
	}
	a, diags := ac.build(ctx, dir)
	return a, append(diags, ac.literalCredentials()...)
}

// credentialAttrs names, per auth kind, the attributes that hold
// credentials; for "headers" every attribute does.
var credentialAttrs = map[string][]string{
	"bearer":  {"token"},
	"basic":   {"username", "password"},
	"api_key": {"value"},
	"oauth2":  {"client_id", "client_secret", "refresh_token"},
}

// literalCredentials warns about each credential the block writes as a
// literal ("s3cret") rather than reading it with env() or file(): it would
// live in the pipeline file, its history and its repository. A default
// given to env() is not a literal here (env("LEADCONDUIT_API_USER", "API")).
func (ac *AuthConfig) literalCredentials() hcl.Diagnostics {
	attrs, diags := ac.Body.JustAttributes()
	if diags.HasErrors() {
		return nil
	}
	names := credentialAttrs[ac.Kind]
	if ac.Kind == "headers" {
		names = nil
		for n := range attrs {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var out hcl.Diagnostics
	for _, n := range names {
		a, ok := attrs[n]
		if !ok || !isLiteral(a.Expr) {
			continue
		}
		if v, d := a.Expr.Value(nil); d.HasErrors() || v.IsNull() || (v.Type() == cty.String && v.AsString() == "") {
			continue
		}
		rng := a.Expr.Range()
		out = append(out, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Literal credential",
			Detail:   fmt.Sprintf("%s in auth %q is written in the file; read it from the environment or a file instead, e.g. %s = env(\"MY_%s\"), so it stays out of the pipeline file, its history and the repository.", n, ac.Kind, n, strings.ToUpper(strings.ReplaceAll(n, "-", "_"))),
			Subject:  &rng,
		})
	}
	return out
}

// isLiteral reports whether e is a constant: no variable and no function
// call (env, file) anywhere in it.
func isLiteral(e hcl.Expression) bool {
	if len(e.Variables()) > 0 {
		return false
	}
	se, ok := e.(hclsyntax.Expression)
	if !ok {
		return false
	}
	literal := true
	hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, call := n.(*hclsyntax.FunctionCallExpr); call {
			literal = false
		}
		return nil
	})
	return literal
}

func (ac *AuthConfig) build(ctx *hcl.EvalContext, dir string) (*Authenticator, hcl.Diagnostics) {
	a := &Authenticator{}
	switch ac.Kind {
	case "bearer":
		cfg := bearerConfig{Header: "Authorization", Prefix: "Bearer "}
		if diags := gohcl.DecodeBody(ac.Body, ctx, &cfg); diags.HasErrors() {
			return nil, diags
		}
		a.impl = &headerAuth{values: map[string]string{cfg.Header: cfg.Prefix + cfg.Token}}
		a.secrets = []string{cfg.Token}
		a.headers = []string{cfg.Header}
	case "basic":
		var cfg basicConfig
		if diags := gohcl.DecodeBody(ac.Body, ctx, &cfg); diags.HasErrors() {
			return nil, diags
		}
		a.impl = &basicAuth{user: cfg.Username, pass: cfg.Password}
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(cfg.Username, cfg.Password)
		enc := strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
		a.secrets = []string{cfg.Password, enc}
	case "api_key":
		cfg := apiKeyConfig{In: "header"}
		if diags := gohcl.DecodeBody(ac.Body, ctx, &cfg); diags.HasErrors() {
			return nil, diags
		}
		switch cfg.In {
		case "header":
			a.impl = &headerAuth{values: map[string]string{cfg.Name: cfg.Value}}
			a.headers = []string{cfg.Name}
		case "query":
			a.impl = &queryAuth{name: cfg.Name, value: cfg.Value}
			a.params = []string{cfg.Name}
		default:
			return nil, hcl.Diagnostics{errorAt(cfg.InRange, "Invalid api_key location",
				fmt.Sprintf("in is %q; the key goes in a \"header\" or the \"query\".", cfg.In))}
		}
		a.secrets = []string{cfg.Value}
	case "headers":
		attrs, diags := ac.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, diags
		}
		h := &headerAuth{values: map[string]string{}}
		for name, attr := range attrs {
			var v string
			if d := gohcl.DecodeExpression(attr.Expr, ctx, &v); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			h.values[name] = v
			a.secrets = append(a.secrets, v)
			a.headers = append(a.headers, name)
		}
		if len(attrs) == 0 {
			diags = append(diags, errorAt(ac.DefRange, "Empty headers auth",
				`List the headers that authenticate, e.g. auth "headers" { X-Auth-Key = env("ARRIVY_AUTH_KEY") }.`))
		}
		if diags.HasErrors() {
			return nil, diags
		}
		sort.Strings(a.headers)
		a.impl = h
	case "oauth2":
		cfg := oauth2Config{ClientAuth: "body"}
		if diags := gohcl.DecodeBody(ac.Body, ctx, &cfg); diags.HasErrors() {
			return nil, diags
		}
		var diags hcl.Diagnostics
		if cfg.ClientAuth != "body" && cfg.ClientAuth != "basic" {
			diags = append(diags, errorAt(cfg.ClientAuthRange, "Invalid client_auth",
				fmt.Sprintf("client_auth is %q; the client credentials go in the form \"body\" or as HTTP \"basic\" auth.", cfg.ClientAuth)))
		}
		if cfg.RefreshToken != "" && cfg.RefreshTokenFile != "" {
			diags = append(diags, errorAt(cfg.RefreshFileRange, "Two refresh tokens",
				"Set refresh_token or refresh_token_file, not both: the file is where a rotated refresh token is kept for the next run."))
		}
		if u, err := url.Parse(cfg.TokenURL); err != nil || u.Scheme == "" || u.Host == "" {
			diags = append(diags, errorAt(ac.DefRange, "Invalid token_url", fmt.Sprintf("token_url %q is not an absolute http(s) URL.", cfg.TokenURL)))
		}
		if diags.HasErrors() {
			return nil, diags
		}
		o := &oauth2Auth{cfg: cfg, refresh: cfg.RefreshToken}
		if cfg.RefreshTokenFile != "" && !filepath.IsAbs(cfg.RefreshTokenFile) {
			o.cfg.RefreshTokenFile = filepath.Join(dir, cfg.RefreshTokenFile)
		}
		a.impl = o
		a.secrets = []string{cfg.ClientSecret, cfg.RefreshToken}
		return a, nil
	default:
		return nil, hcl.Diagnostics{errorAt(ac.DefRange, "Unknown auth kind",
			fmt.Sprintf("There is no auth %q.%s Auth kinds: %s.", ac.Kind, didYouMean(ac.Kind, authKinds), strings.Join(authKinds, ", ")))}
	}
	return a, nil
}

// headerAuth sets fixed headers: bearer, api_key in a header, headers.
type headerAuth struct{ values map[string]string }

func (h *headerAuth) apply(_ context.Context, req *http.Request) error {
	for k, v := range h.values {
		req.Header.Set(k, v)
	}
	return nil
}

type basicAuth struct{ user, pass string }

func (b *basicAuth) apply(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(b.user, b.pass)
	return nil
}

type queryAuth struct{ name, value string }

func (q *queryAuth) apply(_ context.Context, req *http.Request) error {
	v := req.URL.Query()
	v.Set(q.name, q.value)
	req.URL.RawQuery = v.Encode()
	return nil
}

// oauth2Auth gets an access token from the token endpoint, by the
// refresh_token grant when it has a refresh token and by
// client_credentials otherwise, and caches it until shortly before it
// expires. A refresh token the server rotates replaces the old one for the
// rest of the run and for the next run too: in the engine's source state
// (etl_source_state), and in refresh_token_file when one is configured.
type oauth2Auth struct {
	cfg    oauth2Config
	client *Client // for the token request: retries, timeouts, redaction

	mu      sync.Mutex
	token   string
	expiry  time.Time // zero: no known expiry
	refresh string    // the current refresh token
	loaded  bool      // refresh_token_file has been read

	state     engine.SourceState // this run's; nil without a warehouse
	stateRead bool               // state has been consulted this run
}

func (o *oauth2Auth) useState(st engine.SourceState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state, o.stateRead = st, false
}

// origin is the digest of the configured refresh token that a kept one
// descends from.
func (o *oauth2Auth) origin() string {
	sum := sha256.Sum256([]byte(o.cfg.RefreshToken + "\x00" + o.cfg.RefreshTokenFile))
	return hex.EncodeToString(sum[:])
}

// expirySkew renews a token this long before it expires.
const expirySkew = 30 * time.Second

func (o *oauth2Auth) apply(ctx context.Context, req *http.Request) error {
	tok, err := o.current(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

func (o *oauth2Auth) invalidate() {
	o.mu.Lock()
	o.token = ""
	o.mu.Unlock()
}

func (o *oauth2Auth) current(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token != "" && (o.expiry.IsZero() || time.Now().Before(o.expiry.Add(-expirySkew))) {
		return o.token, nil
	}
	if o.cfg.RefreshTokenFile != "" && !o.loaded {
		b, err := os.ReadFile(o.cfg.RefreshTokenFile)
		if err != nil {
			return "", fmt.Errorf("oauth2: read refresh_token_file: %w", err)
		}
		o.refresh = strings.TrimSpace(string(b))
		o.client.AddSecret(o.refresh)
		o.loaded = true
	}
	if o.state != nil && !o.stateRead && o.cfg.RefreshTokenFile == "" && o.refresh != "" {
		o.stateRead = true
		v, ok, err := o.state.Get(ctx, refreshTokenKey)
		if err != nil {
			return "", fmt.Errorf("oauth2: read the kept refresh token: %w", err)
		}
		if from, kept, _ := strings.Cut(v, " "); ok && kept != "" && from == o.origin() {
			o.client.AddSecret(kept)
			o.refresh = kept
		}
	}
	form := url.Values{}
	if o.refresh != "" {
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", o.refresh)
	} else {
		form.Set("grant_type", "client_credentials")
	}
	if len(o.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(o.cfg.Scopes, " "))
	}
	for k, v := range o.cfg.Params {
		form.Set(k, v)
	}
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}
	if o.cfg.ClientAuth == "basic" {
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(url.QueryEscape(o.cfg.ClientID), url.QueryEscape(o.cfg.ClientSecret))
		hdr.Set("Authorization", r.Header.Get("Authorization"))
		o.client.AddSecret(strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
	} else {
		form.Set("client_id", o.cfg.ClientID)
		form.Set("client_secret", o.cfg.ClientSecret)
	}
	resp, err := o.client.do(ctx, &Request{Method: http.MethodPost, URL: o.cfg.TokenURL, Header: hdr, Body: []byte(form.Encode()), Label: "oauth2 token"}, false)
	if err != nil {
		return "", fmt.Errorf("oauth2: get token: %w", err)
	}
	var tr struct {
		AccessToken  string      `json:"access_token"`
		TokenType    string      `json:"token_type"`
		ExpiresIn    json.Number `json:"expires_in"`
		RefreshToken string      `json:"refresh_token"`
	}
	if err := json.Unmarshal(resp.Body, &tr); err != nil {
		return "", fmt.Errorf("oauth2: token response from %s is not JSON: %w", resp.URL, err)
	}
	if tr.AccessToken == "" {
		return "", fmt.Errorf("oauth2: token response from %s has no access_token", resp.URL)
	}
	if tt := strings.ToLower(tr.TokenType); tt != "" && tt != "bearer" {
		return "", fmt.Errorf("oauth2: token_type %q is not supported (only bearer)", tr.TokenType)
	}
	o.client.AddSecret(tr.AccessToken)
	o.token = tr.AccessToken
	o.expiry = time.Time{}
	if n, err := tr.ExpiresIn.Float64(); err == nil && n > 0 {
		o.expiry = time.Now().Add(time.Duration(n * float64(time.Second)))
	}
	if tr.RefreshToken != "" && tr.RefreshToken != o.refresh {
		o.client.AddSecret(tr.RefreshToken)
		o.refresh = tr.RefreshToken
		if o.cfg.RefreshTokenFile != "" {
			if err := writeFileAtomic(o.cfg.RefreshTokenFile, []byte(tr.RefreshToken+"\n")); err != nil {
				return "", fmt.Errorf("oauth2: keep the rotated refresh token: %w", err)
			}
		} else if o.state != nil {
			if err := o.state.Put(ctx, refreshTokenKey, o.origin()+" "+tr.RefreshToken); err != nil {
				return "", fmt.Errorf("oauth2: keep the rotated refresh token: %w", err)
			}
		}
	}
	return o.token, nil
}

// writeFileAtomic replaces path with data, readable by its owner only, so a
// crash leaves the old content or the new, never a torn file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
