// Package csv is the "csv" source kind: it streams the records of one CSV
// file, or of every file a glob matches, in constant memory.
//
// Each record becomes a map of field name to string value, named by the
// header row or the declared columns. A row the reader cannot parse (wrong
// field count, a stray quote, invalid UTF-8) is emitted with Record.Err set
// and its raw text, so the engine rejects that row alone and the read goes
// on. Input must be UTF-8; a leading byte order mark is dropped. See
// README.md for the attributes and the exact rules.
package csv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/etl-dev/etl/engine"
)

// Register adds the "csv" source kind to r.
func Register(r *engine.Registry) {
	r.RegisterSource("csv", New)
}

// defaultMaxRecordLines is max_record_lines when the block does not set it.
const defaultMaxRecordLines = 1000

// Config is the schema of a `source "csv" {}` block body. The *Range fields
// are filled by the decoder with where each attribute's value is, for
// diagnostics.
type Config struct {
	// Path is a file or a glob, relative to the pipeline file's directory.
	// A glob's matches are read in sorted order.
	Path string `hcl:"path"`
	// Delimiter separates fields: one ASCII character; default ",".
	Delimiter string `hcl:"delimiter,optional"`
	// Header says the first row holds the field names; default true.
	Header bool `hcl:"header,optional"`
	// Columns names the fields by position. With Header they replace the
	// header row's names (the row is still skipped); without, they are
	// required.
	Columns []string `hcl:"columns,optional"`
	// SkipEmptyLines skips lines with nothing on them; default true. When
	// false an empty line is a record of one empty field.
	SkipEmptyLines bool `hcl:"skip_empty_lines,optional"`
	// Encoding is the files' character encoding: only "utf-8" (the default).
	Encoding string `hcl:"encoding,optional"`
	// MaxRecordLines is the most lines a quoted field may carry one record
	// over before its opening quote is taken as stray; default 1000.
	MaxRecordLines int `hcl:"max_record_lines,optional"`

	PathRange           hcl.Range `hcl:"path,attr_value_range"`
	DelimiterRange      hcl.Range `hcl:"delimiter,attr_value_range"`
	HeaderRange         hcl.Range `hcl:"header,attr_range"`
	ColumnsRange        hcl.Range `hcl:"columns,attr_value_range"`
	EncodingRange       hcl.Range `hcl:"encoding,attr_value_range"`
	MaxRecordLinesRange hcl.Range `hcl:"max_record_lines,attr_value_range"`
}

// Source reads CSV files. It is safe to Read more than once; each Read
// resolves the glob again.
type Source struct {
	cfg     Config
	dir     string // the pipeline file's directory
	bufSize int    // the reader's first buffer size when not 0 (tests)
}

var (
	_ engine.Source      = (*Source)(nil)
	_ engine.FieldLister = (*Source)(nil)
	_ engine.Describer   = (*Source)(nil)
)

