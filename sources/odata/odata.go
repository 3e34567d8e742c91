package odata

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sources/rest"
)

// Register adds the "odata" source kind to r.
func Register(r *engine.Registry) {
	r.RegisterSource("odata", New)
}

// DefaultTimeout bounds one attempt of a request, reading the page
// included, when no timeout is set: pages of thousands of Atom entries are
// large.
const DefaultTimeout = 2 * time.Minute

// Config is the schema of a `source "odata" {}` block body. The *Range
// fields are filled by the decoder with where each attribute's value is,
// for diagnostics.
type Config struct {
	// URL is the service root, e.g.
	// "https://api4.marketsharpm.com/WcfDataService.svc".
	URL string `hcl:"url"`
	// EntitySet is the entity set to read, e.g. "Contacts".
	EntitySet string `hcl:"entity_set"`
	// Version is the OData protocol version, 2 (default) or 4: it decides
	// the literal forms in the incremental filter, the count option and the
	// version headers.
	Version int `hcl:"version,optional"`
	// Format is what the requests ask for: "atom" (v2 default) or "json"
	// (v4 default). Responses are read by their content, whatever was asked.
	Format string `hcl:"format,optional"`
	// Select lists the properties to read ($select); with it, a reference
	// to another record field is a validate error.
	Select []string `hcl:"select,optional"`
	// Filter is a $filter expression, e.g. "isActive eq true".
	Filter string `hcl:"filter,optional"`
	// OrderBy is the $orderby option, e.g. "lastUpdate asc,id asc".
	OrderBy string `hcl:"orderby,optional"`
	// Expand is the $expand option.
	Expand string `hcl:"expand,optional"`
	// Top is the page size asked with $top; when the server sends no next
	// link, pages follow with $skip. 0: not sent.
	Top int `hcl:"top,optional"`
	// Count asks for the total ($inlinecount=allpages, v4 $count=true) on
	// the first request, for the progress line.
	Count bool `hcl:"count,optional"`
	// Query holds other query options or parameters, sent on every request
	// the source builds (a next link carries its own), e.g.
	// { "$format" = "json" }.
	Query map[string]string `hcl:"query,optional"`
	// CursorField is the property the pipeline's incremental cursor comes
	// from: requests sort by it ascending and an incremental run filters
	// on it, "<field> ge <since>" (inclusive).
	CursorField string `hcl:"cursor_field,optional"`
	// CursorType is how the since value is written in the filter:
	// "datetime" (v2 Edm.DateTime, in the pipeline's timezone),
	// "datetimeoffset", "number" or "string". Default: from the cursor's
	// kind (a timestamp is datetime in v2, an offset date-time in v4).
	CursorType string `hcl:"cursor_type,optional"`
	// KeyField is the property that orders entities uniquely after
	// cursor_field (the entity key, e.g. "id"). With it, requests sort by
	// "<cursor_field> asc,<key_field> asc", and a page the source asks for
	// itself (the server sent no next link) continues after the last entity
	// read, by $filter, instead of skipping a count with $skip: an entity
	// updated during the run cannot shift another past a page boundary.
	KeyField string `hcl:"key_field,optional"`
	// KeyType is how key_field's value is written in that filter:
	// "string" ('…'), "guid" (v2 guid'…', v4 bare) or "number" (bare).
	// Default: from the value read (an Atom m:type="Edm.Guid" is a guid).
	KeyType string `hcl:"key_type,optional"`
	// Key is an expr over record giving its id, for positions in rejects.
	Key hcl.Expression `hcl:"key,optional"`
	// Headers are request headers; a string may hold {{ expr }} parts,
	// evaluated before every attempt over secrets and page.
	Headers hcl.Expression `hcl:"headers,optional"`
	// Secrets are values header expressions use as secrets.<name>: never
	// printed, redacted from every error and log line.
	Secrets map[string]string `hcl:"secrets,optional"`
	// Timeout bounds one attempt of a request, the page included; default "2m".
	Timeout string `hcl:"timeout,optional"`
	// MaxPages stops after this many pages (0: no limit).
	MaxPages int `hcl:"max_pages,optional"`
	// MaxPageSize bounds a page's body, which is read whole: "64MiB" by
	// default.
	MaxPageSize string `hcl:"max_page_size,optional"`
	// MaxRecordSize bounds one Atom entry's XML: "16MiB" by default.
	MaxRecordSize string `hcl:"max_record_size,optional"`

	Auth      *rest.AuthConfig      `hcl:"auth,block"`
	RateLimit *rest.RateLimitConfig `hcl:"rate_limit,block"`
	Retry     *rest.RetryConfig     `hcl:"retry,block"`

	URLRange         hcl.Range `hcl:"url,attr_value_range"`
	EntitySetRange   hcl.Range `hcl:"entity_set,attr_value_range"`
	VersionRange     hcl.Range `hcl:"version,attr_value_range"`
	FormatRange      hcl.Range `hcl:"format,attr_value_range"`
	SelectRange      hcl.Range `hcl:"select,attr_value_range"`
	OrderByRange     hcl.Range `hcl:"orderby,attr_value_range"`
	TopRange         hcl.Range `hcl:"top,attr_value_range"`
	CursorFieldRange hcl.Range `hcl:"cursor_field,attr_value_range"`
	CursorTypeRange  hcl.Range `hcl:"cursor_type,attr_value_range"`
	KeyFieldRange    hcl.Range `hcl:"key_field,attr_value_range"`
	KeyTypeRange     hcl.Range `hcl:"key_type,attr_value_range"`
	KeyRange         hcl.Range `hcl:"key,attr_value_range"`
	HeadersRange     hcl.Range `hcl:"headers,attr_value_range"`
	TimeoutRange     hcl.Range `hcl:"timeout,attr_value_range"`
	MaxPagesRange    hcl.Range `hcl:"max_pages,attr_value_range"`
	MaxPageRange     hcl.Range `hcl:"max_page_size,attr_value_range"`
	MaxRecordRange   hcl.Range `hcl:"max_record_size,attr_value_range"`
}

