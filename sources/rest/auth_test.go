package rest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

const (
	secretToken = "tok-7f3a9c1e5b"
	secretKey   = "key-0d4e8b2f6a"
	secretPass  = "pw-9e2c4a7d1f"
)

var authEnv = map[string]string{"TOKEN": secretToken, "KEY": secretKey, "PASS": secretPass}

func TestAuthKinds(t *testing.T) {
	tests := []struct {
		name  string
		auth  string
		check func(r *http.Request) bool
	}{
		{
			name:  "bearer",
			auth:  `auth "bearer" { token = env("TOKEN") }`,
			check: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+secretToken },
		},
		{
			name: "basic with the API key as password (LeadConduit)",
			auth: `auth "basic" {
  username = "API"
  password = env("PASS")
}`,
			check: func(r *http.Request) bool {
				u, p, ok := r.BasicAuth()
				return ok && u == "API" && p == secretPass
			},
		},
		{
			name: "api_key in a header",
			auth: `auth "api_key" {
  name  = "X-API-Key"
  value = env("KEY")
}`,
			check: func(r *http.Request) bool { return r.Header.Get("X-API-Key") == secretKey },
		},
		{
			name: "api_key in the query",
			auth: `auth "api_key" {
  name  = "hapikey"
  value = env("KEY")
  in    = "query"
}`,
			check: func(r *http.Request) bool { return r.URL.Query().Get("hapikey") == secretKey },
		},
		{
			name: "custom headers (Arrivy)",
			auth: `auth "headers" {
  X-Auth-Key   = env("KEY")
  X-Auth-Token = env("TOKEN")
}`,
			check: func(r *http.Request) bool {
				return r.Header.Get("X-Auth-Key") == secretKey && r.Header.Get("X-Auth-Token") == secretToken
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bad atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tt.check(r) {
					bad.Add(1)
					writeJSON(w, 401, map[string]any{"status": "error", "category": "INVALID_AUTHENTICATION"})
					return
				}
				twoPages(w, r)
			}))
			defer srv.Close()
			s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging, tt.auth), authEnv)
			recs, err := read(t, s, nil)
			require.NoError(t, err)
			assert.Equal(t, []string{"1", "2", "3"}, ids(recs))
			assert.Zero(t, bad.Load())
		})
	}
}

// TestSecretsStayOut runs every auth kind against a server that echoes the
// request — URL, headers — into its error bodies, retries first (so the
// logs get lines) and then fails: neither the error nor the logs may hold a
// secret.
func TestSecretsStayOut(t *testing.T) {
	auths := map[string]string{
		"bearer":  `auth "bearer" { token = env("TOKEN") }`,
		"basic":   "auth \"basic\" {\nusername = \"API\"\npassword = env(\"PASS\")\n}",
		"api_key": "auth \"api_key\" {\nname = \"hapikey\"\nvalue = env(\"KEY\")\nin = \"query\"\n}",
		"headers": "auth \"headers\" {\nX-Auth-Key = env(\"KEY\")\nX-Auth-Token = env(\"TOKEN\")\n}",
	}
	for name, auth := range auths {
		t.Run(name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				echo := fmt.Sprintf("url=%s headers=%v", r.URL.String(), r.Header)
				if n.Add(1) < 3 {
					http.Error(w, echo, http.StatusServiceUnavailable)
					return
				}
				http.Error(w, echo, http.StatusForbidden)
			}))
			defer srv.Close()
			s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging, auth, fastRetry), authEnv)
			_, logs, err := readLogged(t, s, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "403 Forbidden")
			assert.Contains(t, logs, "retrying")
			basic := base64.StdEncoding.EncodeToString([]byte("API:" + secretPass))
			for _, secret := range []string{secretToken, secretKey, secretPass, basic} {
				assert.NotContains(t, err.Error(), secret)
				assert.NotContains(t, logs, secret)
				assert.NotContains(t, s.Describe(), secret)
			}
		})
	}
}

