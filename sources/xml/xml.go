package xml

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sources/rest"
)

// Register adds the "xml" source kind to r.
func Register(r *engine.Registry) {
	r.RegisterSource("xml", New)
}

// Config is the schema of a `source "xml" {}` block body. The *Range fields
// are filled by the decoder with where each attribute's value is, for
// diagnostics.
type Config struct {
	// Path is a file or a glob, relative to the pipeline file's directory;
	// a glob's matches are read in sorted order. Path or URL is required.
	Path string `hcl:"path,optional"`
	// URL is an http:// or https:// document, fetched with the rest
	// source's client (auth, rate_limit and retry blocks as there) and
	// streamed as it arrives.
	URL string `hcl:"url,optional"`
	// Records is an XPath selecting each record element, e.g.
	// "/export/customers/customer" or "//customer". It names elements by
	// path; predicates on a record's content are not supported.
	Records string `hcl:"records"`
	// Fields maps each field name to an XPath relative to the record
	// ("name", "@id", "address/city", "count(tags/tag)"). Without it a
	// record is its element's children and attributes.
	Fields map[string]string `hcl:"fields,optional"`
	// Key is an expr over record giving its id, for positions in rejects.
	Key hcl.Expression `hcl:"key,optional"`
	// Headers are sent with a URL's request, e.g. { Accept = "application/xml" }.
	Headers map[string]string `hcl:"headers,optional"`
	// Timeout bounds the wait for a URL's response headers; default "30s".
	Timeout string `hcl:"timeout,optional"`
	// MaxRecordSize bounds one record's XML (with what precedes it since
	// the last record): "16MiB" by default. A larger record ends the read
	// with an error naming the document, the record and its offset.
	MaxRecordSize string `hcl:"max_record_size,optional"`

	Auth      *rest.AuthConfig      `hcl:"auth,block"`
	RateLimit *rest.RateLimitConfig `hcl:"rate_limit,block"`
	Retry     *rest.RetryConfig     `hcl:"retry,block"`

	PathRange      hcl.Range `hcl:"path,attr_value_range"`
	URLRange       hcl.Range `hcl:"url,attr_value_range"`
	RecordsRange   hcl.Range `hcl:"records,attr_value_range"`
	FieldsRange    hcl.Range `hcl:"fields,attr_value_range"`
	KeyRange       hcl.Range `hcl:"key,attr_value_range"`
	TimeoutRange   hcl.Range `hcl:"timeout,attr_value_range"`
	MaxRecordRange hcl.Range `hcl:"max_record_size,attr_value_range"`
}

// Source streams the records of XML documents. It is safe to Read more
// than once.
type Source struct {
	path      string // absolute path or glob; "" with url
	shown     string // path as configured, for messages
	url       string
	headers   map[string]string
	records   string
	fields    []field // sorted by name; nil: children and attributes
	key       *engine.Program
	client    *rest.Client // with url
	maxRecord int64
}

type field struct {
	name string
	src  string
	expr *xpath.Expr
}

var (
	_ engine.Source      = (*Source)(nil)
	_ engine.FieldLister = (*Source)(nil)
	_ engine.Describer   = (*Source)(nil)
	_ engine.ReadPlanner = (*Source)(nil)
)

