package engine

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// configEnv holds what the config-time functions env() and file() need, and
// collects the values they return: those may be secrets, and every message
// the engine prints or stores is redacted of them.
type configEnv struct {
	dir     string // pipeline file's directory
	lookup  func(string) (string, bool)
	strict  bool         // a missing env var without default is an error (run), else a warning (validate)
	secrets []string     // values returned by env() and file()
	missing []unsetValue // env vars unset and files unreadable, without strict
}

// evalContext is the HCL evaluation context of a pipeline file: the
// config-time functions env(name[, default]) and file(path).
func (c *configEnv) evalContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  c.envFunc(),
			"file": c.fileFunc(),
		},
	}
}

// ConfigFunctions documents the config-time HCL functions.
var ConfigFunctions = []struct{ Signature, Doc, Example string }{
	{"env(name[, default])", "The environment variable's value; the default when it is unset. An unset variable without a default fails `etl run` (and is a warning in `etl validate`). Values are treated as secrets: redacted from every log line, error and history row.", `token = env("HUBSPOT_TOKEN")`},
	{"file(path)", "The file's contents, with one trailing newline removed; the path is relative to the pipeline file. Treated as a secret like env().", `password = file("/run/secrets/genius_password")`},
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

// addSecret remembers a value to redact. Very short values are not
// redacted: replacing every "1" in a message would make it unreadable, and a
// one-character secret protects nothing.
//
// A connection string's password is a secret of its own, since it may be
// printed apart from the string (a driver error, a value a user typed into
// a CRM): URL userinfo (scheme://user:pw@host), MySQL DSNs (user:pw@tcp(…)),
// and key=value strings (password=pw).
func (c *configEnv) addSecret(v string) {
	if len(v) < 4 {
		return
	}
	c.secrets = append(c.secrets, v)
	for _, pw := range embeddedPasswords(v) {
		if len(pw) >= 4 {
			c.secrets = append(c.secrets, pw, url.QueryEscape(pw))
		}
	}
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

// Redactor replaces secret values with "[redacted]" in text. Secrets can
// be added while a run goes on (a token a source obtains); it is safe for
// concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	r       *strings.Replacer
}

func newRedactor(secrets []string) *Redactor {
	r := &Redactor{}
	r.add(secrets...)
	return r
}

// Add makes s a secret too (values shorter than 4 bytes are ignored, as in
// configEnv.addSecret).
func (r *Redactor) Add(s string) {
	if len(s) >= 4 {
		r.add(s)
	}
}

func (r *Redactor) add(secrets ...string) {
	if len(secrets) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, secrets...)
	s := append([]string(nil), r.secrets...)
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	pairs := make([]string, 0, 2*len(s))
	for _, v := range s {
		pairs = append(pairs, v, "[redacted]")
	}
	r.r = strings.NewReplacer(pairs...)
}

// Redact returns s with every secret replaced.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.r
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
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