func TestRedirectToAnotherHostDropsCredentials(t *testing.T) {
	var got http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		writeJSON(w, 200, items(1, 2))
	}))
	defer other.Close()
	var sameHost http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/items":
			http.Redirect(w, r, "/moved", http.StatusFound)
		case "/moved":
			sameHost = r.Header.Clone()
			http.Redirect(w, r, other.URL+"/items", http.StatusTemporaryRedirect)
		}
	}))
	defer srv.Close()
	for _, auth := range []string{
		`auth "bearer" { token = env("TOKEN") }`,
		`auth "headers" { X-Auth-Key = env("KEY") }`,
	} {
		s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, auth), authEnv)
		recs, err := read(t, s, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"1", "2"}, ids(recs))
		assert.True(t, sameHost.Get("Authorization") != "" || sameHost.Get("X-Auth-Key") != "", "kept on the same host")
		assert.Empty(t, got.Get("Authorization"))
		assert.Empty(t, got.Get("X-Auth-Key"))
	}
}

// oauthServer is a token endpoint and an API that accepts its tokens.
type oauthServer struct {
	tokenCalls atomic.Int64
	grants     []string
	revoked    atomic.Bool // the API refuses the first token once
	rotate     bool        // each refresh returns a new refresh token
	alwaysDeny bool
}

func (o *oauthServer) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			require.NoError(t, r.ParseForm())
			n := o.tokenCalls.Add(1)
			o.grants = append(o.grants, r.PostForm.Get("grant_type")+":"+r.PostForm.Get("refresh_token"))
			if r.PostForm.Get("client_id") != "cid" || r.PostForm.Get("client_secret") != secretPass {
				writeJSON(w, 401, map[string]any{"error": "invalid_client"})
				return
			}
			resp := map[string]any{"access_token": fmt.Sprintf("access-%d-%s", n, secretToken), "token_type": "bearer", "expires_in": 1800}
			if o.rotate {
				resp["refresh_token"] = fmt.Sprintf("refresh-%d-%s", n+1, secretKey)
			}
			writeJSON(w, 200, resp)
		default:
			auth := r.Header.Get("Authorization")
			if o.alwaysDeny || !strings.HasPrefix(auth, "Bearer access-") || (auth == "Bearer access-1-"+secretToken && o.revoked.Load()) {
				writeJSON(w, 401, map[string]any{"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})
				return
			}
			if r.URL.Query().Get("after") == "p2" {
				o.revoked.Store(true) // the token dies between pages 1 and 2
			}
			twoPages(w, r)
		}
	}
}

func TestOAuth2(t *testing.T) {
	t.Run("client credentials: the token is cached", func(t *testing.T) {
		o := &oauthServer{}
		srv := httptest.NewServer(o.handler(t))
		defer srv.Close()
		s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging, `auth "oauth2" {
  token_url     = "`+srv.URL+`/oauth/token"
  client_id     = "cid"
  client_secret = env("PASS")
  scopes        = ["crm.objects.contacts.read"]
}`), authEnv)
		recs, err := read(t, s, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"1", "2", "3"}, ids(recs))
		// One token for both pages: it is cached until it expires.
		assert.Equal(t, int64(1), o.tokenCalls.Load())
		assert.Equal(t, []string{"client_credentials:"}, o.grants)
	})

	t.Run("a 401 is cured by one refresh, and a rotated refresh token is kept", func(t *testing.T) {
		o := &oauthServer{rotate: true}
		srv := httptest.NewServer(o.handler(t))
		defer srv.Close()
		dir := t.TempDir()
		file := filepath.Join(dir, "refresh_token")
		require.NoError(t, os.WriteFile(file, []byte("refresh-1-"+secretKey+"\n"), 0o600))
		s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging, `auth "oauth2" {
  token_url          = "`+srv.URL+`/oauth/token"
  client_id          = "cid"
  client_secret      = env("PASS")
  refresh_token_file = `+q(file)+`
}`), authEnv)
		recs, err := read(t, s, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"1", "2", "3"}, ids(recs))
		o.revoked.Store(true)
		recs, err = read(t, s, nil) // the cached token is refused: refresh once
		require.NoError(t, err)
		assert.Len(t, recs, 3)
		assert.Equal(t, []string{"refresh_token:refresh-1-" + secretKey, "refresh_token:refresh-2-" + secretKey}, o.grants)
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, "refresh-3-"+secretKey+"\n", string(b), "the rotated token is kept for the next run")
	})

	t.Run("a 401 that a refresh does not cure fails without secrets", func(t *testing.T) {
		o := &oauthServer{alwaysDeny: true}
		srv := httptest.NewServer(o.handler(t))
		defer srv.Close()
		s := mustLoad(t, lines(`url = "`+srv.URL+`/items"`, cursorPaging, `auth "oauth2" {
  token_url     = "`+srv.URL+`/oauth/token"
  client_id     = "cid"
  client_secret = env("PASS")
}`), authEnv)
		_, logs, err := readLogged(t, s, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "401 Unauthorized")
		assert.Equal(t, int64(2), o.tokenCalls.Load())
		for _, secret := range []string{secretToken, secretPass} {
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, logs, secret)
		}
	})
}

