// Package webhook is the source whose records are delivered over HTTP
// (`source "webhook" {}`), and the trigger that starts a run when a
// delivery comes (`trigger "webhook" {}`). `etl serve` mounts both on its
// listener: for each delivery it asks the Source to verify and parse it
// (Receive), stores the records in the warehouse's inbox in the transaction
// that enqueues the run that lands them, and only then answers the sender.
// A run reads the inbox (Read); the sink marks the records it landed
// processed in the batch's transaction, so each record lands exactly once.
//
// verify, records and dedupe are expr code, compiled when the file loads.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/etl-dev/etl/engine"
)

// Register adds the webhook source and trigger kinds to r.
func Register(r *engine.Registry) {
	r.RegisterSource("webhook", New)
	r.RegisterTrigger("webhook", NewTrigger)
}

// The defaults of the optional attributes.
const (
	DefaultMaxBody      = 1 << 20
	DefaultBatchWait    = time.Second
	DefaultDedupeWindow = 7 * 24 * time.Hour
	DefaultDebounce     = 10 * time.Second
	// pageSize is how many stored records a run reads from the inbox at once.
	pageSize = 1000
)

// Config is the schema of a `source "webhook" {}` block body.
type Config struct {
	TriggerConfig
	// Records is an expr over body (the parsed JSON or form) and headers
	// giving the delivery's records: a list of objects, or one object.
	// Default: the body itself.
	Records hcl.Expression
	// Dedupe is an expr over record and headers giving the record's
	// idempotency key; a record whose key was stored within dedupe_window
	// is acknowledged and not stored again. nil: no key.
	Dedupe hcl.Expression
	// Key, an expr over record, fills the records' positions (rejects).
	Key          hcl.Expression
	BatchWait    string
	DedupeWindow string
	// Response is an expr over ok, status, reason and stored giving the
	// body of every answer: an object is sent as JSON, a string as text.
	// Default: an empty body.
	Response hcl.Expression
}

// SourceSchema is Config as gohcl decodes it (gohcl takes no embedded
// structs): every attribute of a webhook source.
type SourceSchema struct {
	Path         string            `hcl:"path"`
	Method       string            `hcl:"method,optional"`
	Verify       hcl.Expression    `hcl:"verify,optional"`
	Secrets      map[string]string `hcl:"secrets,optional"`
	MaxBody      *int64            `hcl:"max_body,optional"`
	PublicURL    string            `hcl:"public_url,optional"`
	Records      hcl.Expression    `hcl:"records,optional"`
	Dedupe       hcl.Expression    `hcl:"dedupe,optional"`
	Key          hcl.Expression    `hcl:"key,optional"`
	BatchWait    string            `hcl:"batch_wait,optional"`
	DedupeWindow string            `hcl:"dedupe_window,optional"`
	Response     hcl.Expression    `hcl:"response,optional"`

	MethodRange       hcl.Range `hcl:"method,attr_value_range"`
	PathRange         hcl.Range `hcl:"path,attr_value_range"`
	MaxBodyRange      hcl.Range `hcl:"max_body,attr_value_range"`
	PublicURLRange    hcl.Range `hcl:"public_url,attr_value_range"`
	BatchWaitRange    hcl.Range `hcl:"batch_wait,attr_value_range"`
	DedupeWindowRange hcl.Range `hcl:"dedupe_window,attr_value_range"`
}

// TriggerConfig is the schema of a `trigger "webhook" {}` block body; a
// webhook source has these attributes too, but debounce.
type TriggerConfig struct {
	Path   string `hcl:"path"`
	Method string `hcl:"method,optional"`
	// Verify is an expr over method, url, headers, body and secrets that
	// must be true for a delivery to be accepted (401 otherwise).
	Verify hcl.Expression `hcl:"verify,optional"`
	// Secrets are values verify reads as secrets.NAME; never logged.
	Secrets map[string]string `hcl:"secrets,optional"`
	// MaxBody is the largest body accepted, in bytes; default 1 MiB.
	MaxBody *int64 `hcl:"max_body,optional"`
	// PublicURL is the scheme and host senders call (behind a proxy that
	// terminates TLS), for the url verify signs; default: from the
	// request (X-Forwarded-Proto and X-Forwarded-Host honoured).
	PublicURL string `hcl:"public_url,optional"`
	// Debounce: deliveries within it start one run; default 10s.
	Debounce string `hcl:"debounce,optional"`

	// Where the values are, for diagnostics.
	MethodRange    hcl.Range `hcl:"method,attr_value_range"`
	PathRange      hcl.Range `hcl:"path,attr_value_range"`
	MaxBodyRange   hcl.Range `hcl:"max_body,attr_value_range"`
	PublicURLRange hcl.Range `hcl:"public_url,attr_value_range"`
	DebounceRange  hcl.Range `hcl:"debounce,attr_value_range"`
}

