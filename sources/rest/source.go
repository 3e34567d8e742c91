package rest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"

	"github.com/etl-dev/etl/engine"
)

// Register adds the "rest" source kind to r.
func Register(r *engine.Registry) {
	r.RegisterSource("rest", New)
}

// Config is the schema of a `source "rest" {}` block body. The *Range
// fields are filled by the decoder with where each attribute's value is,
// for diagnostics.
type Config struct {
	// URL is the endpoint; it may hold {{ expr }} parts (see Query). With
	// BaseURL, a URL that is not absolute is a path under it.
	URL string `hcl:"url"`
	// BaseURL is what a relative url is joined to, e.g.
	// "https://api.hubapi.com": it belongs to the account, so a connection
	// holds it and each source adds its path.
	BaseURL string `hcl:"base_url,optional"`
	// Method is GET (default) or POST.
	Method string `hcl:"method,optional"`
	// Query holds the query parameters: an object of strings, numbers,
	// booleans or lists (a list repeats the key). A string that is one
	// {{ expr }} is evaluated for each request, over since, cursor, page
	// and offset; nil leaves the parameter out.
	Query hcl.Expression `hcl:"query,optional"`
	// Headers are request headers, with {{ expr }} as in Query. Credentials
	// belong in an auth block, which keeps them off other hosts.
	Headers hcl.Expression `hcl:"headers,optional"`
	// Body is sent as JSON, with {{ expr }} as in Query at any depth.
	Body hcl.Expression `hcl:"body,optional"`
	// Timeout bounds one attempt of a request, body included; default "30s".
	Timeout string `hcl:"timeout,optional"`
	// MaxPageSize bounds a response body, which is read whole: "64MiB" by
	// default. A larger page fails the read, naming its URL.
	MaxPageSize string `hcl:"max_page_size,optional"`
	// Records says where a response's records are: a path into the body
	// ("results", "data.items") or an expr over body and headers. Default:
	// the body itself, which must then be an array.
	Records hcl.Expression `hcl:"records,optional"`
	// Key is an expr over record giving its id: it fills the records'
	// positions and lets a restarted query skip what it has read.
	Key hcl.Expression `hcl:"key,optional"`
	// Ordered declares that the requests sort records ascending by the
	// pipeline's incremental cursor, so the engine may save the cursor with
	// every batch. Default: true with restart_from, else false.
	Ordered *bool `hcl:"ordered,optional"`

	Auth      *AuthConfig      `hcl:"auth,block"`
	Paginate  *PaginateConfig  `hcl:"paginate,block"`
	RateLimit *RateLimitConfig `hcl:"rate_limit,block"`
	Retry     *RetryConfig     `hcl:"retry,block"`

	URLRange     hcl.Range `hcl:"url,attr_value_range"`
	MethodRange  hcl.Range `hcl:"method,attr_value_range"`
	QueryRange   hcl.Range `hcl:"query,attr_value_range"`
	HeadersRange hcl.Range `hcl:"headers,attr_value_range"`
	BodyRange    hcl.Range `hcl:"body,attr_value_range"`
	TimeoutRange hcl.Range `hcl:"timeout,attr_value_range"`
	MaxPageRange hcl.Range `hcl:"max_page_size,attr_value_range"`
	RecordsRange hcl.Range `hcl:"records,attr_value_range"`
	KeyRange     hcl.Range `hcl:"key,attr_value_range"`
}

// Source reads the records of a paged JSON API. It is safe to Read more
// than once; each Read starts from the first page.
type Source struct {
	method   string
	rawURL   string // as configured, for Describe
	url      template
	query    template // *objectTmpl or nil
	headers  template // *objectTmpl or nil
	body     template // nil: no body
	records  *engine.Program
	key      *engine.Program
	ordered  bool
	pager    *pager // nil: one page
	inFlight int    // requests kept in flight where pages can be asked ahead (see prefetcher)
	client   *Client
	pipeline string
}

var (
	_ engine.Source        = (*Source)(nil)
	_ engine.CursorOrdered = (*Source)(nil)
	_ engine.Describer     = (*Source)(nil)
	_ engine.ReadPlanner   = (*Source)(nil)
	_ engine.SecretHolder  = (*Source)(nil)
)

