package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/etl-dev/etl/engine"
)

// PaginateConfig is the schema of a `paginate "style" {}` block. Which
// attributes a style takes is in README.md; the others are errors.
type PaginateConfig struct {
	Style string `hcl:"style,label"`
	// Next is an expr over the response (body, headers, records, page):
	// the cursor to send back (cursor) or the next page's URL (next_url).
	// nil or "" stops.
	Next hcl.Expression `hcl:"next,optional"`
	// Param is the request parameter that carries the cursor, offset, page
	// number or last id.
	Param string `hcl:"param,optional"`
	// In says where Param goes: "query" (default) or "body".
	In string `hcl:"in,optional"`
	// Field is an expr over `record`, the last record of a page, whose value
	// is sent back as Param (after_id); default "record.id".
	Field hcl.Expression `hcl:"field,optional"`
	// Limit is the page size the request asks for: a page with fewer
	// records is the last (offset, page, after_id).
	Limit int `hcl:"limit,optional"`
	// Start is the first offset (default 0) or page number (default 1).
	Start *int `hcl:"start,optional"`
	// Total is an expr over the response giving the total record count:
	// paging stops once that many records were read (offset, page). It
	// also feeds the run's progress (and ETA); with cursor it does only that.
	Total hcl.Expression `hcl:"total,optional"`
	// Stop is a boolean expr over the response: true makes this page the
	// last. Every style takes it.
	Stop hcl.Expression `hcl:"stop,optional"`
	// MaxPages caps the pages one run reads; 0: no cap.
	MaxPages int `hcl:"max_pages,optional"`
	// RestartFrom (cursor style) is an expr over `record` giving the value
	// the request is sorted by. Before a query reaches MaxResults (or when
	// the server refuses to page further with a 400) the query restarts
	// with `since` set to the last value read and the cursor reset;
	// records at that value that were already read are skipped by key.
	RestartFrom hcl.Expression `hcl:"restart_from,optional"`
	// MaxResults is how many results one query can page through; default
	// 10000 (HubSpot's search cap) when RestartFrom is set.
	MaxResults int `hcl:"max_results,optional"`

	NextRange        hcl.Range `hcl:"next,attr_value_range"`
	ParamRange       hcl.Range `hcl:"param,attr_value_range"`
	InRange          hcl.Range `hcl:"in,attr_value_range"`
	FieldRange       hcl.Range `hcl:"field,attr_value_range"`
	LimitRange       hcl.Range `hcl:"limit,attr_value_range"`
	StartRange       hcl.Range `hcl:"start,attr_value_range"`
	TotalRange       hcl.Range `hcl:"total,attr_value_range"`
	StopRange        hcl.Range `hcl:"stop,attr_value_range"`
	MaxPagesRange    hcl.Range `hcl:"max_pages,attr_value_range"`
	RestartFromRange hcl.Range `hcl:"restart_from,attr_value_range"`
	MaxResultsRange  hcl.Range `hcl:"max_results,attr_value_range"`
	DefRange         hcl.Range `hcl:",def_range"`
}

// paginateStyles lists the paginate block styles, for messages.
var paginateStyles = []string{"cursor", "next_url", "link_header", "offset", "page", "after_id"}

// styleAttrs lists the attributes each style takes besides stop and
// max_pages.
var styleAttrs = map[string][]string{
	"cursor":      {"next", "param", "in", "restart_from", "max_results", "total"},
	"next_url":    {"next"},
	"link_header": {},
	"offset":      {"param", "in", "limit", "start", "total"},
	"page":        {"param", "in", "limit", "start", "total"},
	"after_id":    {"param", "in", "field", "limit"},
}

// pager is a compiled paginate block.
type pager struct {
	style       string
	next        *engine.Program // over responseVars
	param       string
	inBody      bool
	field       *engine.Program // over recordVars
	limit       int
	start       int
	total       *engine.Program
	stop        *engine.Program
	maxPages    int
	restartFrom *engine.Program
	maxResults  int
}

// responseVars are what next, total, stop and records see.
var responseVars = map[string]any{
	"body":    nil,              // the decoded JSON response
	"headers": map[string]any{}, // response headers by lower-case name, first value
	"records": []any{},          // the page's records (not for `records` itself)
	"page":    0,                // the page number, from 1
}

// recordVars are what key, field and restart_from see.
var recordVars = map[string]any{"record": map[string]any{}}