// Source is a webhook source: a Receiver for `etl serve`, and an
// engine.Source that reads what was delivered.
type Source struct {
	receiver
	records      *engine.Program // nil: the body
	dedupe       *engine.Program // nil: no keys
	key          *engine.Program // nil: no positions
	response     *engine.Program // nil: an empty body
	batchWait    time.Duration
	dedupeWindow time.Duration
}

// receiver is what a source and a trigger share: the route and the check.
type receiver struct {
	method    string
	path      string
	maxBody   int64
	verify    *engine.Program // nil: every delivery is accepted
	secrets   map[string]any
	publicURL string
	pipeline  string
}

var (
	_ engine.Source    = (*Source)(nil)
	_ engine.Receiver  = (*Source)(nil)
	_ engine.Describer = (*Source)(nil)
	_ engine.Trigger   = (*Trigger)(nil)
)

// The variables each expression sees, with samples that give their types.
var (
	verifyVars = map[string]any{"method": "", "url": "", "headers": map[string]any{}, "body": "", "secrets": map[string]any{}}
	recordVars = map[string]any{"body": nil, "headers": map[string]any{}}
	dedupeVars = map[string]any{"record": nil, "headers": map[string]any{}}
	keyVars    = map[string]any{"record": nil}
	respVars   = map[string]any{"ok": false, "status": 0, "reason": "", "stored": 0}
)

// New decodes a `source "webhook" {}` body.
func New(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	var sc SourceSchema
	diags := gohcl.DecodeBody(body, ctx, &sc)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg := Config{
		TriggerConfig: TriggerConfig{Path: sc.Path, Method: sc.Method, Verify: sc.Verify, Secrets: sc.Secrets,
			MaxBody: sc.MaxBody, PublicURL: sc.PublicURL,
			MethodRange: sc.MethodRange, PathRange: sc.PathRange, MaxBodyRange: sc.MaxBodyRange, PublicURLRange: sc.PublicURLRange},
		Records: sc.Records, Dedupe: sc.Dedupe, Key: sc.Key, BatchWait: sc.BatchWait,
		DedupeWindow: sc.DedupeWindow, Response: sc.Response,
	}
	x := pc.Expressions
	s := &Source{batchWait: DefaultBatchWait, dedupeWindow: DefaultDedupeWindow}
	r, d := buildReceiver(&cfg.TriggerConfig, ctx, pc)
	diags = append(diags, d...)
	if r != nil {
		s.receiver = *r
	}
	compile := func(name string, e hcl.Expression, vars map[string]any) *engine.Program {
		if !present(e) {
			return nil
		}
		p, d := x.Compile(name, e, ctx, vars)
		diags = append(diags, d...)
		return p
	}
	s.records = compile("records", cfg.Records, recordVars)
	s.dedupe = compile("dedupe", cfg.Dedupe, dedupeVars)
	s.key = compile("key", cfg.Key, keyVars)
	s.response = compile("response", cfg.Response, respVars)
	if cfg.BatchWait != "" {
		s.batchWait = duration(&diags, cfg.BatchWait, "batch_wait", sc.BatchWaitRange)
	}
	if cfg.DedupeWindow != "" {
		s.dedupeWindow = duration(&diags, cfg.DedupeWindow, "dedupe_window", sc.DedupeWindowRange)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return s, diags
}

func buildReceiver(cfg *TriggerConfig, ctx *hcl.EvalContext, pc engine.PluginContext) (*receiver, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	r := &receiver{method: strings.ToUpper(cfg.Method), path: cfg.Path, maxBody: DefaultMaxBody, pipeline: pc.Pipeline,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), secrets: map[string]any{}}
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.method != http.MethodPost && r.method != http.MethodPut {
		diags = append(diags, errorAt(cfg.MethodRange, "Invalid method",
			fmt.Sprintf("method is %q; deliveries come as \"POST\" (default) or \"PUT\".", cfg.Method)))
	}
	if !strings.HasPrefix(r.path, "/") || strings.ContainsAny(r.path, "{}? #") {
		diags = append(diags, errorAt(cfg.PathRange, "Invalid path",
			fmt.Sprintf("path %q must start with / and hold no {, }, ?, # or space, e.g. \"/webhooks/hubspot/contacts\".", cfg.Path)))
	}
	if cfg.MaxBody != nil {
		if *cfg.MaxBody <= 0 {
			diags = append(diags, errorAt(cfg.MaxBodyRange, "Invalid max_body", "max_body is a number of bytes above 0, e.g. 1048576."))
		} else {
			r.maxBody = *cfg.MaxBody
		}
	}
	if r.publicURL != "" {
		if u, err := url.Parse(r.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			diags = append(diags, errorAt(cfg.PublicURLRange, "Invalid public_url",
				fmt.Sprintf("public_url %q must be a scheme and host such as \"https://etl.example.com\".", cfg.PublicURL)))
		}
	}
	for k, v := range cfg.Secrets {
		r.secrets[k] = v
	}
	if present(cfg.Verify) {
		p, d := pc.Expressions.Compile("verify", cfg.Verify, ctx, verifyVars)
		diags = append(diags, d...)
		r.verify = p
	}
	return r, diags
}