// Source reads one entity set of an OData service. It is safe to Read more
// than once; each Read starts from the first page.
type Source struct {
	cfg      Config
	setURL   string // service root + "/" + entity set
	loc      *time.Location
	key      *engine.Program
	headers  *rest.Template // nil: none
	secrets  map[string]any
	client   *rest.Client
	pipeline string
	// maxRecord bounds an Atom entry's bytes.
	maxRecord int64
}

var (
	_ engine.Source        = (*Source)(nil)
	_ engine.CursorOrdered = (*Source)(nil)
	_ engine.FieldLister   = (*Source)(nil)
	_ engine.Describer     = (*Source)(nil)
	_ engine.ReadPlanner   = (*Source)(nil)
)

// headerVars are the variables header expressions see, with sample values
// that give their static types.
var headerVars = map[string]any{
	"secrets": map[string]any{}, // the secrets attribute
	"page":    0,                // the page being requested, from 1
}

var (
	identRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$`)
	setNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
)

// New decodes body into a Config, with defaults filled first, validates it
// and returns the Source.
func New(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	cfg := Config{Version: 2, Timeout: DefaultTimeout.String()}
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
	s := &Source{cfg: *cfg, loc: pc.Location, pipeline: pc.Pipeline}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		diags = append(diags, errorAt(cfg.URLRange, "Invalid service root", fmt.Sprintf("url %q is not an absolute http:// or https:// URL without a query; it is the service root, e.g. \"https://api4.marketsharpm.com/WcfDataService.svc\".", cfg.URL)))
	}
	if !setNameRE.MatchString(cfg.EntitySet) {
		diags = append(diags, errorAt(cfg.EntitySetRange, "Invalid entity_set", fmt.Sprintf("entity_set %q is not an entity set name such as \"Contacts\".", cfg.EntitySet)))
	}
	s.setURL = strings.TrimRight(cfg.URL, "/") + "/" + cfg.EntitySet
	switch cfg.Version {
	case 2, 4:
	default:
		diags = append(diags, errorAt(cfg.VersionRange, "Invalid version", fmt.Sprintf("version is %d; the source speaks OData 2 (Atom or verbose JSON) and 4 (JSON).", cfg.Version)))
	}
	if cfg.Format == "" {
		s.cfg.Format = "atom"
		if cfg.Version == 4 {
			s.cfg.Format = "json"
		}
	}
	switch {
	case s.cfg.Format != "atom" && s.cfg.Format != "json":
		diags = append(diags, errorAt(cfg.FormatRange, "Invalid format", fmt.Sprintf("format is %q; ask for \"atom\" or \"json\".", cfg.Format)))
	case s.cfg.Format == "atom" && cfg.Version == 4:
		diags = append(diags, errorAt(cfg.FormatRange, "Atom in OData 4", `OData 4 services answer JSON; use format = "json".`))
	}
	for _, f := range cfg.Select {
		if f != "*" && !identRE.MatchString(f) {
			diags = append(diags, errorAt(cfg.SelectRange, "Invalid select", fmt.Sprintf("%q is not a property name.", f)))
		}
	}
	if cfg.Top < 0 {
		diags = append(diags, errorAt(cfg.TopRange, "Invalid top", fmt.Sprintf("top is %d; it is a page size, at least 1 (or leave it out).", cfg.Top)))
	}
	if cfg.MaxPages < 0 {
		diags = append(diags, errorAt(cfg.MaxPagesRange, "Invalid max_pages", fmt.Sprintf("max_pages is %d; it is at least 1 (or leave it out).", cfg.MaxPages)))
	}
	orderOK := true
	if cfg.CursorField != "" {
		if !identRE.MatchString(cfg.CursorField) {
			diags = append(diags, errorAt(cfg.CursorFieldRange, "Invalid cursor_field", fmt.Sprintf("cursor_field %q is not a property name such as \"lastUpdate\".", cfg.CursorField)))
		}
		if cfg.OrderBy == "" {
			s.cfg.OrderBy = cfg.CursorField + " asc"
		} else if first := strings.Fields(strings.Split(cfg.OrderBy, ",")[0]); len(first) == 0 || first[0] != cfg.CursorField || (len(first) > 1 && strings.ToLower(first[1]) != "asc") {
			orderOK = false
			diags = append(diags, errorAt(cfg.OrderByRange, "Not ordered by the cursor",
				fmt.Sprintf("With cursor_field = %q the entities must come sorted by it ascending first, e.g. orderby = \"%s asc,id asc\"; or leave orderby out.", cfg.CursorField, cfg.CursorField)))
		}
	}
	if cfg.KeyField != "" {
		diags = append(diags, s.checkKeyField(cfg, orderOK)...)
	}
	switch cfg.KeyType {
	case "", "string", "guid", "number":
		if cfg.KeyType != "" && cfg.KeyField == "" {
			diags = append(diags, errorAt(cfg.KeyTypeRange, "key_type without key_field", "key_type says how key_field's value is written; set key_field too."))
		}
	default:
		diags = append(diags, errorAt(cfg.KeyTypeRange, "Invalid key_type", fmt.Sprintf("key_type is %q; use \"string\", \"guid\" or \"number\".", cfg.KeyType)))
	}
	switch cfg.CursorType {
	case "", "datetime", "datetimeoffset", "number", "string":
		if cfg.CursorType != "" && cfg.CursorField == "" {
			diags = append(diags, errorAt(cfg.CursorTypeRange, "cursor_type without cursor_field", "cursor_type says how cursor_field's value is written; set cursor_field too."))
		}
	default:
		diags = append(diags, errorAt(cfg.CursorTypeRange, "Invalid cursor_type", fmt.Sprintf("cursor_type is %q; use \"datetime\", \"datetimeoffset\", \"number\" or \"string\".", cfg.CursorType)))
	}
	x := pc.Expressions
	if cfg.KeyRange != (hcl.Range{}) {
		p, d := x.Compile("key", cfg.Key, ctx, map[string]any{"record": map[string]any{}})
		diags = append(diags, d...)
		s.key = p
	}
	var sensitive []string
	if cfg.HeadersRange != (hcl.Range{}) {
		t, d := rest.CompileTemplate("headers", cfg.Headers, ctx, x, headerVars)
		diags = append(diags, d...)
		if t != nil && !t.IsObject() {
			diags = append(diags, errorAt(cfg.HeadersRange, "Invalid headers", `headers is an object of names and values, e.g. headers = { Authorization = "{{ … }}" }.`))
		}
		s.headers = t
		if t != nil && t.IsObject() {
			// Any of them may carry a credential: none follows a redirect
			// to another host.
			sensitive = t.Keys()
		}
	}
	s.secrets = make(map[string]any, len(cfg.Secrets))
	for k, v := range cfg.Secrets {
		s.secrets[k] = v
	}
	timeout, err := time.ParseDuration(cfg.Timeout)
	if err != nil || timeout <= 0 {
		diags = append(diags, errorAt(cfg.TimeoutRange, "Invalid timeout", fmt.Sprintf("timeout %q is not a positive Go duration such as \"30s\" or \"2m\".", cfg.Timeout)))
	}
	var maxPage int64
	if cfg.MaxPageSize != "" {
		var d *hcl.Diagnostic
		if maxPage, d = rest.ParseSize(cfg.MaxPageSize, cfg.MaxPageRange, "max_page_size"); d != nil {
			diags = append(diags, d)
		}
	}
	s.maxRecord = rest.DefaultMaxRecordSize
	if cfg.MaxRecordSize != "" {
		var d *hcl.Diagnostic
		if s.maxRecord, d = rest.ParseSize(cfg.MaxRecordSize, cfg.MaxRecordRange, "max_record_size"); d != nil {
			diags = append(diags, d)
		}
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
	s.client = rest.NewClient(rest.ClientOptions{Auth: auth, RateLimit: rl, Budget: rest.SharedBudget(pc, cfg.RateLimit, rl), Retry: retry, Timeout: timeout, SensitiveHeaders: sensitive, MaxBody: maxPage})
	for _, v := range cfg.Secrets {
		s.client.AddSecret(v)
	}
	return s, diags
}

// checkKeyField validates key_field and sets the order keyset paging
// needs: "<cursor_field> asc,<key_field> asc", or "<key_field> asc" alone.
// An orderby given must be that order; a select given must hold both
// properties, since the next page is asked for after their values.
func (s *Source) checkKeyField(cfg *Config, orderOK bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if !identRE.MatchString(cfg.KeyField) {
		diags = append(diags, errorAt(cfg.KeyFieldRange, "Invalid key_field", fmt.Sprintf("key_field %q is not a property name such as \"id\".", cfg.KeyField)))
	}
	if cfg.KeyField == cfg.CursorField {
		diags = append(diags, errorAt(cfg.KeyFieldRange, "key_field is cursor_field", "key_field is the property that tells apart entities with the same cursor_field value (the entity key, e.g. \"id\"); it cannot be cursor_field itself."))
	}
	want := []string{cfg.KeyField}
	if cfg.CursorField != "" {
		want = []string{cfg.CursorField, cfg.KeyField}
	}
	norm := strings.Join(want, " asc,") + " asc"
	if cfg.OrderBy != "" && orderOK && !sameOrder(cfg.OrderBy, want) {
		diags = append(diags, errorAt(cfg.OrderByRange, "Not ordered for key_field",
			fmt.Sprintf("With key_field = %q the source asks for the next page after the last entity read, so the entities must come sorted by orderby = %q; or leave orderby out.", cfg.KeyField, norm)))
	}
	s.cfg.OrderBy = norm
	if len(cfg.Select) > 0 && !slices.Contains(cfg.Select, "*") {
		for _, f := range want {
			if !slices.Contains(cfg.Select, f) {
				diags = append(diags, errorAt(cfg.SelectRange, "select leaves out a paging property",
					fmt.Sprintf("With key_field, the next page is asked for after the last entity's %s; add %q to select.", strings.Join(want, " and "), f)))
			}
		}
	}
	return diags
}

// sameOrder reports whether an $orderby expression sorts by the
// properties in want, in that order, each ascending.
func sameOrder(orderBy string, want []string) bool {
	terms := strings.Split(orderBy, ",")
	if len(terms) != len(want) {
		return false
	}
	for i, t := range terms {
		f := strings.Fields(t)
		if len(f) == 0 || len(f) > 2 || f[0] != want[i] || (len(f) == 2 && strings.ToLower(f[1]) != "asc") {
			return false
		}
	}
	return true
}

// CursorOrdered reports whether entities come sorted by the incremental
// cursor: true with cursor_field.
func (s *Source) CursorOrdered() bool { return s.cfg.CursorField != "" }

// Fields lists the selected properties; nil without select (or with *).
func (s *Source) Fields() []string {
	for _, f := range s.cfg.Select {
		if f == "*" || strings.Contains(f, "/") {
			return nil
		}
	}
	if len(s.cfg.Select) == 0 {
		return nil
	}
	return append([]string(nil), s.cfg.Select...)
}

// Describe returns the entity set's URL without secrets:
// "odata https://api4.marketsharpm.com/WcfDataService.svc/Contacts".
func (s *Source) Describe() string {
	return "odata " + s.client.SafeURL(s.setURL)
}

// PlanRead renders the first request a run with opts would send, without
// sending it and without secrets.
func (s *Source) PlanRead(opts engine.ReadOptions) string {
	u, err := s.firstURL(opts.Since)
	if err != nil {
		return fmt.Sprintf("GET %s (cannot build the first request: %v)", s.client.SafeURL(s.setURL), s.client.Redact(err.Error()))
	}
	return "GET " + s.client.SafeURL(u)
}

// firstURL is the first page's URL: the entity set with the query options,
// the incremental filter from since included.
func (s *Source) firstURL(since any) (string, error) {
	return s.pageURL(since, "", 0, true)
}

// pageURL builds the URL of a page the client pages to: after, when not
// "", is the keyset condition that continues after the last entity read
// (ANDed with the filter and the incremental condition); skip entities are
// skipped. first adds the options only the first request carries.
func (s *Source) pageURL(since any, after string, skip int, first bool) (string, error) {
	q := url.Values{}
	for k, v := range s.cfg.Query {
		q.Set(k, v)
	}
	if len(s.cfg.Select) > 0 {
		q.Set("$select", strings.Join(s.cfg.Select, ","))
	}
	// The filter, the incremental condition and the keyset condition, ANDed:
	// the filter and the keyset condition in parentheses when there is more
	// than one, as either may hold an "or".
	var conds, wrapped []string
	if s.cfg.Filter != "" {
		conds, wrapped = append(conds, s.cfg.Filter), append(wrapped, "("+s.cfg.Filter+")")
	}
	if s.cfg.CursorField != "" && since != nil {
		lit, err := s.literal(since)
		if err != nil {
			return "", err
		}
		cond := s.cfg.CursorField + " ge " + lit
		conds, wrapped = append(conds, cond), append(wrapped, cond)
	}
	if after != "" {
		conds, wrapped = append(conds, after), append(wrapped, "("+after+")")
	}
	filter := strings.Join(wrapped, " and ")
	if len(conds) == 1 {
		filter = conds[0]
	}
	if filter != "" {
		q.Set("$filter", filter)
	}
	if s.cfg.OrderBy != "" {
		q.Set("$orderby", s.cfg.OrderBy)
	}
	if s.cfg.Expand != "" {
		q.Set("$expand", s.cfg.Expand)
	}
	if s.cfg.Top > 0 {
		q.Set("$top", strconv.Itoa(s.cfg.Top))
	}
	if skip > 0 {
		q.Set("$skip", strconv.Itoa(skip))
	}
	if s.cfg.Count && first {
		if s.cfg.Version == 4 {
			q.Set("$count", "true")
		} else {
			q.Set("$inlinecount", "allpages")
		}
	}
	if len(q) == 0 {
		return s.setURL, nil
	}
	return s.setURL + "?" + encodeQuery(q), nil
}

// encodeQuery encodes query options as OData servers read them best: keys
// sorted, spaces as %20 rather than +, and $ , ' : ( ) / kept literal.
func encodeQuery(q url.Values) string {
	keep := strings.NewReplacer("+", "%20", "%24", "$", "%2C", ",", "%27", "'", "%3A", ":", "%28", "(", "%29", ")", "%2F", "/")
	return keep.Replace(q.Encode())
}

// literal writes a cursor value as an OData literal for the filter.
func (s *Source) literal(since any) (string, error) {
	kind := s.cfg.CursorType
	if t, ok := since.(time.Time); ok {
		switch {
		case kind == "" && s.cfg.Version == 4, kind == "datetimeoffset" && s.cfg.Version == 4:
			return t.UTC().Format("2006-01-02T15:04:05.9999999Z"), nil
		case kind == "", kind == "datetime":
			if s.cfg.Version == 4 {
				return t.In(s.loc).Format("2006-01-02T15:04:05.9999999"), nil
			}
			return "datetime'" + t.In(s.loc).Format("2006-01-02T15:04:05.9999999") + "'", nil
		case kind == "datetimeoffset":
			return "datetimeoffset'" + t.UTC().Format("2006-01-02T15:04:05.9999999Z") + "'", nil
		case kind == "string":
			return quote(t.UTC().Format(time.RFC3339Nano)), nil
		}
		return "", fmt.Errorf("the cursor %s is a timestamp, but cursor_type is %q", t.UTC().Format(time.RFC3339Nano), kind)
	}
	var text string
	switch v := since.(type) {
	case int64:
		text = strconv.FormatInt(v, 10)
	case int:
		text = strconv.Itoa(v)
	case float64:
		text = strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		text = v.String()
	case string:
		if kind == "number" {
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return "", fmt.Errorf("the cursor %q is not a number (cursor_type = \"number\")", v)
			}
			return v, nil
		}
		if kind == "datetime" || kind == "datetimeoffset" {
			return kind + quote(v), nil
		}
		return quote(v), nil
	default:
		return "", fmt.Errorf("the cursor %v is a %T; want a timestamp, a number or a string", since, since)
	}
	if kind == "string" {
		return quote(text), nil
	}
	return text, nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// requestHeaders are the fixed headers of every request: what the source
// accepts and the protocol version it speaks.
func (s *Source) requestHeaders() http.Header {
	h := http.Header{}
	if s.cfg.Format == "atom" {
		h.Set("Accept", "application/atom+xml, application/xml;q=0.9")
	} else {
		h.Set("Accept", "application/json")
	}
	if s.cfg.Version == 4 {
		h.Set("OData-MaxVersion", "4.0")
	} else {
		h.Set("MaxDataServiceVersion", "2.0")
	}
	return h
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
	if rng != (hcl.Range{}) {
		d.Subject = rng.Ptr()
	}
	return d
}

// Secrets returns the auth block's values and the secrets attribute's:
// secret as a whole wherever they came from (engine.SecretHolder).
func (s *Source) Secrets() []string {
	out := s.client.Secrets()
	for _, v := range s.secrets {
		if str, ok := v.(string); ok {
			out = append(out, str)
		}
	}
	return out
}