func (pc *PaginateConfig) build(ctx *hcl.EvalContext, x *engine.Expressions, hasKey bool) (*pager, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	allowed, ok := styleAttrs[pc.Style]
	if !ok {
		return nil, hcl.Diagnostics{errorAt(pc.DefRange, "Unknown paginate style",
			fmt.Sprintf("There is no paginate %q.%s Styles: %s.", pc.Style, didYouMean(pc.Style, paginateStyles), strings.Join(paginateStyles, ", ")))}
	}
	isAllowed := map[string]bool{"stop": true, "max_pages": true}
	for _, a := range allowed {
		isAllowed[a] = true
	}
	set := map[string]hcl.Range{
		"next": pc.NextRange, "param": pc.ParamRange, "in": pc.InRange, "field": pc.FieldRange,
		"limit": pc.LimitRange, "start": pc.StartRange, "total": pc.TotalRange,
		"restart_from": pc.RestartFromRange, "max_results": pc.MaxResultsRange,
	}
	for _, name := range []string{"next", "param", "in", "field", "limit", "start", "total", "restart_from", "max_results"} {
		if rng := set[name]; rng != (hcl.Range{}) && !isAllowed[name] {
			diags = append(diags, errorAt(rng, "Attribute not used by this paginate style",
				fmt.Sprintf("paginate %q does not take %s; it takes %s.", pc.Style, name, strings.Join(append(append([]string{}, allowed...), "stop", "max_pages"), ", "))))
		}
	}
	p := &pager{style: pc.Style, param: pc.Param, limit: pc.Limit, maxPages: pc.MaxPages, maxResults: pc.MaxResults}
	compile := func(name string, e hcl.Expression, rng hcl.Range, vars map[string]any) *engine.Program {
		if rng == (hcl.Range{}) {
			return nil
		}
		prog, d := x.Compile(name, e, ctx, vars)
		diags = append(diags, d...)
		return prog
	}
	p.next = compile("next", pc.Next, pc.NextRange, responseVars)
	p.total = compile("total", pc.Total, pc.TotalRange, responseVars)
	p.stop = compile("stop", pc.Stop, pc.StopRange, responseVars)
	p.restartFrom = compile("restart_from", pc.RestartFrom, pc.RestartFromRange, recordVars)
	if pc.Style == "after_id" {
		field, rng := pc.Field, pc.FieldRange
		if rng == (hcl.Range{}) {
			field, rng = hcl.StaticExpr(cty.StringVal("record.id"), pc.DefRange), pc.DefRange
		}
		p.field = compile("field", field, rng, recordVars)
	}

	switch pc.In {
	case "", "query":
	case "body":
		p.inBody = true
	default:
		diags = append(diags, errorAt(pc.InRange, "Invalid parameter location",
			fmt.Sprintf("in is %q; the paging parameter goes in the \"query\" or the JSON \"body\".", pc.In)))
	}
	if p.param == "" {
		p.param = map[string]string{"offset": "offset", "page": "page", "after_id": "after_id"}[pc.Style]
	}
	switch pc.Style {
	case "cursor", "next_url":
		if pc.NextRange == (hcl.Range{}) {
			diags = append(diags, errorAt(pc.DefRange, "Missing next",
				fmt.Sprintf(`paginate %q needs next, an expression over the response that gives the next %s, e.g. next = "body.paging?.next?.after"; nil or "" ends paging.`, pc.Style, map[string]string{"cursor": "cursor", "next_url": "page's URL"}[pc.Style])))
		}
	case "page":
		p.start = 1
	}
	if pc.Start != nil {
		if *pc.Start < 0 {
			diags = append(diags, errorAt(pc.StartRange, "Invalid start", fmt.Sprintf("start is %d; it cannot be negative.", *pc.Start)))
		}
		p.start = *pc.Start
	}
	if pc.LimitRange != (hcl.Range{}) && pc.Limit < 1 {
		diags = append(diags, errorAt(pc.LimitRange, "Invalid limit", fmt.Sprintf("limit is %d; it is the page size the request asks for, at least 1.", pc.Limit)))
	}
	if pc.MaxPagesRange != (hcl.Range{}) && pc.MaxPages < 1 {
		diags = append(diags, errorAt(pc.MaxPagesRange, "Invalid max_pages", fmt.Sprintf("max_pages is %d; it must be at least 1 (leave it out for no cap).", pc.MaxPages)))
	}
	if pc.RestartFromRange != (hcl.Range{}) {
		if p.maxResults == 0 {
			p.maxResults = 10000
		}
		if !hasKey {
			diags = append(diags, errorAt(pc.RestartFromRange, "restart_from needs a key",
				`A restarted query returns the records at the restart value again; the source skips the ones it has read by their key. Set key on the source, e.g. key = "record.id".`))
		}
	}
	if pc.MaxResultsRange != (hcl.Range{}) && pc.MaxResults < 2 {
		diags = append(diags, errorAt(pc.MaxResultsRange, "Invalid max_results", fmt.Sprintf("max_results is %d; it must be at least 2.", pc.MaxResults)))
	}
	return p, diags
}

// nextLink returns the target of the first Link header entry with
// rel="next" (RFC 8288), or "".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, link := range splitLinks(v) {
			parts := strings.Split(link, ";")
			target := strings.TrimSpace(parts[0])
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, param := range parts[1:] {
				k, val, ok := strings.Cut(strings.TrimSpace(param), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header value at the commas between links,
// not those inside <…> or quotes.
func splitLinks(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			depth++
		case c == '>' && !quoted && depth > 0:
			depth--
		case c == ',' && !quoted && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// resolve makes ref absolute against base.
func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}