// New decodes body into a Config, with defaults filled first, validates it
// and returns the Source. Relative paths are resolved against pc.Dir.
func New(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	cfg := Config{
		Delimiter:      ",",
		Header:         true,
		SkipEmptyLines: true,
		Encoding:       "utf-8",
		MaxRecordLines: defaultMaxRecordLines,
	}
	diags := gohcl.DecodeBody(body, ctx, &cfg)
	if diags.HasErrors() {
		return nil, diags
	}
	diags = append(diags, cfg.validate(pc)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Source{cfg: cfg, dir: pc.Dir}, diags
}

// validate checks what the decoder cannot: values, and attributes that
// depend on each other.
func (c *Config) validate(pc engine.PluginContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(r hcl.Range, summary, detail string) {
		if r == (hcl.Range{}) {
			r = pc.DefRange
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   detail,
			Subject:  r.Ptr(),
		})
	}

	if c.Path == "" {
		bad(c.PathRange, "Empty path", `Set path to a CSV file or a glob, relative to the pipeline file: path = "exports/users-*.csv".`)
	} else if _, err := filepath.Match(c.Path, ""); err != nil {
		bad(c.PathRange, "Invalid glob", fmt.Sprintf("%q is not a valid glob (%v): check its brackets and escapes.", c.Path, err))
	}

	if r, size := utf8.DecodeRuneInString(c.Delimiter); size == 0 || size != len(c.Delimiter) {
		bad(c.DelimiterRange, "Invalid delimiter", fmt.Sprintf(`The delimiter must be exactly one character, such as "," ";" "|" or "\t"; got %q.`, c.Delimiter))
	} else if r >= utf8.RuneSelf || r == '"' || r == '\r' || r == '\n' {
		bad(c.DelimiterRange, "Invalid delimiter", fmt.Sprintf(`The delimiter must be one ASCII character other than a quote or a line break, such as "," ";" "|" or "\t"; got %q.`, c.Delimiter))
	}

	switch {
	case c.Columns == nil && !c.Header:
		bad(c.HeaderRange, "Missing columns", `With header = false the files have no names for their fields: declare them in order, e.g. columns = ["id", "email", "name"].`)
	case c.Columns != nil && len(c.Columns) == 0:
		bad(c.ColumnsRange, "Empty columns", `List the field names in file order, e.g. columns = ["id", "email"], or remove columns to use the header row's names.`)
	}
	if i, j, ok := badNames(c.Columns); !ok {
		if j < 0 {
			bad(c.ColumnsRange, "Empty column name", fmt.Sprintf("Column %d has an empty name; give every column a name.", i+1))
		} else {
			bad(c.ColumnsRange, "Duplicate column name", fmt.Sprintf("Column %d %q repeats column %d; give every column a distinct name.", j+1, c.Columns[j], i+1))
		}
	}

	if enc := strings.ToLower(c.Encoding); enc != "utf-8" && enc != "utf8" {
		bad(c.EncodingRange, "Unsupported encoding", fmt.Sprintf(`The csv source reads UTF-8 only (with or without a BOM), not %q. Convert the files first, e.g. iconv -f WINDOWS-1252 -t UTF-8.`, c.Encoding))
	}
	if c.MaxRecordLines < 1 {
		bad(c.MaxRecordLinesRange, "Invalid max_record_lines", fmt.Sprintf("max_record_lines must be at least 1; got %d.", c.MaxRecordLines))
	}
	return diags
}

// badNames checks names for an empty or repeated name. For an empty name
// it returns (i, -1, false); for a repeat, the first use i and the repeat j.
func badNames(names []string) (i, j int, ok bool) {
	seen := make(map[string]int, len(names))
	for j, name := range names {
		if name == "" {
			return j, -1, false
		}
		if i, dup := seen[name]; dup {
			return i, j, false
		}
		seen[name] = j
	}
	return 0, 0, true
}

// Fields returns the declared columns, or nil when the header row names the
// fields.
func (s *Source) Fields() []string {
	return slices.Clone(s.cfg.Columns)
}

// Describe returns "csv <path>", the path as configured.
func (s *Source) Describe() string {
	return "csv " + s.cfg.Path
}

// Read emits every record of every file in order; see engine.Source.
func (s *Source) Read(ctx context.Context, opts engine.ReadOptions, emit func(engine.Record) error) error {
	files, err := s.files()
	if err != nil {
		return err
	}
	prog := &progress{report: opts.Progress}
	if prog.report != nil {
		for _, f := range files {
			if st, err := os.Stat(f.path); err == nil {
				prog.total += st.Size()
			}
		}
	}
	for _, f := range files {
		if err := s.readFile(ctx, opts, f, prog, emit); err != nil {
			return err
		}
	}
	prog.flush()
	return nil
}

// progress counts the bytes read across a run's files for
// ReadOptions.Progress, reporting every progressEvery bytes.
type progress struct {
	report      func(done, total int64)
	done, total int64
	unreported  int64
}

const progressEvery = 256 << 10

func (p *progress) add(n int) {
	if p.report == nil {
		return
	}
	p.done += int64(n)
	p.unreported += int64(n)
	if p.unreported >= progressEvery {
		p.flush()
	}
}

func (p *progress) flush() {
	if p.report != nil {
		p.unreported = 0
		p.report(p.done, p.total)
	}
}

// countingReader tells progress how many bytes its reader gave.
type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(n)
	return n, err
}

