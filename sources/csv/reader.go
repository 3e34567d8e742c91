package csv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	// bufSize is the reader's buffer size; it grows only for a record that
	// does not fit, and shrinks back after it.
	bufSize = 64 << 10
	// maxRecordBytes bounds one record's text, and so the reader's memory.
	maxRecordBytes = 16 << 20
	// maxRawBytes bounds Raw of a record rejected for being too long.
	maxRawBytes = 4 << 10
	// maxFields bounds the fields of a record, the header's included: a
	// 16 MiB line of commas would otherwise hold 16 million of them.
	maxFields = 10000
)

// errTooLong is fill's report that a record would exceed the reader's
// maxBytes.
var errTooLong = errors.New("record too long")

// row is one record as the reader found it.
type row struct {
	line   int      // 1-based line where the record starts
	raw    string   // the record's text without its line terminator
	fields []string // the values; nil when err is set; reused by the next read
	err    error    // non-nil: the record could not be parsed
}

// span locates one field's value in the record's text.
type span struct {
	start, end int
	escaped    bool // quoted and holds doubled quotes to undo
}

// scanStatus is what scan found at the start of the buffered input.
type scanStatus int

const (
	stRecord        scanStatus = iota // a record: spans, end, next
	stMore                            // more input is needed to decide
	stEOF                             // no input left
	stEmpty                           // an empty line to skip: next
	stBareQuote                       // a quote inside an unquoted field
	stBadQuoted                       // a character after a closing quote
	stUnterminated                    // end of input inside a quoted field
	stTooManyLines                    // a quoted field runs past maxLines
	stTooManyFields                   // the record has more than maxFields fields
)

type scanResult struct {
	st    scanStatus
	end   int // end of the record's text (before its terminator)
	next  int // where the next record starts
	nl    int // line breaks inside the record's quoted fields
	field int // 0-based field of a syntax error
}

// reader reads RFC 4180 records from a stream, one at a time, in memory
// bounded by maxBytes whatever the stream's size. Unlike encoding/csv it
// keeps each record's raw text, accepts LF, CRLF and CR line ends, keeps
// quoted fields byte for byte, and after a bad record goes on with the next
// line: see next for the recovery rule.
type reader struct {
	src  io.Reader
	buf  []byte
	r, w int   // unread input is buf[r:w]
	eof  bool  // src is exhausted
	err  error // src failed; reported when the input before it is used up
	bom  bool  // the start of input was checked for a BOM
	line int   // line number of buf[r]

	comma     byte
	stop      [256]bool // bytes that end an unquoted field's run
	skipEmpty bool
	maxLines  int // most physical lines one record may span
	maxBytes  int // most bytes one record may have

	// want is the number of fields every record must have (0: any), as
	// wantFrom says ("header has", "columns lists"); names are the fields'
	// names.
	want     int
	wantFrom string
	names    []string

	spans   []span   // the fields of the record being read
	fields  []string // the values handed out in row.fields
	scratch []byte   // where accept builds a record's one string
}

func newReader(src io.Reader, comma byte, skipEmpty bool, maxLines int) *reader {
	rd := &reader{
		src:       src,
		buf:       make([]byte, bufSize),
		line:      1,
		comma:     comma,
		skipEmpty: skipEmpty,
		maxLines:  maxLines,
		maxBytes:  maxRecordBytes,
	}
	for _, c := range []byte{comma, '"', '\n', '\r'} {
		rd.stop[c] = true
	}
	return rd
}