// New decodes body into a Config, validates it and returns the Source.
func New(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	cfg := Config{Timeout: rest.DefaultTimeout.String()}
	diags := gohcl.DecodeBody(body, ctx, &cfg)
	if diags.HasErrors() {
		return nil, diags
	}
	s, d := build(&cfg, ctx, pc)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

func build(cfg *Config, ctx *hcl.EvalContext, pc engine.PluginContext) (*Source, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	s := &Source{records: cfg.Records, shown: cfg.Path, url: cfg.URL, headers: cfg.Headers, maxRecord: rest.DefaultMaxRecordSize}
	if cfg.MaxRecordSize != "" {
		n, d := rest.ParseSize(cfg.MaxRecordSize, cfg.MaxRecordRange, "max_record_size")
		if d != nil {
			diags = append(diags, d)
		}
		s.maxRecord = n
	}
	switch {
	case cfg.Path == "" && cfg.URL == "":
		diags = append(diags, errorAt(pc.DefRange, "Missing path or url", `Say where the XML is: path = "exports/customers.xml" (a file or glob) or url = "https://…".`))
	case cfg.Path != "" && cfg.URL != "":
		diags = append(diags, errorAt(cfg.URLRange, "Both path and url", "Read a file (path) or a URL (url), not both."))
	case cfg.Path != "":
		s.path = cfg.Path
		if !filepath.IsAbs(s.path) {
			s.path = filepath.Join(pc.Dir, s.path)
		}
		if _, err := filepath.Match(s.path, ""); err != nil {
			diags = append(diags, errorAt(cfg.PathRange, "Invalid glob", fmt.Sprintf("path %q: %v.", cfg.Path, err)))
		}
	default:
		if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			diags = append(diags, errorAt(cfg.URLRange, "Invalid URL", fmt.Sprintf("url %q is not an absolute http:// or https:// URL.", cfg.URL)))
		}
	}
	if _, err := xpath.Compile(cfg.Records); err != nil {
		diags = append(diags, errorAt(cfg.RecordsRange, "Invalid XPath", fmt.Sprintf("records %q: %v.", cfg.Records, err)))
	}
	if cfg.FieldsRange != (hcl.Range{}) {
		names := make([]string, 0, len(cfg.Fields))
		for k := range cfg.Fields {
			names = append(names, k)
		}
		sort.Strings(names)
		s.fields = []field{}
		for _, name := range names {
			e, err := xpath.Compile(cfg.Fields[name])
			if err != nil {
				diags = append(diags, errorAt(cfg.FieldsRange, "Invalid XPath", fmt.Sprintf("fields.%s = %q: %v.", name, cfg.Fields[name], err)))
				continue
			}
			s.fields = append(s.fields, field{name: name, src: cfg.Fields[name], expr: e})
		}
	}
	if cfg.KeyRange != (hcl.Range{}) {
		vars := map[string]any{"record": map[string]any{}}
		p, d := pc.Expressions.Compile("key", cfg.Key, ctx, vars)
		diags = append(diags, d...)
		s.key = p
	}
	if cfg.URL == "" && (cfg.Auth != nil || cfg.RateLimit != nil || cfg.Retry != nil) {
		diags = append(diags, errorAt(pc.DefRange, "HTTP settings without a url", "auth, rate_limit and retry apply to url = \"…\"; a file needs none."))
	}
	timeout, err := time.ParseDuration(cfg.Timeout)
	if err != nil || timeout <= 0 {
		diags = append(diags, errorAt(cfg.TimeoutRange, "Invalid timeout", fmt.Sprintf("timeout %q: %v; write a Go duration such as \"30s\" or \"2m\".", cfg.Timeout, err)))
	}
	auth, d := cfg.Auth.Build(ctx, pc.Dir)
	diags = append(diags, d...)
	rl, d := cfg.RateLimit.Build()
	diags = append(diags, d...)
	retry, d := cfg.Retry.Build()
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, diags
	}
	if s.url != "" {
		s.client = rest.NewClient(rest.ClientOptions{Auth: auth, RateLimit: rl, Budget: rest.SharedBudget(pc, cfg.RateLimit, rl), Retry: retry, Timeout: timeout})
	}
	return s, diags
}

// Fields lists the declared fields; nil without a fields attribute.
func (s *Source) Fields() []string {
	if s.fields == nil {
		return nil
	}
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.name
	}
	return out
}

// Describe says where the source reads: "xml exports/*.xml" or the URL
// without secrets.
func (s *Source) Describe() string {
	if s.url != "" {
		return "xml " + s.client.SafeURL(s.url)
	}
	return "xml " + s.shown
}

// PlanRead names the files or the request and the record XPath.
func (s *Source) PlanRead(engine.ReadOptions) string {
	if s.url != "" {
		return "GET " + s.client.SafeURL(s.url) + ", records " + s.records
	}
	return "read " + s.shown + ", records " + s.records
}

