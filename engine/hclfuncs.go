package engine

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// configEnv holds what the config-time functions env(), file() and
// sensitive() need, and collects the secrets among the values they return:
// every message the engine prints or stores is redacted of them (see
// addSecret for what of a value is secret).
type configEnv struct {
	dir     string // pipeline file's directory
	lookup  func(string) (string, bool)
	strict  bool         // a missing env var without default is an error (run), else a warning (validate)
	secrets []string     // secret values and parts of values returned by env(), file() and sensitive()
	missing []unsetValue // env vars unset and files unreadable, without strict
}

// evalContext is the HCL evaluation context of a pipeline file: the
// config-time functions env(name[, default]), file(path) and
// sensitive(value).
func (c *configEnv) evalContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":       c.envFunc(),
			"file":      c.fileFunc(),
			"sensitive": c.sensitiveFunc(),
		},
	}
}

// ConfigFunctions documents the config-time HCL functions.
var ConfigFunctions = []struct{ Signature, Doc, Example string }{
	{"env(name[, default])", "The environment variable's value; the default when it is unset. An unset variable without a default fails `etl run` (and is a warning in `etl validate`). The value is a secret, redacted from every log line, error and history row — except, when it is a URL, its origin and path (see Secrets).", `token = env("HUBSPOT_TOKEN")`},
	{"file(path)", "The file's contents, with one trailing newline removed; the path is relative to the pipeline file. A secret like env().", `password = file("/run/secrets/genius_password")`},
	{"sensitive(value)", "The value, unchanged, marked secret as a whole: a URL's origin and path are redacted too. For a URL that is itself a credential, such as a webhook URL with its key in the path.", `url = sensitive(env("ARRIVY_EXPORT_URL"))`},
}

func (c *configEnv) envFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Reads an environment variable.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, fmt.Errorf("env takes a name and at most one default, got %d arguments", len(args))
			}
			name := args[0].AsString()
			if v, ok := c.lookup(name); ok {
				c.addSecret(v)
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			if c.strict {
				return cty.NilVal, fmt.Errorf("environment variable %s is not set; set it, or give a default: env(%q, \"…\")", name, name)
			}
			c.missing = append(c.missing, unsetValue{fn: "env", arg: name, shown: name})
			return cty.StringVal(""), nil
		},
	})
}

func (c *configEnv) fileFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if !filepath.IsAbs(p) {
				p = filepath.Join(c.dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				if !c.strict {
					c.missing = append(c.missing, unsetValue{fn: "file", arg: args[0].AsString(), shown: p})
					return cty.StringVal(""), nil
				}
				return cty.NilVal, fmt.Errorf("read %s: %w", p, err)
			}
			s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			c.addSecret(s)
			return cty.StringVal(s), nil
		},
	})
}

func (c *configEnv) sensitiveFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Marks a value secret as a whole.",
		Params:      []function.Parameter{{Name: "value", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v := args[0].AsString()
			c.secrets = append(c.secrets, v)
			c.secrets = append(c.secrets, embeddedPasswords(v)...)
			return args[0], nil
		},
	})
}

// addSecret remembers what of an env() or file() value to redact. Very
// short values are not redacted: replacing every "1" in a message would
// make it unreadable, and a one-character secret protects nothing.
//
// A value is a secret as a whole, unless it is an absolute URL
// (scheme://host…): then its origin (scheme, host, port) and path are
// shown, so that a log line or an error says which server answered, and
// its credentials are secret: the userinfo password, the values of query
// parameters whose names say they carry one (api_key, token, sig, …) and
// the fragment. sensitive() makes a URL secret as a whole.
//
// A connection string's password is a secret of its own, since it may be
// printed apart from the string (a driver error, a value a user typed into
// a CRM): URL userinfo (scheme://user:pw@host), MySQL DSNs (user:pw@tcp(…)),
// and key=value strings (password=pw).
func (c *configEnv) addSecret(v string) {
	if len(v) < minSecret {
		return
	}
	if parts, ok := urlSecrets(v); ok {
		c.secrets = append(c.secrets, parts...)
		return
	}
	c.secrets = append(c.secrets, v)
	c.secrets = append(c.secrets, embeddedPasswords(v)...)
}

// credentialParamRE matches the names of query parameters that carry
// credentials.
var credentialParamRE = regexp.MustCompile(`(?i)key|token|secret|pass|pwd|sig|auth|credential|session|code`)

// urlSecrets returns the secret parts of v when v is an absolute URL with a
// host (ok false otherwise): see addSecret.
func urlSecrets(v string) (parts []string, ok bool) {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return nil, false
	}
	parts = embeddedPasswords(v)
	if u.User != nil && u.User.Username() != "" {
		if _, hasPw := u.User.Password(); !hasPw && strings.Contains(v, u.User.Username()+"@") {
			// scheme://token@host: a user name alone is a credential.
			parts = append(parts, u.User.Username())
		}
	}
	for name, vals := range u.Query() {
		if credentialParamRE.MatchString(name) {
			parts = append(parts, vals...)
		}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if name, val, found := strings.Cut(kv, "="); found && credentialParamRE.MatchString(name) {
			parts = append(parts, val) // as written
		}
	}
	parts = append(parts, u.Fragment)
	return parts, true
}

var (
	userinfoRE = regexp.MustCompile(`^(?:[A-Za-z][A-Za-z0-9+.-]*://)?[^:/@\s]*:([^@\s]+)@`)
	keyvalueRE = regexp.MustCompile(`(?i)\b(?:password|passwd|pwd)\s*=\s*('[^']*'|[^\s;&]+)`)
)

// embeddedPasswords finds the passwords inside a connection string.
func embeddedPasswords(v string) []string {
	var out []string
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
	}
	if m := userinfoRE.FindStringSubmatch(v); m != nil {
		out = append(out, m[1])
		if pw, err := url.PathUnescape(m[1]); err == nil {
			out = append(out, pw)
		}
	}
	for _, m := range keyvalueRE.FindAllStringSubmatch(v, -1) {
		out = append(out, strings.Trim(m[1], "'"))
	}
	return out
}

// redactingState is a SourceState whose values become secrets of the run.
type redactingState struct {
	SourceState
	r *Redactor
}

func (s redactingState) Get(ctx context.Context, key string) (string, bool, error) {
	v, ok, err := s.SourceState.Get(ctx, key)
	if ok {
		s.r.Add(v)
	}
	return v, ok, err
}

func (s redactingState) Put(ctx context.Context, key, value string) error {
	s.r.Add(value)
	return s.SourceState.Put(ctx, key, value)
}