// next reads the next record into out. It returns io.EOF at the end of the
// input, and a "read line N: …" error when the input cannot be read; a record
// that cannot be parsed is no error: out.err says why.
//
// Recovery: a record whose quoting or field count is wrong is rejected by
// its first physical line only, and reading resumes on the next line. For a
// one-line record that is the whole record. For a record that a quoted field
// carried over several lines (or that hit the end of input or maxLines inside
// a quote) it means the opening quote is taken as stray: one line is
// rejected instead of the rest of the file. A record with invalid UTF-8 or a
// NUL byte but sound quoting is rejected whole.
func (rd *reader) next(out *row) error {
	if err := rd.skipBOM(); err != nil {
		return err
	}
	for {
		b := rd.buf[rd.r:rd.w]
		res := rd.scan(b)
		switch res.st {
		case stMore:
			if err := rd.fill(); err != nil {
				if errors.Is(err, errTooLong) {
					return rd.rejectLong(out, res.nl)
				}
				return fmt.Errorf("read line %d: %w", rd.line, err)
			}
			continue
		case stEOF:
			return io.EOF
		case stEmpty:
			rd.advance(res.next, 1)
			continue
		case stRecord:
			if rd.want > 0 && len(rd.spans) != rd.want {
				msg := fmt.Sprintf("row has %d fields, %s %d", len(rd.spans), rd.wantFrom, rd.want)
				if res.nl > 0 {
					msg = fmt.Sprintf("unbalanced quote: record running to line %d has %d fields, %s %d",
						rd.line+res.nl, len(rd.spans), rd.wantFrom, rd.want)
				}
				rd.rejectLine(out, msg)
				return nil
			}
			rd.accept(out, b, res)
			return nil
		}

		// A syntax error: reject the record's first line, which must be
		// buffered whole first.
		if _, _, ok := rd.firstLine(b); !ok {
			if err := rd.fill(); err != nil {
				if errors.Is(err, errTooLong) {
					return rd.rejectLong(out, 0)
				}
				return fmt.Errorf("read line %d: %w", rd.line, err)
			}
			continue
		}
		var msg string
		switch res.st {
		case stBareQuote:
			msg = fmt.Sprintf(`bare " in unquoted field (%s)`, rd.column(res.field))
		case stBadQuoted:
			msg = fmt.Sprintf(`extraneous or missing " in quoted field (%s)`, rd.column(res.field))
		case stUnterminated:
			msg = "quoted field not closed before end of file"
		case stTooManyLines:
			msg = fmt.Sprintf("quoted field not closed within %d lines (max_record_lines)", rd.maxLines)
		case stTooManyFields:
			msg = fmt.Sprintf("more than %d fields: a record has at most %d", maxFields, maxFields)
		}
		if res.st != stTooManyFields && (res.nl > 0 || res.st == stUnterminated || res.st == stTooManyLines) {
			if res.st == stBareQuote || res.st == stBadQuoted {
				msg += fmt.Sprintf(" on line %d", rd.line+res.nl)
			}
			msg = "unbalanced quote: " + msg
		}
		rd.rejectLine(out, msg)
		return nil
	}
}

// accept fills out with the well-formed record b[:res.end] and consumes it.
func (rd *reader) accept(out *row, b []byte, res scanResult) {
	text := b[:res.end]
	*out = row{line: rd.line}
	if at := invalidAt(text); at >= 0 {
		field := 0
		for field < len(rd.spans)-1 && at >= rd.spans[field].end {
			field++
		}
		what := "invalid UTF-8"
		if text[at] == 0 {
			what = "NUL byte"
		}
		out.raw = escapeInvalid(text)
		out.err = fmt.Errorf("line %d: %s in %s", rd.line, what, rd.column(field))
		rd.advance(res.next, res.nl+1)
		return
	}
	// One string holds the raw text and then the values of quoted fields
	// with doubled quotes, undone: the values are its substrings.
	buf := append(rd.scratch[:0], text...)
	for i, s := range rd.spans {
		if s.escaped {
			rd.spans[i].start = len(buf)
			for k := s.start; k < s.end; k++ {
				buf = append(buf, text[k])
				if text[k] == '"' {
					k++
				}
			}
			rd.spans[i].end = len(buf)
		}
	}
	str := string(buf)
	if cap(buf) <= bufSize {
		rd.scratch = buf
	} else {
		rd.scratch = nil // do not keep a long record's memory
	}
	out.raw = str[:len(text)]
	rd.fields = rd.fields[:0]
	for _, s := range rd.spans {
		rd.fields = append(rd.fields, str[s.start:s.end])
	}
	out.fields = rd.fields
	rd.advance(res.next, res.nl+1)
}

// rejectLine fills out with the record's first physical line and the error
// msg, and consumes that line. The line is buffered whole.
func (rd *reader) rejectLine(out *row, msg string) {
	b := rd.buf[rd.r:rd.w]
	end, next, _ := rd.firstLine(b)
	*out = row{line: rd.line, err: fmt.Errorf("line %d: %s", rd.line, msg)}
	if invalidAt(b[:end]) >= 0 {
		out.raw = escapeInvalid(b[:end])
	} else {
		out.raw = string(b[:end])
	}
	rd.advance(next, 1)
}