// New decodes body into a Config, with defaults filled first, validates it
// and returns the Source.
func New(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	cfg := Config{Method: http.MethodGet, Timeout: DefaultTimeout.String()}
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

var pathRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func build(cfg *Config, ctx *hcl.EvalContext, pc engine.PluginContext) (*Source, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	x := pc.Expressions
	if cfg.BaseURL != "" && !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		cfg.URL = strings.TrimRight(cfg.BaseURL, "/") + "/" + strings.TrimLeft(cfg.URL, "/")
	}
	s := &Source{rawURL: cfg.URL, pipeline: pc.Pipeline}

	s.method = strings.ToUpper(cfg.Method)
	if s.method != http.MethodGet && s.method != http.MethodPost {
		diags = append(diags, errorAt(cfg.MethodRange, "Invalid method", fmt.Sprintf("method is %q; the rest source sends \"GET\" or \"POST\".", cfg.Method)))
	}
	if u, err := url.Parse(templateRE.ReplaceAllString(cfg.URL, "x")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		diags = append(diags, errorAt(cfg.URLRange, "Invalid URL", fmt.Sprintf("url %q is not an absolute http:// or https:// URL.", cfg.URL)))
	}
	var d hcl.Diagnostics
	s.url, d = stringTemplate("url", cfg.URL, cfg.URLRange, x, requestVars)
	diags = append(diags, d...)

	objectAttr := func(name string, e hcl.Expression, rng hcl.Range) template {
		if rng == (hcl.Range{}) {
			return nil
		}
		t, d := compileTemplate(name, e, ctx, x, requestVars)
		diags = append(diags, d...)
		if _, ok := t.(*objectTmpl); !ok && !d.HasErrors() {
			diags = append(diags, errorAt(rng, "Invalid "+name, fmt.Sprintf(`%s is an object of names and values, e.g. %s = { limit = 100 }.`, name, name)))
		}
		return t
	}
	s.query = objectAttr("query", cfg.Query, cfg.QueryRange)
	s.headers = objectAttr("headers", cfg.Headers, cfg.HeadersRange)
	if cfg.BodyRange != (hcl.Range{}) {
		s.body, d = compileTemplate("body", cfg.Body, ctx, x, requestVars)
		diags = append(diags, d...)
		if s.method == http.MethodGet {
			diags = append(diags, errorAt(cfg.BodyRange, "Body on a GET request", `A body is sent with method = "POST"; add it, or move the values to query.`))
		}
	}

	timeout, diag := parseDuration(cfg.Timeout, cfg.TimeoutRange, "timeout")
	if diag != nil {
		diags = append(diags, diag)
	}
	var maxPage int64
	if cfg.MaxPageSize != "" {
		if maxPage, diag = ParseSize(cfg.MaxPageSize, cfg.MaxPageRange, "max_page_size"); diag != nil {
			diags = append(diags, diag)
		}
	}

	if cfg.RecordsRange != (hcl.Range{}) {
		e := cfg.Records
		var src string
		if d := gohcl.DecodeExpression(e, ctx, &src); !d.HasErrors() && pathRE.MatchString(src) && src != "body" && !strings.HasPrefix(src, "body.") && !strings.HasPrefix(src, "headers.") {
			e = hcl.StaticExpr(cty.StringVal("body?."+strings.ReplaceAll(src, ".", "?.")), cfg.RecordsRange)
		}
		vars := map[string]any{"body": nil, "headers": map[string]any{}}
		s.records, d = x.Compile("records", e, ctx, vars)
		diags = append(diags, d...)
	}
	if cfg.KeyRange != (hcl.Range{}) {
		s.key, d = x.Compile("key", cfg.Key, ctx, recordVars)
		diags = append(diags, d...)
	}
	if cfg.Paginate != nil {
		s.pager, d = cfg.Paginate.build(ctx, x, cfg.KeyRange != (hcl.Range{}))
		diags = append(diags, d...)
		if s.pager != nil && s.pager.inBody && s.body == nil && !d.HasErrors() {
			diags = append(diags, errorAt(cfg.Paginate.InRange, "No body to put the parameter in",
				`in = "body" adds the paging parameter to the JSON body; declare a body (with method = "POST"), or use in = "query".`))
		}
		if s.pager != nil && s.pager.inBody {
			if _, ok := s.body.(*objectTmpl); !ok && s.body != nil {
				diags = append(diags, errorAt(cfg.BodyRange, "Body is not an object", `in = "body" adds the paging parameter to the JSON body, which must then be an object.`))
			}
		}
	}
	if s.pager != nil && s.pager.style == "cursor" && s.pager.param == "" && !d.HasErrors() && !usesVar(s.url, "cursor") && !usesVar(s.query, "cursor") && !usesVar(s.headers, "cursor") && !usesVar(s.body, "cursor") {
		diags = append(diags, errorAt(cfg.Paginate.DefRange, "Missing param",
			`paginate "cursor" sends the cursor back as param, e.g. param = "after"; or place it yourself with a {{ cursor }} value in query, headers or body.`))
	}
	s.ordered = s.pager != nil && s.pager.restartFrom != nil
	if cfg.Ordered != nil {
		s.ordered = *cfg.Ordered
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
	s.client = NewClient(ClientOptions{Auth: auth, RateLimit: rl, Budget: SharedBudget(pc, cfg.RateLimit, rl), Retry: retry, Timeout: timeout, MaxBody: maxPage})
	if rl != nil {
		s.inFlight = min(rl.Requests, maxInFlight)
	}
	return s, diags
}

// CursorOrdered reports whether records come sorted by the incremental
// cursor: the `ordered` attribute, true by default with restart_from.
func (s *Source) CursorOrdered() bool { return s.ordered }

// Describe returns the method and the URL as configured, without secrets:
// "rest GET https://api.hubapi.com/crm/v3/objects/contacts".
func (s *Source) Describe() string {
	return "rest " + s.method + " " + s.client.SafeURL(s.rawURL)
}

// PlanRead renders the first request a run with opts would send, without
// sending it and without secrets: the method, the URL and, for a POST, the
// JSON body.
func (s *Source) PlanRead(opts engine.ReadOptions) string {
	st := s.firstState(opts)
	req, err := s.request(&st)
	if err != nil {
		return s.client.Redact(fmt.Sprintf("%s %s (cannot build the first request: %v)", s.method, s.client.SafeURL(s.rawURL), err))
	}
	plan := req.Method + " " + s.client.SafeURL(req.URL)
	if req.Body != nil {
		plan += " " + s.client.Redact(string(req.Body))
	}
	return plan
}

// reqState is where paging stands: what the next request sends.
type reqState struct {
	page   int    // 1-based number of the page requested
	offset int    // records before this page (offset style: the offset sent)
	cursor any    // the cursor or last id to send back; nil at first
	since  any    // the lower bound: ReadOptions.Since, or the restart value
	url    string // next_url, link_header: the URL to fetch; "" builds one
}

// firstState is where paging starts.
func (s *Source) firstState(opts engine.ReadOptions) reqState {
	st := reqState{page: 1, since: opts.Since}
	if s.pager != nil && s.pager.style == "offset" {
		st.offset = s.pager.start
	}
	return st
}

// page is one fetched page on its way to emit.
type page struct {
	records []engine.Record
}

// Read fetches page after page and emits their records; see
// engine.Source. The next page is fetched while the records of the last
// are being emitted.
func (s *Source) Read(ctx context.Context, opts engine.ReadOptions, emit func(engine.Record) error) error {
	client := s.client.WithLogger(opts.Logger)
	if st, ok := s.client.auth.(stateful); ok {
		st.useState(opts.State)
	}
	emitErr, ferr := engine.ReadAhead(ctx, func(ctx context.Context, put func([]engine.Record) error) error {
		return s.fetch(ctx, client, opts, func(p page) error { return put(p.records) })
	}, emit)
	if emitErr != nil {
		return emitErr
	}
	if ferr != nil {
		return client.redactErr(ferr)
	}
	return nil
}

// restartState tracks a query that restarts before its result cap.
type restartState struct {
	inQuery   int             // results paged through in the current query
	boundary  string          // valueKey of the largest restart value read
	boundaryV any             // that value
	keys      map[string]bool // keys read at the boundary value
	restarted bool
	lastAt    string // boundary of the last restart
}

// fetch requests every page in turn and sends each to out.
func (s *Source) fetch(ctx context.Context, client *Client, opts engine.ReadOptions, out func(page) error) error {
	if opts.Logger == nil {
		opts.Logger = client.log
	}
	st := s.firstState(opts)
	p := s.pager
	seen := map[string]int{} // cursor, URL or last id → the page that gave it
	var prevHash [32]byte
	read := 0      // records in the pages read so far
	emitted := 0   // records emitted (a restarted query skips some)
	queryBase := 0 // records emitted before the current query began
	var rs restartState
	pf := s.newPrefetcher(ctx, client)
	defer pf.close()
	restart := func(reason string) error {
		if rs.boundary == "" {
			return fmt.Errorf("page %d: %s, and no record has been read to restart from", st.page, reason)
		}
		if rs.restarted && rs.boundary == rs.lastAt {
			return fmt.Errorf("page %d: %s, but every result since the last restart has restart_from value %s: more than max_results (%d) records share it, so the query cannot get past it", st.page, reason, rs.boundary, p.maxResults)
		}
		opts.Logger.Info("restarting the query from the last value read", "pipeline", s.pipeline, "reason", reason, "from", rs.boundary, "page", st.page)
		rs.restarted, rs.lastAt, rs.inQuery = true, rs.boundary, 0
		queryBase = emitted - len(rs.keys)
		st.since, st.cursor = rs.boundaryV, nil
		clear(seen)
		return nil
	}

	for {
		req, err := s.request(&st)
		if err != nil {
			return fmt.Errorf("page %d: build request: %w", st.page, err)
		}
		resp, err := pf.do(ctx, client, st, req)
		if err != nil {
			var se *StatusError
			if p != nil && p.restartFrom != nil && rs.inQuery > 0 && errors.As(err, &se) && se.Status == http.StatusBadRequest {
				if rerr := restart(fmt.Sprintf("the server refused to page on (%d %s)", se.Status, http.StatusText(se.Status))); rerr != nil {
					return fmt.Errorf("%w (%v)", err, rerr)
				}
				continue
			}
			return err
		}
		where := fmt.Sprintf("page %d (%s %s)", st.page, req.Method, client.SafeURL(req.URL))
		body, err := decodeJSON(resp.Body)
		if err != nil {
			return fmt.Errorf("%s: response is not valid JSON (Content-Type %q): %w", where, resp.Header.Get("Content-Type"), err)
		}
		hdrs := headerMap(resp.Header)
		raw, err := s.extract(body, hdrs)
		if err != nil {
			return fmt.Errorf("%s: records: %w", where, err)
		}

		// Records, with their positions; a restarted query skips the ones
		// it has read already.
		pg := page{records: make([]engine.Record, 0, len(raw))}
		pageNo := strconv.Itoa(st.page)
		for i, r := range raw {
			rec := engine.Record{Pos: engine.Position{Page: pageNo}}
			m, ok := r.(map[string]any)
			if !ok {
				b, _ := json.Marshal(r)
				rec.Raw = string(b)
				rec.Err = fmt.Errorf("record %d of page %d is %s, not an object", i+1, st.page, jsonKind(r))
				pg.records = append(pg.records, rec)
				continue
			}
			rec.Fields = m
			if s.key != nil {
				k, err := s.key.Eval(map[string]any{"record": m})
				if err != nil && p != nil && p.restartFrom != nil {
					return fmt.Errorf("%s: record %d: key: %w", where, i+1, err)
				}
				if err != nil {
					rec.Err = fmt.Errorf("key: %w", err) // this record is rejected; the read goes on
					pg.records = append(pg.records, rec)
					continue
				}
				if k != nil {
					rec.Pos.Key = formatScalar(k)
				}
			}
			if p != nil && p.restartFrom != nil {
				v, err := p.restartFrom.Eval(map[string]any{"record": m})
				if err != nil {
					return fmt.Errorf("%s: record %d: restart_from: %w", where, i+1, err)
				}
				if v == nil {
					return fmt.Errorf("%s: record %d (key %s): restart_from %s is nil; the query must sort by a value every record has", where, i+1, rec.Pos.Key, p.restartFrom.Source)
				}
				if rec.Pos.Key == "" {
					return fmt.Errorf("%s: record %d has no key (%s is nil or \"\"); a restarted query needs it to skip what it has read", where, i+1, s.key.Source)
				}
				vk := valueKey(v)
				if vk == rs.boundary {
					if rs.restarted && rs.keys[rec.Pos.Key] {
						continue // read before the restart
					}
				} else {
					rs.boundary, rs.boundaryV, rs.keys = vk, v, map[string]bool{}
				}
				rs.keys[rec.Pos.Key] = true
			}
			pg.records = append(pg.records, rec)
		}
		read += len(raw)
		emitted += len(pg.records)

		// The total the API reports, for progress and (offset, page) to stop.
		var env map[string]any
		total := int64(-1)
		if p != nil {
			env = map[string]any{"body": body, "headers": hdrs, "records": raw, "page": st.page}
			if p.total != nil {
				v, err := p.total.Eval(env)
				if err != nil {
					return fmt.Errorf("%s: total: %w", where, err)
				}
				if v != nil {
					total, err = strconv.ParseInt(formatScalar(v), 10, 64)
					if err != nil || total < 0 {
						return fmt.Errorf("%s: total: %v is not a whole number", where, v)
					}
					if pf != nil {
						pf.total = total
					}
				}
			}
		}
		if opts.Progress != nil && total >= 0 {
			if p.style == "cursor" {
				// A cursor query's total counts what is left from where it started.
				opts.Progress(int64(emitted), int64(queryBase)+total)
			} else {
				opts.Progress(int64(emitted), total)
			}
		}
		if len(pg.records) > 0 {
			if err := out(pg); err != nil {
				return err
			}
		}

		// What comes next.
		if p == nil {
			return nil
		}
		if p.stop != nil {
			v, err := p.stop.Eval(env)
			if err != nil {
				return fmt.Errorf("%s: stop: %w", where, err)
			}
			if b, _ := v.(bool); b {
				return nil
			}
		}
		if p.maxPages > 0 && st.page >= p.maxPages {
			opts.Logger.Info("max_pages reached; stopping", "pipeline", s.pipeline, "max_pages", p.maxPages)
			return nil
		}
		if total >= 0 && p.style != "cursor" && int64(read) >= total {
			return nil
		}
		if p.style == "offset" || p.style == "page" || p.style == "after_id" {
			if len(raw) == 0 || (p.limit > 0 && len(raw) < p.limit) {
				return nil
			}
			h := sha256.Sum256(resp.Body)
			if p.style != "after_id" && st.page > 1 && h == prevHash {
				return fmt.Errorf("%s: the page is the same as page %d; does the API take %q? (a page seen twice would loop)", where, st.page-1, p.param)
			}
			prevHash = h
		}
		switch p.style {
		case "cursor":
			v, err := p.next.Eval(env)
			if err != nil {
				return fmt.Errorf("%s: next: %w", where, err)
			}
			c := formatScalar(v)
			if v == nil || c == "" {
				return nil
			}
			if at, dup := seen[c]; dup {
				return fmt.Errorf("%s: the cursor %q was already returned by page %d; stopping rather than looping", where, c, at)
			}
			seen[c] = st.page
			rs.inQuery += len(raw)
			st.cursor = v
			if p.restartFrom != nil && rs.inQuery+len(raw) > p.maxResults {
				if err := restart(fmt.Sprintf("the next page would pass max_results (%d)", p.maxResults)); err != nil {
					return err
				}
			}
		case "next_url":
			v, err := p.next.Eval(env)
			if err != nil {
				return fmt.Errorf("%s: next: %w", where, err)
			}
			if v == nil || formatScalar(v) == "" {
				return nil
			}
			if err := s.follow(&st, seen, req.URL, formatScalar(v), where); err != nil {
				return err
			}
		case "link_header":
			l := nextLink(resp.Header)
			if l == "" {
				return nil
			}
			if err := s.follow(&st, seen, req.URL, l, where); err != nil {
				return err
			}
		case "offset":
			st.offset += len(raw)
		case "page":
			st.offset += len(raw)
		case "after_id":
			v, err := p.field.Eval(map[string]any{"record": raw[len(raw)-1]})
			if err != nil {
				return fmt.Errorf("%s: field: %w", where, err)
			}
			c := formatScalar(v)
			if v == nil || c == "" {
				return fmt.Errorf("%s: the last record has no %s to page on", where, p.field.Source)
			}
			if at, dup := seen[c]; dup {
				return fmt.Errorf("%s: the last id %q was already the last id of page %d; stopping rather than looping", where, c, at)
			}
			seen[c] = st.page
			st.cursor = v
		}
		st.page++
	}
}

// follow moves st to the next page's URL, refusing one seen before.
func (s *Source) follow(st *reqState, seen map[string]int, base, next, where string) error {
	u, err := resolve(base, next)
	if err != nil {
		return fmt.Errorf("%s: next page URL: %w", where, err)
	}
	if at, dup := seen[u]; dup {
		return fmt.Errorf("%s: the next page URL %s was already returned by page %d; stopping rather than looping", where, s.client.SafeURL(u), at)
	}
	seen[u] = st.page
	st.url = u
	return nil
}

// request builds the request for the page st stands at.
func (s *Source) request(st *reqState) (*Request, error) {
	env := map[string]any{"since": st.since, "cursor": st.cursor, "page": st.page, "offset": st.offset}
	p := s.pager
	var paramVal any // the paging parameter's value; nil: not sent
	if p != nil {
		switch p.style {
		case "cursor", "after_id":
			paramVal = st.cursor
		case "offset":
			paramVal = st.offset
		case "page":
			paramVal = p.start + st.page - 1
		}
	}
	req := &Request{Method: s.method, Header: http.Header{}, Label: "page " + strconv.Itoa(st.page)}

	if st.url != "" {
		req.URL = st.url
	} else {
		v, err := s.url.eval(env)
		if err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
		raw, _ := v.(string)
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
		q := u.Query()
		if s.query != nil {
			v, err := s.query.eval(env)
			if err != nil {
				return nil, fmt.Errorf("query.%w", err)
			}
			m := v.(map[string]any)
			for _, k := range sortedKeys(m) {
				q.Del(k)
				switch x := m[k].(type) {
				case []any:
					for _, e := range x {
						q.Add(k, formatScalar(e))
					}
				default:
					q.Set(k, formatScalar(x))
				}
			}
		}
		if paramVal != nil && p.param != "" && !p.inBody {
			q.Set(p.param, formatScalar(paramVal))
		}
		u.RawQuery = q.Encode()
		req.URL = u.String()
	}

	if s.headers != nil {
		v, err := s.headers.eval(env)
		if err != nil {
			return nil, fmt.Errorf("headers.%w", err)
		}
		for k, hv := range v.(map[string]any) {
			req.Header.Set(k, formatScalar(hv))
		}
	}
	if s.body != nil {
		v, err := s.body.eval(env)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		if paramVal != nil && p.param != "" && p.inBody {
			v.(map[string]any)[p.param] = paramVal
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		req.Body = b
	}
	return req, nil
}

// extract finds the page's records in the response.
func (s *Source) extract(body any, hdrs map[string]any) ([]any, error) {
	v := body
	if s.records != nil {
		var err error
		v, err = s.records.Eval(map[string]any{"body": body, "headers": hdrs})
		if err != nil {
			return nil, err
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	}
	if s.records == nil {
		return nil, fmt.Errorf("the body is %s, not an array; set records to where the records are, e.g. records = \"results\"", jsonKind(v))
	}
	return nil, fmt.Errorf("%s gave %s, not an array", s.records.Source, jsonKind(v))
}

// decodeJSON decodes one JSON value, numbers as json.Number so no id or
// amount loses precision. An empty body is null.
func decodeJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(b, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value at byte %d", dec.InputOffset())
	}
	return v, nil
}

// jsonError adds where a syntax error is to its message.
func jsonError(b []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%w at byte %d", err, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the body ends inside a JSON value after %d bytes", len(b))
	}
	return err
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("a %T", v)
}

// headerMap gives response headers to expressions: lower-case names, the
// first value of each.
func headerMap(h http.Header) map[string]any {
	m := make(map[string]any, len(h))
	for k, v := range h {
		if len(v) > 0 {
			m[strings.ToLower(k)] = v[0]
		}
	}
	return m
}

// valueKey renders a restart value for equality: instants by their UTC
// text, everything else by its text.
func valueKey(v any) string {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return formatScalar(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// didYouMean suggests the closest candidate, as " Did you mean "x"?", or "".
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// Secrets returns the auth block's values: secret as a whole wherever they
// came from (engine.SecretHolder).
func (s *Source) Secrets() []string { return s.client.Secrets() }