// memState is an in-memory engine.SourceState.
type memState map[string]string

func (m memState) Get(_ context.Context, k string) (string, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}

func (m memState) Put(_ context.Context, k, v string) error {
	m[k] = v
	return nil
}

// TestOAuth2RotatedRefreshTokenOutlivesTheRun runs against a provider that
// accepts only the newest refresh token it issued, as rotating providers
// do: with the token from env() unchanged, the second run must use the one
// the first run was given, kept in the source state.
func TestOAuth2RotatedRefreshTokenOutlivesTheRun(t *testing.T) {
	var mu sync.Mutex
	valid, issued := "refresh-0-"+secretKey, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			if r.Header.Get("Authorization") == "" {
				writeJSON(w, 401, map[string]any{"error": "no token"})
				return
			}
			twoPages(w, r)
			return
		}
		require.NoError(t, r.ParseForm())
		mu.Lock()
		defer mu.Unlock()
		if r.PostForm.Get("refresh_token") != valid {
			writeJSON(w, 400, map[string]any{"error": "invalid_grant"})
			return
		}
		issued++
		valid = fmt.Sprintf("refresh-%d-%s", issued, secretKey)
		writeJSON(w, 200, map[string]any{"access_token": fmt.Sprintf("access-%d-%s", issued, secretToken), "token_type": "bearer", "expires_in": 1800, "refresh_token": valid})
	}))
	defer srv.Close()
	env := map[string]string{"PASS": secretPass, "REFRESH": "refresh-0-" + secretKey}
	for k, v := range authEnv {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	cfg := lines(`url = "`+srv.URL+`/items"`, cursorPaging, `auth "oauth2" {
  token_url     = "`+srv.URL+`/oauth/token"
  client_id     = "cid"
  client_secret = env("PASS")
  refresh_token = env("REFRESH")
}`)
	state := memState{}
	readWith := func(st engine.SourceState) error {
		s := mustLoad(t, cfg, env) // a new process: nothing cached
		return s.Read(context.Background(), engine.ReadOptions{Location: time.UTC, State: st}, func(engine.Record) error { return nil })
	}
	require.NoError(t, readWith(state))
	require.NoError(t, readWith(state), "the second run refreshes with the rotated token")
	assert.Equal(t, 2, issued)
	assert.True(t, strings.HasSuffix(state["oauth2.refresh_token"], " refresh-2-"+secretKey))

	// Without the state, the configured token is dead by now.
	err := readWith(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid_grant")
	assert.NotContains(t, err.Error(), secretKey)

	// A re-authorized token configured by hand wins over the kept one.
	mu.Lock()
	valid = "refresh-fresh-" + secretKey
	mu.Unlock()
	env["REFRESH"] = "refresh-fresh-" + secretKey
	require.NoError(t, readWith(state))
}
