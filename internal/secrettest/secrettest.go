// Package secrettest gives tests that look for leaked secrets the forms a
// secret can take in what etl prints and stores, produced by the standard
// library's own encoders (not by the engine's redactor, which they check),
// and a search for any of them in a text.
package secrettest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// Forms returns s as is; percent-encoded as a query value, a path segment
// and inside a URL's path, with upper- and lowercase hex digits; as the
// inside of a JSON string (with and without HTML escaping, and with
// non-ASCII escaped as \uXXXX); Go-quoted; and base64 in both alphabets,
// with and without padding.
func Forms(s string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, f := range []string{s, url.QueryEscape(s), url.PathEscape(s), (&url.URL{Path: s}).EscapedPath()} {
		add(f)
		add(lowerHex(f))
	}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		_ = enc.Encode(s)
		j := strings.TrimSpace(b.String())
		add(j[1 : len(j)-1])
	}
	q := strconv.QuoteToASCII(s)
	add(q[1 : len(q)-1])
	q = strconv.Quote(s)
	add(q[1 : len(q)-1])
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		add(enc.EncodeToString([]byte(s)))
	}
	return out
}

// lowerHex rewrites the hex digits of %XX escapes in lowercase.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lower(b[i+1])
			b[i+2] = lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// Find returns the name of the first secret found in text in any of its
// forms, and the form found; "" when none is.
func Find(text string, secrets map[string]string) (name, form string) {
	for n, s := range secrets {
		for _, f := range Forms(s) {
			if strings.Contains(text, f) {
				return n, f
			}
		}
	}
	return "", ""
}

// Excerpt is text around the first occurrence of form, for a failure
// message that shows where the leak is.
func Excerpt(text, form string) string {
	i := strings.Index(text, form)
	if i < 0 {
		return ""
	}
	lo, hi := max(0, i-200), min(len(text), i+len(form)+100)
	return text[lo:hi]
}
