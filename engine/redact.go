package engine

import (
	"encoding/base64"
	"html"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// Redactor replaces secret values with "[redacted]" in text, in every form
// a secret takes on its way out (see secretForms), and removes the password
// of every URL in the text (scheme://user:password@host). Secrets can be
// added while a run goes on (a token a source obtains); it is safe for
// concurrent use.
//
// Redact runs on log lines, errors and rejects, not on every good record:
// the forms are worked out once, when a secret is added, into one
// strings.Replacer.
type Redactor struct {
	mu      sync.RWMutex
	secrets map[string]bool // as added
	r       *strings.Replacer
}

// NewRedactor returns a Redactor of the given secrets (values shorter than
// 4 bytes are ignored: replacing every "1" in a message would make it
// unreadable, and a one-character secret protects nothing).
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.add(secrets...)
	return r
}

func newRedactor(secrets []string) *Redactor { return NewRedactor(secrets...) }

// Add makes s a secret too (values shorter than 4 bytes are ignored).
func (r *Redactor) Add(s ...string) { r.add(s...) }

// minSecret is the length under which a value is not redacted.
const minSecret = 4

func (r *Redactor) add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		if len(s) < minSecret || r.secrets[s] {
			continue
		}
		if r.secrets == nil {
			r.secrets = map[string]bool{}
		}
		r.secrets[s] = true
		changed = true
	}
	if !changed {
		return
	}
	forms := map[string]bool{}
	for s := range r.secrets {
		for _, f := range secretForms(s) {
			forms[f] = true
		}
	}
	all := make([]string, 0, len(forms))
	for f := range forms {
		all = append(all, f)
	}
	// Longest first, so a secret containing another is replaced whole (the
	// replacer prefers the earlier of two matches at one position).
	sort.Slice(all, func(i, j int) bool {
		if len(all[i]) != len(all[j]) {
			return len(all[i]) > len(all[j])
		}
		return all[i] < all[j]
	})
	pairs := make([]string, 0, 2*len(all))
	for _, f := range all {
		pairs = append(pairs, f, "[redacted]")
	}
	r.r = strings.NewReplacer(pairs...)
}

// Redact returns s with every secret, in every form, replaced, and every
// URL's password removed. A nil Redactor only removes URL passwords.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		r.mu.RLock()
		rep := r.r
		r.mu.RUnlock()
		if rep != nil {
			s = rep.Replace(s)
		}
	}
	return RedactURLPasswords(s)
}

// RedactURLPasswords replaces the password of every URL in s
// (scheme://user:password@host) with "[redacted]", keeping the user name
// and the host: a warehouse URL given on the command line or in
// ETL_WAREHOUSE_URL is printed without its password though the pipeline
// never saw it as a secret. (A hand-written scan: a regexp took 20 times
// as long as the secrets' replacer on a log line with a URL.)
func RedactURLPasswords(s string) string {
	var b strings.Builder
	rest, done := s, 0
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			break
		}
		base := len(s) - len(rest)
		rest = rest[i+3:]
		if i == 0 || !isSchemeByte(s[base+i-1]) {
			continue
		}
		// user: up to ':' without / ? # @ or space; password: up to '@'
		// without space.
		colon := strings.IndexFunc(rest, func(r rune) bool { return strings.ContainsRune(":/?#@", r) || isSpace(r) })
		if colon < 0 || rest[colon] != ':' {
			continue
		}
		at := strings.IndexFunc(rest[colon+1:], func(r rune) bool { return r == '@' || isSpace(r) })
		if at <= 0 || rest[colon+1+at] != '@' {
			continue
		}
		pwStart := base + i + 3 + colon + 1
		if s[pwStart:pwStart+at] == "[redacted]" {
			continue
		}
		b.WriteString(s[done:pwStart])
		b.WriteString("[redacted]")
		done = pwStart + at
		rest = s[done:]
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v'
}