// rejectLong handles a record that outgrew maxBytes. When a quoted field
// carried it over a line break (nl > 0), its first line is buffered whole and
// rejected as an unbalanced quote; otherwise its first line alone is too long:
// it is rejected with Raw cut to maxRawBytes and skipped.
func (rd *reader) rejectLong(out *row, nl int) error {
	limit := strconv.Itoa(rd.maxBytes>>20) + " MiB"
	if rd.maxBytes < 1<<20 {
		limit = strconv.Itoa(rd.maxBytes) + " bytes"
	}
	if nl > 0 {
		rd.rejectLine(out, "unbalanced quote: quoted field not closed within "+limit)
		return nil
	}
	raw := rd.buf[rd.r:min(rd.w, rd.r+maxRawBytes)]
	for i := len(raw) - 1; i >= 0 && i >= len(raw)-utf8.UTFMax; i-- {
		if utf8.RuneStart(raw[i]) { // do not cut the last rune in two
			if !utf8.FullRune(raw[i:]) {
				raw = raw[:i]
			}
			break
		}
	}
	*out = row{
		line: rd.line,
		raw:  escapeInvalid(raw) + "…",
		err:  fmt.Errorf("line %d: line longer than %s", rd.line, limit),
	}
	// Skip to the end of the physical line.
	for {
		b := rd.buf[rd.r:rd.w]
		if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
			if b[i] == '\r' && i+1 == len(b) && !rd.eof {
				rd.r += i // keep the CR: a LF may follow
				if err := rd.fill(); err != nil {
					return fmt.Errorf("read line %d: %w", rd.line, err)
				}
				continue
			}
			t, _ := rd.term(b, i)
			rd.advance(i+t, 1)
			return nil
		}
		rd.r = rd.w
		if rd.eof {
			return nil
		}
		if err := rd.fill(); err != nil {
			return fmt.Errorf("read line %d: %w", rd.line, err)
		}
	}
}

// column names field i (0-based) for messages: `column 3 "email"`.
func (rd *reader) column(i int) string {
	if i < len(rd.names) {
		return fmt.Sprintf("column %d %q", i+1, rd.names[i])
	}
	return fmt.Sprintf("column %d", i+1)
}

// advance consumes n bytes holding lines line breaks.
func (rd *reader) advance(n, lines int) {
	rd.r += n
	rd.line += lines
}

// skipBOM drops a UTF-8 byte order mark at the start of the input.
func (rd *reader) skipBOM() error {
	if rd.bom {
		return nil
	}
	for rd.w-rd.r < 3 && !rd.eof {
		if err := rd.fill(); err != nil {
			return fmt.Errorf("read line 1: %w", err)
		}
	}
	rd.bom = true
	if bytes.HasPrefix(rd.buf[rd.r:rd.w], []byte("\uFEFF")) {
		rd.r += 3
	}
	return nil
}