// file is one file to read: its path on disk, and its name in positions and
// messages (as configured, or the glob match relative to the pipeline).
type file struct{ path, name string }

// files resolves the configured path: a plain path is one file, whether it
// exists or not (opening it reports that); a glob must match a file.
func (s *Source) files() ([]file, error) {
	p := s.cfg.Path
	full := p
	if !filepath.IsAbs(p) && s.dir != "" {
		full = filepath.Join(s.dir, p)
	}
	if !hasMeta(p) {
		return []file{{path: full, name: p}}, nil
	}
	matches, err := filepath.Glob(full)
	if err != nil {
		return nil, fmt.Errorf("csv: glob %q: %w", p, err)
	}
	slices.Sort(matches)
	var files []file
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			continue // a folder the glob happens to match
		}
		name := m
		if full != p {
			if rel, err := filepath.Rel(s.dir, m); err == nil {
				name = rel
			}
		}
		files = append(files, file{path: m, name: name})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("csv: no files match %q", p)
	}
	return files, nil
}

// hasMeta reports whether path holds glob syntax, as filepath.Match reads it.
func hasMeta(path string) bool {
	magic := `*?[\`
	if runtime.GOOS == "windows" {
		magic = `*?[` // a backslash separates
	}
	return strings.ContainsAny(path, magic)
}

// readFile emits the records of one file.
func (s *Source) readFile(ctx context.Context, opts engine.ReadOptions, f file, prog *progress, emit func(engine.Record) error) error {
	fh, err := os.Open(f.path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("csv: open %s: %w", f.name, err)
	}
	defer fh.Close()
	return s.readStream(ctx, opts, f.name, countingReader{fh, prog}, emit)
}

// readStream emits the records of the file called name, read from src.
func (s *Source) readStream(ctx context.Context, opts engine.ReadOptions, name string, src io.Reader, emit func(engine.Record) error) error {
	rd := newReader(src, s.cfg.Delimiter[0], s.cfg.SkipEmptyLines, s.cfg.MaxRecordLines)
	if s.bufSize > 0 {
		rd.buf = make([]byte, s.bufSize)
	}
	names, err := s.header(rd, name)
	if err != nil || names == nil {
		return err
	}

	schema := engine.NewSchema(names)
	done := ctx.Done()
	count := 0
	var r row
	for {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		err := rd.next(&r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("csv: %s: %w", name, err)
		}
		rec := engine.Record{Pos: engine.Position{File: name, Line: r.line}, Raw: r.raw, Err: r.err}
		if r.err == nil {
			values := make([]any, len(r.fields))
			for i, v := range r.fields {
				values[i] = v
			}
			rec.Values, rec.Schema = values, schema
		}
		if err := emit(rec); err != nil {
			return err
		}
		count++
	}
	if opts.Logger != nil {
		opts.Logger.Debug("csv: read file", "file", name, "records", count)
	}
	return nil
}

// header reads the header row when there is one and returns the field
// names, setting the reader's expected field count. It returns nil names for
// a file with no header row (empty, or blank lines only): it has no records.
func (s *Source) header(rd *reader, name string) ([]string, error) {
	names := s.cfg.Columns
	rd.wantFrom = "columns lists"
	if s.cfg.Header {
		var r row
		switch err := rd.next(&r); {
		case err == io.EOF:
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("csv: %s: %w", name, err)
		case r.err != nil:
			return nil, fmt.Errorf("csv: %s: header: %w", name, r.err)
		}
		switch {
		case names != nil && len(r.fields) != len(names):
			return nil, fmt.Errorf("csv: %s: header has %d columns, columns lists %d: list one name for each column", name, len(r.fields), len(names))
		case names == nil:
			names = slices.Clone(r.fields)
			if i, j, ok := badNames(names); !ok && j < 0 {
				return nil, fmt.Errorf("csv: %s: header column %d has no name: name it in the file or declare columns", name, i+1)
			} else if !ok {
				return nil, fmt.Errorf("csv: %s: header column %d %q repeats column %d: rename it in the file or declare columns", name, j+1, names[j], i+1)
			}
		}
		rd.wantFrom = "header has"
	}
	rd.want = len(names)
	rd.names = names
	return names, nil
}