// secretForms returns the forms secret s takes in what the engine and its
// plugins print and store: as is; percent-encoded as a query value
// (url.QueryEscape, and with %20 for spaces as JavaScript's
// encodeURIComponent), as a path segment (url.PathEscape), inside a URL's
// path (url.URL.String) and userinfo, each also with lowercase hex digits;
// each of those JSON-escaped (Go's escaping of <>&, \uXXXX for non-ASCII as
// Python and others write it, \/ as PHP does) and Go-quoted (%q);
// HTML-escaped; and base64 in the standard and URL alphabets, with and
// without padding, including the part that is the same wherever the secret
// sits inside a longer encoded value ("user:secret" in a Basic header).
func secretForms(s string) []string {
	set := map[string]bool{}
	add := func(f string) {
		if len(f) >= minSecret {
			set[f] = true
		}
	}
	bases := []string{s, url.QueryEscape(s), strings.ReplaceAll(url.QueryEscape(s), "+", "%20"),
		url.PathEscape(s), (&url.URL{Path: s}).EscapedPath(), userinfoEscape(s)}
	for _, b := range bases {
		if b == "" {
			continue
		}
		for _, v := range []string{b, lowerHexEscapes(b)} {
			add(v)
			for _, j := range jsonForms(v) {
				add(j)
			}
			add(goQuoted(v, false))
			add(goQuoted(v, true))
			add(html.EscapeString(v))
			add(htmlTemplateEscape(v))
		}
	}
	for _, f := range base64Forms(s) {
		add(f)
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	return out
}

// userinfoEscape is s as url.URL writes it as a userinfo password.
func userinfoEscape(s string) string {
	u := url.UserPassword("u", s).String()
	return strings.TrimPrefix(u, "u:")
}

// lowerHexEscapes rewrites %XX escapes with lowercase hex digits.
func lowerHexEscapes(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			for _, k := range []int{i + 1, i + 2} {
				if b[k] >= 'A' && b[k] <= 'F' {
					b[k] += 'a' - 'A'
				}
			}
		}
	}
	return string(b)
}

// jsonForms returns s as the inside of a JSON string, the way the common
// encoders write it: with or without <>& escaped (Go escapes them), with
// or without non-ASCII as \uXXXX (Python's default), with or without / as
// \/ (PHP's default).
func jsonForms(s string) []string {
	var out []string
	for _, html := range []bool{false, true} {
		for _, ascii := range []bool{false, true} {
			for _, slash := range []bool{false, true} {
				out = append(out, jsonEscape(s, html, ascii, slash, false))
				if ascii {
					out = append(out, jsonEscape(s, html, ascii, slash, true))
				}
			}
		}
	}
	return out
}

func jsonEscape(s string, escHTML, ascii, slash, upperHex bool) string {
	const lower, upper = "0123456789abcdef", "0123456789ABCDEF"
	hex := lower
	if upperHex {
		hex = upper
	}
	u := func(b *strings.Builder, r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hex[(r>>shift)&0xF])
		}
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '/' && slash:
			b.WriteString(`\/`)
		case r < 0x20, escHTML && (r == '<' || r == '>' || r == '&'), r == '\u2028', r == '\u2029':
			u(&b, r)
		case ascii && r > 0x7E:
			if r > 0xFFFF {
				r -= 0x10000
				u(&b, 0xD800+(r>>10))
				u(&b, 0xDC00+(r&0x3FF))
			} else {
				u(&b, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// goQuoted is s as %q (or %+q) prints it, without the quotes.
func goQuoted(s string, ascii bool) string {
	q := strconv.Quote(s)
	if ascii {
		q = strconv.QuoteToASCII(s)
	}
	return q[1 : len(q)-1]
}

// htmlTemplateEscape is s as html/template escapes text (a status page).
func htmlTemplateEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "'", "&#39;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "+", "&#43;", "\x00", "\uFFFD").Replace(s)
}

// base64Forms returns s base64-encoded in the standard and URL alphabets,
// with and without padding; and, for each of the three positions s can
// start at within a longer encoded value, the characters that depend on s
// alone (when at least 6 of them).
func base64Forms(s string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString([]byte(s)))
	}
	n := len(s)
	for k := 0; k < 3; k++ {
		b := append(make([]byte, k, k+n), s...)
		from := (8*k + 5) / 6   // the first character after the prefix's bits
		to := (8 * (k + n)) / 6 // the characters made of s's bits only
		if to-from < 6 {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			out = append(out, enc.EncodeToString(b)[from:to])
		}
	}
	return out
}

// SecretHolder is a Source that holds credentials of its own (an auth
// block's values, a secrets attribute): the engine redacts them, as a
// whole, from everything a run prints and stores, even when they are
// written in the pipeline file or come from an env() URL whose origin
// would otherwise be shown.
type SecretHolder interface {
	Secrets() []string
}

// redactDiagnostics removes the secrets from diagnostics' texts in place.
func redactDiagnostics(diags hcl.Diagnostics, r *Redactor) {
	for _, d := range diags {
		d.Summary = r.Redact(d.Summary)
		d.Detail = r.Redact(d.Detail)
	}
}
