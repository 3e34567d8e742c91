package xml

import (
	"bytes"
	"io"
	"strconv"
	"unicode/utf8"
)

// Cleaner reads XML with every character XML 1.0 forbids removed: C0
// control characters other than tab, line feed and carriage return (a
// stray NUL or ^Z in a notes field), U+FFFE and U+FFFF, bytes that are not
// UTF-8 in a UTF-8 document, and character references to any of them
// (&#x1A;, &#26;). Go's XML parser rejects a whole document for one of
// them; a Cleaner lets the document parse with only that character lost,
// and counts what it removed.
//
// A document with a UTF-16 byte order mark passes through unchanged; one
// whose declaration names another encoding (ISO-8859-1) is cleaned of
// control characters and references only.
type Cleaner struct {
	r       io.Reader
	buf     []byte // read from r, not yet cleaned
	out     []byte // cleaned, not yet returned
	err     error  // r's error, once it has one
	sniffed bool
	mode    cleanMode
	removed int64
}

type cleanMode int

const (
	cleanUTF8  cleanMode = iota // controls, references and invalid UTF-8
	cleanASCII                  // controls and references only
	cleanNone                   // UTF-16: pass through
)

// NewCleaner returns a Cleaner reading from r.
func NewCleaner(r io.Reader) *Cleaner {
	return &Cleaner{r: r, buf: make([]byte, 0, 64<<10)}
}

// Removed is how many characters (or stray bytes) have been removed so far.
func (c *Cleaner) Removed() int64 { return c.removed }

// Read implements io.Reader.
func (c *Cleaner) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.err != nil {
			if len(c.buf) > 0 { // a tail that never completed: clean it as is
				c.clean(true)
				continue
			}
			return 0, c.err
		}
		if len(c.buf) == cap(c.buf) {
			nb := make([]byte, len(c.buf), 2*cap(c.buf))
			copy(nb, c.buf)
			c.buf = nb
		}
		n, err := c.r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if err != nil {
			c.err = err
		}
		c.clean(c.err != nil)
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// clean moves what of buf can be decided into out.
func (c *Cleaner) clean(atEOF bool) {
	if !c.sniffed {
		if len(c.buf) < 256 && !atEOF {
			return
		}
		c.mode = sniff(c.buf)
		c.sniffed = true
	}
	out, used, removed := cleanBytes(c.out[:0], c.buf, atEOF, c.mode)
	c.out = out
	c.removed += int64(removed)
	n := copy(c.buf, c.buf[used:])
	c.buf = c.buf[:n]
}

// Clean returns b with the characters a Cleaner removes removed, and how
// many there were. b itself is not changed.
func Clean(b []byte) ([]byte, int) {
	mode := sniff(b)
	if mode != cleanNone && clean(b, mode) {
		return b, 0
	}
	out, _, removed := cleanBytes(make([]byte, 0, len(b)), b, true, mode)
	return out, removed
}

// clean reports quickly whether b needs no cleaning.
func clean(b []byte, mode cleanMode) bool {
	for _, x := range b {
		if x < 0x20 && x != '\t' && x != '\n' && x != '\r' {
			return false
		}
	}
	if bytes.Contains(b, []byte("&#")) {
		return false
	}
	if mode == cleanUTF8 {
		if !utf8.Valid(b) || bytes.Contains(b, []byte("\uFFFE")) || bytes.Contains(b, []byte("\uFFFF")) {
			return false
		}
	}
	return true
}

// sniff decides how to clean a document from its first bytes.
func sniff(b []byte) cleanMode {
	if bytes.HasPrefix(b, []byte{0xFE, 0xFF}) || bytes.HasPrefix(b, []byte{0xFF, 0xFE}) {
		return cleanNone
	}
	b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
	if !bytes.HasPrefix(b, []byte("<?xml")) {
		return cleanUTF8
	}
	end := bytes.Index(b, []byte("?>"))
	if end < 0 {
		return cleanUTF8
	}
	decl := bytes.ToLower(b[:end])
	i := bytes.Index(decl, []byte("encoding"))
	if i < 0 {
		return cleanUTF8
	}
	rest := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n=")
	rest = bytes.Trim(rest, `"' `)
	if j := bytes.IndexAny(rest, `"' `); j >= 0 {
		rest = rest[:j]
	}
	switch string(rest) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return cleanUTF8
	case "utf-16", "utf-16le", "utf-16be":
		return cleanNone
	}
	return cleanASCII
}

// maxCharRef is the longest character reference cleanBytes looks at:
// "&#x10FFFF;" with leading zeros to spare.
const maxCharRef = 16

// cleanBytes appends src, cleaned, to dst. Unless atEOF it stops before a
// construct src cuts short (a character reference or a UTF-8 sequence) and
// reports how much of src it used.
func cleanBytes(dst, src []byte, atEOF bool, mode cleanMode) (out []byte, used, removed int) {
	if mode == cleanNone {
		return append(dst, src...), len(src), 0
	}
	i := 0
	start := 0 // src[start:i] is clean and not yet appended
	for i < len(src) {
		b := src[i]
		switch {
		case b < 0x20:
			if b == '\t' || b == '\n' || b == '\r' {
				i++
				continue
			}
			dst = append(dst, src[start:i]...)
			removed++
			i++
			start = i
		case b == '&':
			if i+1 >= len(src) {
				if !atEOF {
					return append(dst, src[start:i]...), i, removed
				}
				i++
				continue
			}
			if src[i+1] != '#' {
				i++
				continue
			}
			semi := bytes.IndexByte(src[i:min(len(src), i+maxCharRef)], ';')
			if semi < 0 {
				if !atEOF && len(src)-i < maxCharRef {
					return append(dst, src[start:i]...), i, removed
				}
				i++ // not a reference; the parser will say so
				continue
			}
			ref := src[i+2 : i+semi]
			var n uint64
			var err error
			if len(ref) > 0 && (ref[0] == 'x' || ref[0] == 'X') {
				n, err = strconv.ParseUint(string(ref[1:]), 16, 32)
			} else {
				n, err = strconv.ParseUint(string(ref), 10, 32)
			}
			if err == nil && !allowed(rune(n)) {
				dst = append(dst, src[start:i]...)
				removed++
				i += semi + 1
				start = i
				continue
			}
			i += semi + 1
		case b < utf8.RuneSelf || mode == cleanASCII:
			i++
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size <= 1 {
				if !atEOF && !utf8.FullRune(src[i:]) {
					return append(dst, src[start:i]...), i, removed
				}
				dst = append(dst, src[start:i]...)
				removed++
				i++
				start = i
				continue
			}
			if !allowed(r) {
				dst = append(dst, src[start:i]...)
				removed++
				i += size
				start = i
				continue
			}
			i += size
		}
	}
	return append(dst, src[start:]...), len(src), removed
}

// allowed reports whether XML 1.0 allows r (its Char production).
func allowed(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}
