package functions

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/mail"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// email: trim, lower, validate.
func emailFunc(args ...any) (any, error) {
	s, ok := text(args[0])
	if !ok {
		if args[0] == nil {
			return nil, nil
		}
		return nil, typeError("email", args[0])
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return nil, nil
	}
	addr, ascii := asciiLower(t)
	if !ascii {
		addr = strings.ToLower(t)
	}
	if msg := checkEmail(addr); msg != "" {
		return nil, valueError("email", args[0], "%s", msg)
	}
	if addr == s {
		if _, isString := args[0].(string); isString {
			return args[0], nil // unchanged: no new string to box
		}
	}
	return addr, nil
}

// asciiLower lower-cases an ASCII string, returning s itself when it has no
// upper-case letter. ascii is false (and the result unusable) when s has a
// non-ASCII byte.
func asciiLower(s string) (string, bool) {
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return "", false
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return s, true
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b), true
}

// checkEmail says why addr is not one bare address, or "" when it is. The
// common case (a dot-atom local part and a domain of letters, digits and
// hyphens) is checked by hand; anything else is left to net/mail.
func checkEmail(addr string) string {
	if len(addr) > 254 {
		return "is longer than 254 characters"
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return "has no @"
	}
	local, domain := addr[:at], addr[at+1:]
	if len(local) > 64 {
		return "has a local part longer than 64 characters"
	}
	if isDotAtom(local, isAtext) && isDotAtom(domain, isHostChar) && strings.IndexByte(domain, '.') > 0 {
		return ""
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil {
		return "is not an email address: " + strings.TrimPrefix(err.Error(), "mail: ")
	}
	if parsed.Name != "" || parsed.Address != addr {
		return "is not a bare address (it has a display name, brackets, quotes or comments)"
	}
	if d := parsed.Address[strings.LastIndexByte(parsed.Address, '@')+1:]; !strings.Contains(d, ".") {
		return "has no dot in its domain"
	}
	return ""
}

// isDotAtom reports whether s is non-empty labels of ok bytes joined by
// single dots.
func isDotAtom(s string, ok func(byte) bool) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		prevDot = false
		if !ok(c) {
			return false
		}
	}
	return true
}

// isAtext reports whether c is an RFC 5322 atext byte (ASCII).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// isHostChar reports whether c may appear in a lower-case host name label.
func isHostChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}

// phone: digits only, 10 to 15 of them.
func phoneFunc(args ...any) (any, error) {
	var s string
	switch v := args[0].(type) {
	case nil:
		return nil, nil
	case string:
		s = v
	case []byte:
		s = string(v)
	case json.Number:
		s = string(v)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		s = format(v)
	case float32, float64:
		f := toFloat64(v)
		if f != float64(int64(f)) {
			return nil, valueError("phone", v, "is not a whole number")
		}
		s = format(int64(f))
	default:
		return nil, typeError("phone", args[0])
	}
	var buf [15]byte
	n, letter, blank := 0, false, true
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case '0' <= c && c <= '9':
				if n < len(buf) {
					buf[n] = c
				}
				n++
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
				letter = true
			}
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				blank = false
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unicode.IsLetter(r) {
			letter = true
		}
		if !unicode.IsSpace(r) {
			blank = false
		}
	}
	if blank {
		return nil, nil
	}
	if n < 10 || n > 15 {
		return nil, valueError("phone", args[0], "has %d digits, want 10 to 15", n)
	}
	if letter {
		return nil, valueError("phone", args[0], "has letters, want digits and punctuation only")
	}
	if n == len(s) {
		if _, isString := args[0].(string); isString {
			return args[0], nil // already digits only
		}
	}
	return string(buf[:n]), nil
}

// trim, lower, upper: string functions that never fail.
func trimFunc(args ...any) (any, error) {
	return mapString(args[0], strings.TrimSpace)
}

func lowerFunc(args ...any) (any, error) {
	return mapString(args[0], strings.ToLower)
}

func upperFunc(args ...any) (any, error) {
	return mapString(args[0], strings.ToUpper)
}

// mapString applies f to v formatted as text, returning v itself when it is
// a string that f leaves unchanged (strings.TrimSpace, ToLower and ToUpper
// return their argument then, so this costs no allocation).
func mapString(v any, f func(string) string) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if r := f(x); r != x {
			return r, nil
		}
		return v, nil
	}
	return f(format(v)), nil
}