// present reports whether an optional expression attribute was set.
func present(e hcl.Expression) bool {
	if e == nil {
		return false
	}
	rng := e.Range()
	return rng.Start != rng.End
}

func duration(diags *hcl.Diagnostics, text, name string, rng hcl.Range) time.Duration {
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		*diags = append(*diags, errorAt(rng, "Invalid duration",
			fmt.Sprintf("%s is %q; give a positive duration such as \"1s\" or \"168h\".", name, text)))
		return 0
	}
	return d
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// Route is the method and path deliveries come to.
func (r *receiver) Route() (string, string) { return r.method, r.path }

// MaxBody is the largest body accepted, in bytes.
func (r *receiver) MaxBody() int64 { return r.maxBody }

// Verifies reports whether the route has a verify expression.
func (r *receiver) Verifies() bool { return r.verify != nil }

// BatchWait is how long a delivery waits for others to land with it.
func (s *Source) BatchWait() time.Duration { return s.batchWait }

// DedupeWindow is how long dedupe keys are remembered.
func (s *Source) DedupeWindow() time.Duration { return s.dedupeWindow }

// Describe names the route, for the history's endpoint.
func (s *Source) Describe() string { return "webhook " + s.method + " " + s.path }

// check runs verify over d: a *engine.Refusal with 401 when it is false.
func (r *receiver) check(d engine.Delivery, headers map[string]any) error {
	if r.verify == nil {
		return nil
	}
	u := d.URL
	if r.publicURL != "" {
		if pu, err := url.Parse(d.URL); err == nil {
			u = r.publicURL + pu.RequestURI()
		}
	}
	out, err := r.verify.Eval(map[string]any{"method": d.Method, "url": u, "headers": headers, "body": string(d.Body), "secrets": r.secrets})
	if err != nil {
		// A missing header or a malformed timestamp: the sender is not
		// who verify expects. The expression's message names no secret.
		return &engine.Refusal{Status: http.StatusUnauthorized, Reason: "verify failed: " + firstLine(err.Error())}
	}
	if ok, _ := out.(bool); !ok {
		return &engine.Refusal{Status: http.StatusUnauthorized, Reason: "verify refused the delivery (bad signature, stale timestamp or wrong credentials)"}
	}
	return nil
}

// Receive verifies d and returns its records.
func (s *Source) Receive(d engine.Delivery) ([]engine.DeliveredRecord, error) {
	headers := headerMap(d.Header)
	if err := s.check(d, headers); err != nil {
		return nil, err
	}
	body, err := parseBody(d.Header.Get("Content-Type"), d.Body)
	if err != nil {
		return nil, &engine.Refusal{Status: http.StatusBadRequest, Reason: err.Error()}
	}
	var recs any = body
	if s.records != nil {
		if recs, err = s.records.Eval(map[string]any{"body": body, "headers": headers}); err != nil {
			return nil, &engine.Refusal{Status: http.StatusBadRequest, Reason: "records: " + firstLine(err.Error())}
		}
	}
	var list []any
	switch v := recs.(type) {
	case []any:
		list = v
	case map[string]any:
		list = []any{v}
	case nil:
		list = nil
	default:
		return nil, &engine.Refusal{Status: http.StatusBadRequest, Reason: fmt.Sprintf("records gave %T, not a list of objects", recs)}
	}
	out := make([]engine.DeliveredRecord, 0, len(list))
	for i, item := range list {
		rec, ok := item.(map[string]any)
		if !ok {
			return nil, &engine.Refusal{Status: http.StatusBadRequest, Reason: fmt.Sprintf("record %d is %T, not an object", i+1, item)}
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return nil, &engine.Refusal{Status: http.StatusBadRequest, Reason: fmt.Sprintf("record %d: %v", i+1, err)}
		}
		dr := engine.DeliveredRecord{Fields: string(b)}
		if s.dedupe != nil {
			k, err := s.dedupe.Eval(map[string]any{"record": rec, "headers": headers})
			if err != nil {
				return nil, &engine.Refusal{Status: http.StatusBadRequest, Reason: fmt.Sprintf("record %d: dedupe: %s", i+1, firstLine(err.Error()))}
			}
			if k != nil {
				dr.Key = keyText(k)
			}
		}
		out = append(out, dr)
	}
	return out, nil
}