// Read streams every record of every document; see engine.Source. A
// document that is not well-formed ends the read with its name and the
// parser's message; the records before the fault have been emitted.
func (s *Source) Read(ctx context.Context, opts engine.ReadOptions, emit func(engine.Record) error) error {
	var removed int64
	defer func() {
		if removed > 0 && opts.Logger != nil {
			opts.Logger.Warn("removed characters that XML forbids", "source", s.Describe(), "removed", removed)
		}
		if removed > 0 && opts.Count != nil {
			opts.Count("xml_chars_removed", removed)
		}
	}()
	if s.url != "" {
		client := s.client.WithLogger(opts.Logger)
		h := http.Header{"Accept": {"application/xml, text/xml;q=0.9, */*;q=0.1"}}
		for k, v := range s.headers {
			h.Set(k, v)
		}
		resp, body, err := client.Open(ctx, &rest.Request{Method: http.MethodGet, URL: s.url, Header: h, Label: "xml"})
		if err != nil {
			return err
		}
		defer body.Close()
		total := int64(0)
		if n := resp.Header.Get("Content-Length"); n != "" {
			fmt.Sscan(n, &total)
		}
		cr := &countingReader{r: body}
		return s.readDoc(ctx, cr, resp.URL, opts, func(done int64) {
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}, &removed, emit)
	}
	files, err := s.files()
	if err != nil {
		return err
	}
	var total, base int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	for _, f := range files {
		name := s.display(f)
		fh, err := os.Open(f)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		cr := &countingReader{r: fh}
		err = s.readDoc(ctx, cr, name, opts, func(done int64) {
			if opts.Progress != nil {
				opts.Progress(base+done, total)
			}
		}, &removed, emit)
		base += cr.n.Load()
		fh.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// files lists the files path names, sorted.
func (s *Source) files() ([]string, error) {
	if !strings.ContainsAny(s.path, "*?[") {
		if _, err := os.Stat(s.path); err != nil {
			return nil, fmt.Errorf("open %s: %w", s.shown, err)
		}
		return []string{s.path}, nil
	}
	m, err := filepath.Glob(s.path)
	if err != nil {
		return nil, fmt.Errorf("glob %s: %w", s.shown, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("glob %s: no file matches: %w", s.shown, fs.ErrNotExist)
	}
	slices.Sort(m)
	return m, nil
}

// display is how a file is named in positions and errors: relative to
// the configured path's directory when it can be.
func (s *Source) display(f string) string {
	if !strings.ContainsAny(s.path, "*?[") {
		return s.shown
	}
	if rel, err := filepath.Rel(filepath.Dir(s.path), f); err == nil {
		return filepath.Join(filepath.Dir(s.shown), rel)
	}
	return f
}

// readDoc streams the records of one document.
func (s *Source) readDoc(ctx context.Context, r *countingReader, name string, opts engine.ReadOptions, progress func(int64), removed *int64, emit func(engine.Record) error) error {
	cl := NewCleaner(r)
	defer func() { *removed += cl.Removed() }()
	lim := &rest.RecordLimit{R: cl, Max: s.maxRecord}
	sp, err := xmlquery.CreateStreamParser(lim, s.records)
	if err != nil {
		return fmt.Errorf("records %q: %w", s.records, err)
	}
	n := 0
	lastReport := int64(0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		node, err := sp.Read()
		if err == io.EOF {
			progress(r.n.Load())
			return nil
		}
		if lim.Exceeded() {
			return fmt.Errorf("%s: record %d is larger than max_record_size (%s): stopped at byte %d; raise max_record_size if such records are expected", name, n+1, rest.FormatSize(s.maxRecord), lim.Offset())
		}
		if err != nil {
			return fmt.Errorf("%s: after record %d: %w", name, n, err)
		}
		lim.Reset()
		n++
		rec := engine.Record{Pos: engine.Position{File: name}}
		rec.Fields, rec.Err = s.fieldsOf(node)
		if rec.Err != nil {
			rec.Raw = node.OutputXML(true)
		}
		if s.key != nil && rec.Fields != nil {
			k, err := s.key.Eval(map[string]any{"record": rec.Fields})
			if err != nil {
				rec.Err = fmt.Errorf("key: %w", err)
			} else if k != nil {
				rec.Pos.Key = fmt.Sprint(k)
			}
		}
		if rec.Pos.Key == "" {
			rec.Pos.Key = fmt.Sprintf("#%d", n)
		}
		if err := emit(rec); err != nil {
			return err
		}
		if done := r.n.Load(); done-lastReport >= 256<<10 {
			progress(done)
			lastReport = done
		}
	}
}

// fieldsOf turns a record element into its fields.
func (s *Source) fieldsOf(n *xmlquery.Node) (map[string]any, error) {
	if s.fields == nil {
		m, _ := elementValue(n).(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		return m, nil
	}
	m := make(map[string]any, len(s.fields))
	nav := xmlquery.CreateXPathNavigator(n)
	for _, f := range s.fields {
		v, err := evaluate(f.expr, nav.Copy())
		if err != nil {
			return nil, fmt.Errorf("fields.%s (%s): %w", f.name, f.src, err)
		}
		m[f.name] = v
	}
	return m, nil
}

// evaluate runs an XPath relative to a record: no node gives nil, one node
// its text, several a list of their texts; numbers come as int64 when
// whole, else float64; strings and booleans as they are.
func evaluate(e *xpath.Expr, nav xpath.NodeNavigator) (v any, err error) {
	defer func() {
		if r := recover(); r != nil { // xpath panics on some type errors
			err = fmt.Errorf("%v", r)
		}
	}()
	switch x := e.Evaluate(nav).(type) {
	case *xpath.NodeIterator:
		var vals []any
		for x.MoveNext() {
			vals = append(vals, nodeText(x.Current()))
		}
		switch len(vals) {
		case 0:
			return nil, nil
		case 1:
			return vals[0], nil
		}
		return vals, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), nil
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, nil
		}
		return x, nil
	case string, bool:
		return x, nil
	default:
		return fmt.Sprint(x), nil
	}
}

// nodeText is a selected node's value: nil for an element marked
// xsi:nil="true", else its text.
func nodeText(nav xpath.NodeNavigator) any {
	if qn, ok := nav.(*xmlquery.NodeNavigator); ok && nav.NodeType() == xpath.ElementNode {
		n := qn.Current()
		if isNil(n) {
			return nil
		}
	}
	return nav.Value()
}

// isNil reports an element marked xsi:nil="true" (or OData's m:null).
func isNil(n *xmlquery.Node) bool {
	for _, a := range n.Attr {
		if (a.Name.Local == "nil" || a.Name.Local == "null") && a.Value == "true" && a.NamespaceURI != "" {
			return true
		}
	}
	return false
}

// elementValue is an element without declared fields: a map of its
// attributes and child elements by local name (a repeated child becomes a
// list), or its text when it has neither; nil when marked nil.
func elementValue(n *xmlquery.Node) any {
	if isNil(n) {
		return nil
	}
	var m map[string]any
	for _, a := range n.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") || a.NamespaceURI == "http://www.w3.org/2001/XMLSchema-instance" {
			continue
		}
		if m == nil {
			m = map[string]any{}
		}
		m[a.Name.Local] = a.Value
	}
	hasChild := false
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != xmlquery.ElementNode {
			continue
		}
		hasChild = true
		if m == nil {
			m = map[string]any{}
		}
		v := elementValue(c)
		switch old := m[c.Data].(type) {
		case nil:
			if _, dup := m[c.Data]; dup {
				m[c.Data] = []any{nil, v}
			} else {
				m[c.Data] = v
			}
		case []any:
			m[c.Data] = append(old, v)
		default:
			m[c.Data] = []any{old, v}
		}
	}
	if !hasChild && m == nil {
		return n.InnerText()
	}
	if !hasChild {
		if t := strings.TrimSpace(n.InnerText()); t != "" {
			m["text"] = n.InnerText()
		}
	}
	return m
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
	if rng != (hcl.Range{}) {
		d.Subject = rng.Ptr()
	}
	return d
}