// fill reads more input after buf[r:w] until the buffer is full, first
// moving the unread input to the buffer's start, and growing the buffer when
// it is full already. It returns errTooLong when the unread input already
// has maxBytes, and src's error once no input came before it.
func (rd *reader) fill() error {
	switch {
	case rd.err != nil:
		return rd.err
	case rd.eof:
		return nil
	}
	n := rd.w - rd.r
	switch {
	case n == len(rd.buf):
		if n >= rd.maxBytes {
			return errTooLong
		}
		grown := make([]byte, min(2*len(rd.buf), rd.maxBytes))
		copy(grown, rd.buf[rd.r:rd.w])
		rd.buf = grown
	case len(rd.buf) > bufSize && n < bufSize/2:
		// A long record has gone: give its memory back.
		small := make([]byte, bufSize)
		copy(small, rd.buf[rd.r:rd.w])
		rd.buf = small
	default:
		copy(rd.buf, rd.buf[rd.r:rd.w])
	}
	rd.r, rd.w = 0, n
	// Fill the buffer whole, so that a source handing out small reads does
	// not make scan restart on a long record once per read.
	for empty := 0; rd.w < len(rd.buf); {
		m, err := rd.src.Read(rd.buf[rd.w:])
		rd.w += m
		switch {
		case err == io.EOF:
			rd.eof = true
			return nil
		case err != nil:
			// Let the records already read go first.
			rd.err = err
			if rd.w > n {
				return nil
			}
			return err
		case m > 0:
			empty = 0
		default:
			if empty++; empty == 100 {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// scan parses the record at the start of b, recording its fields in
// rd.spans. It is restarted from scratch after more input arrives, which
// costs little: it runs again only over the one record that straddled the
// end of the buffer.
func (rd *reader) scan(b []byte) scanResult {
	n := len(b)
	if n == 0 {
		if rd.eof {
			return scanResult{st: stEOF}
		}
		return scanResult{st: stMore}
	}
	if rd.skipEmpty && (b[0] == '\n' || b[0] == '\r') {
		t, ok := rd.term(b, 0)
		if !ok {
			return scanResult{st: stMore}
		}
		return scanResult{st: stEmpty, next: t}
	}
	rd.spans = rd.spans[:0]
	stop := &rd.stop
	nl := 0
	i := 0
	for {
		if i < n && b[i] == '"' {
			// A quoted field: runs to a quote not followed by another.
			i++
			start := i
			escaped := false
			for {
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					nl += countBreaks(b[start:], !rd.eof)
					switch {
					case nl >= rd.maxLines:
						return scanResult{st: stTooManyLines, nl: nl}
					case rd.eof:
						return scanResult{st: stUnterminated, nl: nl}
					}
					return scanResult{st: stMore, nl: nl}
				}
				i += j + 1
				if i == n && !rd.eof {
					return scanResult{st: stMore, nl: nl}
				}
				if i < n && b[i] == '"' {
					escaped = true
					i++
					continue
				}
				break
			}
			if nl += countBreaks(b[start:i-1], false); nl >= rd.maxLines {
				return scanResult{st: stTooManyLines, nl: nl}
			}
			rd.spans = append(rd.spans, span{start: start, end: i - 1, escaped: escaped})
			if i == n { // end of input
				return scanResult{st: stRecord, end: n, next: n, nl: nl}
			}
			switch c := b[i]; {
			case c == rd.comma:
				if len(rd.spans) >= maxFields {
					return scanResult{st: stTooManyFields, nl: nl}
				}
				i++
				continue
			case c == '\n' || c == '\r':
				t, ok := rd.term(b, i)
				if !ok {
					return scanResult{st: stMore, nl: nl}
				}
				return scanResult{st: stRecord, end: i, next: i + t, nl: nl}
			}
			return scanResult{st: stBadQuoted, nl: nl, field: len(rd.spans) - 1}
		}

		// An unquoted field: runs to a delimiter or a line end.
		start := i
		for i < n && !stop[b[i]] {
			i++
		}
		if i == n {
			if !rd.eof {
				return scanResult{st: stMore, nl: nl}
			}
			rd.spans = append(rd.spans, span{start: start, end: n})
			return scanResult{st: stRecord, end: n, next: n, nl: nl}
		}
		switch c := b[i]; c {
		case rd.comma:
			rd.spans = append(rd.spans, span{start: start, end: i})
			if len(rd.spans) >= maxFields {
				return scanResult{st: stTooManyFields, nl: nl}
			}
			i++
		case '"':
			return scanResult{st: stBareQuote, nl: nl, field: len(rd.spans)}
		default: // '\n' or '\r'
			t, ok := rd.term(b, i)
			if !ok {
				return scanResult{st: stMore, nl: nl}
			}
			rd.spans = append(rd.spans, span{start: start, end: i})
			return scanResult{st: stRecord, end: i, next: i + t, nl: nl}
		}
	}
}

// term returns the length of the line end at b[i] (LF, CRLF or CR); ok is
// false when b ends in a CR that a LF may yet follow.
func (rd *reader) term(b []byte, i int) (n int, ok bool) {
	switch {
	case b[i] == '\n':
		return 1, true
	case i+1 < len(b):
		if b[i+1] == '\n' {
			return 2, true
		}
		return 1, true
	}
	return 1, rd.eof
}

// firstLine returns the end of the first physical line of b and where the
// next line starts; ok is false when the line's end is not buffered yet.
func (rd *reader) firstLine(b []byte) (end, next int, ok bool) {
	i := bytes.IndexAny(b, "\r\n")
	if i < 0 {
		return len(b), len(b), rd.eof
	}
	t, ok := rd.term(b, i)
	return i, i + t, ok
}

// countBreaks counts the line ends (LF, CRLF, CR) in b. With open set, a CR
// ending b is not counted: a LF may follow it.
func countBreaks(b []byte, open bool) int {
	n := bytes.Count(b, []byte{'\n'})
	for i := bytes.IndexByte(b, '\r'); i >= 0; {
		switch {
		case i+1 < len(b):
			if b[i+1] != '\n' {
				n++
			}
		case !open:
			n++
		}
		j := bytes.IndexByte(b[i+1:], '\r')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return n
}

// invalidAt returns the offset of the first byte of b that is not valid
// UTF-8 or is NUL, or -1.
func invalidAt(b []byte) int {
	nul := bytes.IndexByte(b, 0)
	if utf8.Valid(b) {
		return nul
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || r == 0 {
			return i
		}
		i += size
	}
	return nul
}

// escapeInvalid returns b as text with each invalid UTF-8 byte and each NUL
// written as \xHH, so that a rejects table of UTF-8 text can store it.
func escapeInvalid(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || r == 0 {
			fmt.Fprintf(&sb, `\x%02X`, b[i])
		} else {
			sb.Write(b[i : i+size])
		}
		i += size
	}
	return sb.String()
}