// Respond is the body of an answer, from the response expression.
func (s *Source) Respond(status int, reason string, stored int) (string, []byte) {
	return respond(s.response, status, reason, stored)
}

func respond(p *engine.Program, status int, reason string, stored int) (string, []byte) {
	if p == nil {
		return "", nil
	}
	out, err := p.Eval(map[string]any{"ok": status < 300, "status": status, "reason": reason, "stored": stored})
	if err != nil {
		return "text/plain; charset=utf-8", []byte("response: " + firstLine(err.Error()))
	}
	if text, ok := out.(string); ok {
		return "text/plain; charset=utf-8", []byte(text)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "text/plain; charset=utf-8", []byte("response: " + err.Error())
	}
	return "application/json", b
}

// Read emits the records stored in the pipeline's inbox that no run has
// landed yet, oldest first, each with its inbox id; it ends when the
// inbox holds no more. Without an inbox (a dry run) it reads nothing.
func (s *Source) Read(ctx context.Context, opts engine.ReadOptions, emit func(engine.Record) error) error {
	if opts.Inbox == nil {
		if opts.Logger != nil {
			opts.Logger.Info("a webhook source reads the deliveries etl serve stored; there are none without a warehouse")
		}
		return nil
	}
	var after int64
	for {
		page, err := opts.Inbox.Pending(ctx, after, pageSize)
		if err != nil {
			return err
		}
		for _, ir := range page {
			after = ir.ID
			rec := engine.Record{InboxID: ir.ID, Pos: engine.Position{Page: "delivery " + strconv.FormatInt(ir.ID, 10)}, Raw: ir.Fields}
			fields, err := engine.DecodeFields(ir.Fields)
			if err != nil {
				rec.Err = fmt.Errorf("stored delivery %d: %w", ir.ID, err)
			} else {
				rec.Fields = fields
				if s.key != nil {
					if k, err := s.key.Eval(map[string]any{"record": fields}); err == nil && k != nil {
						rec.Pos.Key = keyText(k)
					}
				}
			}
			if err := emit(rec); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			return nil
		}
	}
}

// Trigger is a `trigger "webhook" {}` block: a verified delivery starts a
// run of its pipeline.
type Trigger struct {
	receiver
	debounce time.Duration
}

// NewTrigger decodes a `trigger "webhook" {}` body.
func NewTrigger(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Trigger, hcl.Diagnostics) {
	var cfg TriggerConfig
	diags := gohcl.DecodeBody(body, ctx, &cfg)
	if diags.HasErrors() {
		return nil, diags
	}
	r, d := buildReceiver(&cfg, ctx, pc)
	diags = append(diags, d...)
	t := &Trigger{debounce: DefaultDebounce}
	if r != nil {
		t.receiver = *r
	}
	if cfg.Debounce != "" {
		t.debounce = duration(&diags, cfg.Debounce, "debounce", cfg.DebounceRange)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return t, diags
}

// Receive verifies d; a trigger keeps no records.
func (t *Trigger) Receive(d engine.Delivery) ([]engine.DeliveredRecord, error) {
	return nil, t.check(d, headerMap(d.Header))
}

// Respond is an empty body.
func (t *Trigger) Respond(int, string, int) (string, []byte) { return "", nil }

// BatchWait is the debounce: the run starts once it has passed.
func (t *Trigger) BatchWait() time.Duration { return t.debounce }

// DedupeWindow is 0: a trigger stores nothing.
func (t *Trigger) DedupeWindow() time.Duration { return 0 }

// Debounce is how long deliveries coalesce into one run.
func (t *Trigger) Debounce() time.Duration { return t.debounce }

// headerMap gives verify and records the headers by lower-case name, each
// one string (several values joined by ", ").
func headerMap(h http.Header) map[string]any {
	m := make(map[string]any, len(h))
	for k, v := range h {
		m[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return m
}

// parseBody reads a JSON or form-encoded body: JSON numbers stay
// json.Number, a form field is a string (a list when repeated). An empty
// body is nil.
func parseBody(contentType string, body []byte) (any, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("malformed form body: %v", errors.Unwrap(err))
		}
		m := make(map[string]any, len(vals))
		for k, v := range vals {
			if len(v) == 1 {
				m[k] = v[0]
			} else {
				l := make([]any, len(v))
				for i, s := range v {
					l[i] = s
				}
				m[k] = l
			}
		}
		return m, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("malformed JSON body at byte %d", dec.InputOffset())
	}
	if dec.More() {
		return nil, fmt.Errorf("malformed JSON body: more than one value (byte %d)", dec.InputOffset())
	}
	return v, nil
}

func keyText(v any) string {
	switch k := v.(type) {
	case string:
		return k
	case json.Number:
		return k.String()
	}
	return fmt.Sprint(v)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