// nullif: nil when the value equals the other.
func nullifFunc(args ...any) (any, error) {
	if args[0] == nil || looseEqual(args[0], args[1]) {
		return nil, nil
	}
	return args[0], nil
}

// looseEqual compares two values the way nullif documents: numbers by
// value, a string against a number as a decimal number, strings exactly.
func looseEqual(a, b any) bool {
	if b == nil {
		return a == nil
	}
	as, aText := a.(string)
	bs, bText := b.(string)
	if aText && bText {
		return as == bs
	}
	_, aNum := a.(Decimal)
	_, bNum := b.(Decimal)
	aNum = aNum || isNumber(a)
	bNum = bNum || isNumber(b)
	switch {
	case aNum && bNum, aNum && bText, aText && bNum:
		x, xNil, err := toDecimal("nullif", a)
		if err != nil || xNil {
			return false
		}
		y, yNil, err := toDecimal("nullif", b)
		if err != nil || yNil {
			return false
		}
		return x.Cmp(y) == 0
	}
	switch x := a.(type) {
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		if bText {
			return string(x) == bs
		}
	}
	if bb, ok := b.([]byte); ok && aText {
		return as == string(bb)
	}
	return reflect.DeepEqual(a, b)
}

// isNumber reports whether v is a Go number or a json.Number.
func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return true
	}
	return false
}

// coalesce: the first argument that is neither nil nor "".
func coalesceFunc(args ...any) (any, error) {
	for _, a := range args {
		switch x := a.(type) {
		case nil:
			continue
		case string:
			if x == "" {
				continue
			}
		}
		return a, nil
	}
	return nil, nil
}

// regexCache holds the compiled patterns of one Library. Patterns are
// normally literals, so it stays small; it stops growing at maxPatterns to
// bound memory when patterns come from data.
type regexCache struct {
	mu sync.RWMutex
	m  map[string]*regexp.Regexp
}

const maxPatterns = 512

func newRegexCache() *regexCache {
	return &regexCache{m: map[string]*regexp.Regexp{}}
}

func (c *regexCache) compile(pattern string) (*regexp.Regexp, error) {
	c.mu.RLock()
	re, ok := c.m[pattern]
	c.mu.RUnlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) < maxPatterns {
		c.m[pattern] = re
	}
	c.mu.Unlock()
	return re, nil
}

// replaceFunc is regex_replace.
func (c *regexCache) replaceFunc(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	pattern, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("regex_replace: the pattern is %s, want a string", describe(args[1]))
	}
	repl, ok := args[2].(string)
	if !ok {
		return nil, fmt.Errorf("regex_replace: the replacement is %s, want a string", describe(args[2]))
	}
	re, err := c.compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regex_replace: invalid pattern %s: %w", quote(pattern), err)
	}
	return re.ReplaceAllString(format(args[0]), repl), nil
}

// sha256Func is sha256.
func sha256Func(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	sum := sha256.Sum256([]byte(format(args[0])))
	return hex.EncodeToString(sum[:]), nil
}

// hmacSHA256Func is hmac_sha256: raw MAC bytes in a string.
func hmacSHA256Func(args ...any) (any, error) {
	if args[0] == nil || args[1] == nil {
		return nil, nil
	}
	m := hmac.New(sha256.New, []byte(format(args[0])))
	m.Write([]byte(format(args[1])))
	return string(m.Sum(nil)), nil
}

func base64EncodeFunc(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	return base64.StdEncoding.EncodeToString([]byte(format(args[0]))), nil
}

// base64DecodeFunc is base64_decode. Its errors never quote the value: it
// is usually a secret.
func base64DecodeFunc(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	s := strings.TrimSpace(format(args[0]))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return string(b), nil
		}
	}
	return nil, fmt.Errorf("base64_decode: the value (%d bytes, not shown) is not base64", len(s))
}

func nowUnixMsFunc(...any) (any, error) {
	return int(time.Now().UnixMilli()), nil
}

func secureEqualFunc(args ...any) (any, error) {
	if args[0] == nil || args[1] == nil {
		return false, nil
	}
	return subtle.ConstantTimeCompare([]byte(format(args[0])), []byte(format(args[1]))) == 1, nil
}

func nowUnixFunc(...any) (any, error) {
	return int(time.Now().Unix()), nil
}
