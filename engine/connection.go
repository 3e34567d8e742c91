package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Connections and variables are definitions a pipeline file uses but does
// not hold: a `connection "NAME" {}` block holds what belongs to an account
// (base URL, auth, secrets, headers, rate limit, retry, timeout, DSN) and a
// `variable "NAME" {}` block declares a value that may differ per
// environment.
//
// Where the loader finds them: every *.hcl file (not *.test.hcl) in the
// pipeline file's own folder and in that folder's connections/ subfolder.
// So `etl run pipelines/hubspot_deals.hcl` finds
// pipelines/connections/hubspot.hcl, and `etl validate pipelines/` checks
// each definitions file once. A name defined twice in those files is an
// error.

// connectionConfig is a `connection "NAME" {}` block. Its body is decoded
// by the source that names it, with the source block's own body laid over
// it (see overrideBody).
type connectionConfig struct {
	Name     string
	Remain   hcl.Body
	DefRange hcl.Range
	Range    hcl.Range // the whole block, to tell whether a value came from it
}

// variableConfig is a `variable "NAME" {}` block.
type variableConfig struct {
	Name        string
	Default     hcl.Expression `hcl:"default,optional"`
	Description *string        `hcl:"description,optional"`
	DefRange    hcl.Range
}

// definitions are the connection and variable blocks of one folder.
type definitions struct {
	connections map[string]*connectionConfig
	variables   map[string]*variableConfig
	diags       hcl.Diagnostics // problems in the definitions themselves
}

var definitionsSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "connection", LabelNames: []string{"name"}},
	{Type: "variable", LabelNames: []string{"name"}},
}}

// definitionFiles lists the files that may hold definitions for pipelines
// in dir, sorted.
func definitionFiles(dir string) []string {
	var out []string
	for _, d := range []string{dir, filepath.Join(dir, "connections")} {
		m, _ := filepath.Glob(filepath.Join(d, "*.hcl"))
		for _, f := range m {
			if !strings.HasSuffix(f, ".test.hcl") {
				out = append(out, f)
			}
		}
	}
	sort.Strings(out)
	return out
}

// definitionsFor reads (once per Loader) the definitions visible to
// pipelines in dir.
func (l *Loader) definitionsFor(dir string) *definitions {
	l.defMu.Lock()
	defer l.defMu.Unlock()
	if d, ok := l.defs[dir]; ok {
		return d
	}
	defs := &definitions{connections: map[string]*connectionConfig{}, variables: map[string]*variableConfig{}}
	for _, path := range definitionFiles(dir) {
		src, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		f, pdiags := l.parser.ParseHCL(src, path)
		if f == nil || f.Body == nil {
			continue
		}
		content, _, _ := f.Body.PartialContent(definitionsSchema)
		if pdiags.HasErrors() {
			// A broken file is reported when it is loaded itself; here it
			// matters only when it holds definitions.
			if len(content.Blocks) > 0 {
				defs.diags = append(defs.diags, pdiags...)
			}
			continue
		}
		for _, b := range content.Blocks {
			name := b.Labels[0]
			var prev hcl.Range
			var dup bool
			switch b.Type {
			case "connection":
				if c, ok := defs.connections[name]; ok {
					prev, dup = c.DefRange, true
				} else {
					defs.connections[name] = &connectionConfig{Name: name, Remain: b.Body, DefRange: b.DefRange, Range: blockRange(b)}
				}
			case "variable":
				if v, ok := defs.variables[name]; ok {
					prev, dup = v.DefRange, true
				} else {
					v := &variableConfig{Name: name, DefRange: b.DefRange}
					defs.diags = append(defs.diags, gohcl.DecodeBody(b.Body, nil, v)...)
					defs.variables[name] = v
				}
			}
			if dup {
				defs.diags = append(defs.diags, errorAt(b.DefRange, "Duplicate "+b.Type,
					fmt.Sprintf("%s %q is defined at %s already; a name is defined once in a folder and its connections/ subfolder.", b.Type, name, prev)))
			} else if !identRE.MatchString(name) {
				defs.diags = append(defs.diags, errorAt(b.DefRange, "Invalid "+b.Type+" name",
					fmt.Sprintf("%q: a %s name is letters, digits and underscores, starting with a letter.", name, b.Type)))
			}
		}
	}
	if l.defs == nil {
		l.defs = map[string]*definitions{}
	}
	l.defs[dir] = defs
	return defs
}

// once returns the diagnostics of diags this loader has not returned yet:
// a folder's broken connection or variable is reported once, not once per
// pipeline that reads the folder.
func (l *Loader) once(diags hcl.Diagnostics) hcl.Diagnostics {
	l.defMu.Lock()
	defer l.defMu.Unlock()
	if l.reported == nil {
		l.reported = map[string]bool{}
	}
	var out hcl.Diagnostics
	for _, d := range diags {
		key := d.Summary + "\x00" + d.Detail
		if d.Subject != nil {
			key += "\x00" + d.Subject.String()
		}
		if !l.reported[key] {
			l.reported[key] = true
			out = append(out, d)
		}
	}
	return out
}

func blockRange(b *hcl.Block) hcl.Range {
	type ranger interface{ Range() hcl.Range }
	if r, ok := b.Body.(ranger); ok {
		return hcl.RangeBetween(b.DefRange, r.Range())
	}
	return b.DefRange
}

// Connection is the connection a source block names. Sources use it to
// share what belongs to the account between the pipelines that use it:
// the rate budget above all.
type Connection struct {
	Name  string
	Range hcl.Range // the connection block, in its own file
	store *sharedStore
}

// Declares reports whether rng lies inside the connection block: whether a
// decoded value came from the connection rather than the source block.
func (c *Connection) Declares(rng hcl.Range) bool {
	if c == nil || rng.Filename != c.Range.Filename {
		return false
	}
	return rng.Start.Byte >= c.Range.Start.Byte && rng.End.Byte <= c.Range.End.Byte
}

// Shared returns the value kept for this connection under key, made by mk
// the first time. Every pipeline loaded with the same Registry that names
// this connection (the same block of the same file) gets the same value,
// so a process running several of them at once shares one. key should
// include the settings the value was made from, so an edited connection
// gets a fresh one.
func (c *Connection) Shared(key string, mk func() any) any {
	return c.store.get(fmt.Sprintf("%s\x00%s\x00%s", c.Range.Filename, c.Name, key), mk)
}

// sharedStore keeps the values connections share, for a Registry's life.
type sharedStore struct {
	mu sync.Mutex
	m  map[string]any
}

func (s *sharedStore) get(key string, mk func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[key]; ok {
		return v
	}
	if s.m == nil {
		s.m = map[string]any{}
	}
	v := mk()
	s.m[key] = v
	return v
}

var connectionAttrSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "connection"}}}

// sourceBody resolves a source block's `connection = "NAME"`: it returns
// the body the source's plugin decodes (the source block laid over the
// connection) and the connection, or the block's body unchanged and nil.
func (l *Loader) sourceBody(sc *sourceConfig, defs *definitions, ctx *hcl.EvalContext) (hcl.Body, *Connection, hcl.Diagnostics) {
	content, rest, diags := sc.Remain.PartialContent(connectionAttrSchema)
	attr, ok := content.Attributes["connection"]
	if !ok {
		return sc.Remain, nil, diags
	}
	var name string
	if d := gohcl.DecodeExpression(attr.Expr, ctx, &name); d.HasErrors() {
		return nil, nil, append(diags, d...)
	}
	c, ok := defs.connections[name]
	if !ok {
		names := sortedKeys(defs.connections)
		known := "No connection is defined there."
		if len(names) > 0 {
			known = "Connections: " + strings.Join(names, ", ") + "."
		}
		return nil, nil, append(diags, errorAt(attr.Expr.Range(), "Unknown connection",
			fmt.Sprintf("There is no connection %q in this folder or its connections/ subfolder.%s %s", name, didYouMean(name, names), known)))
	}
	return &overrideBody{base: c.Remain, over: rest}, &Connection{Name: name, Range: c.Range, store: &l.registry.shared}, diags
}

// overrideBody is a source block laid over its connection: an attribute
// the source sets replaces the connection's, and a block type the source
// has (auth, rate_limit, retry, paginate) replaces all of the connection's
// blocks of that type, whole. Each value keeps its own range, so a problem
// inside the connection is reported at the connection's file:line:col.
type overrideBody struct{ base, over hcl.Body }

// relaxed returns s with every attribute optional: a required attribute
// may be set by either body, and is checked once they are merged.
func relaxed(s *hcl.BodySchema) *hcl.BodySchema {
	r := &hcl.BodySchema{Blocks: s.Blocks}
	for _, a := range s.Attributes {
		a.Required = false
		r.Attributes = append(r.Attributes, a)
	}
	return r
}

func (b *overrideBody) merge(s *hcl.BodySchema, base, over *hcl.BodyContent) (*hcl.BodyContent, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := &hcl.BodyContent{Attributes: hcl.Attributes{}, MissingItemRange: b.over.MissingItemRange()}
	for n, a := range base.Attributes {
		out.Attributes[n] = a
	}
	for n, a := range over.Attributes {
		out.Attributes[n] = a
	}
	overTypes := map[string]bool{}
	for _, blk := range over.Blocks {
		overTypes[blk.Type] = true
	}
	for _, blk := range base.Blocks {
		if !overTypes[blk.Type] {
			out.Blocks = append(out.Blocks, blk)
		}
	}
	out.Blocks = append(out.Blocks, over.Blocks...)
	for _, a := range s.Attributes {
		if _, ok := out.Attributes[a.Name]; a.Required && !ok {
			rng := b.over.MissingItemRange()
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument %q is required, but neither the source block nor its connection sets it.", a.Name),
				Subject:  &rng,
			})
		}
	}
	return out, diags
}

func (b *overrideBody) Content(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	r := relaxed(s)
	bc, diags := b.base.Content(r)
	oc, d := b.over.Content(r)
	diags = append(diags, d...)
	out, d := b.merge(s, bc, oc)
	return out, append(diags, d...)
}

func (b *overrideBody) PartialContent(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	r := relaxed(s)
	bc, brest, diags := b.base.PartialContent(r)
	oc, orest, d := b.over.PartialContent(r)
	diags = append(diags, d...)
	out, d := b.merge(s, bc, oc)
	return out, &overrideBody{base: brest, over: orest}, append(diags, d...)
}

func (b *overrideBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	ba, diags := b.base.JustAttributes()
	oa, d := b.over.JustAttributes()
	diags = append(diags, d...)
	out := hcl.Attributes{}
	for n, a := range ba {
		out[n] = a
	}
	for n, a := range oa {
		out[n] = a
	}
	return out, diags
}

func (b *overrideBody) MissingItemRange() hcl.Range { return b.over.MissingItemRange() }

// IsDefinitions reports whether the file at path holds connection or
// variable blocks and no pipeline: a file the pipelines beside it use,
// which `etl validate` checks and `etl run` refuses. Folder walkers (etl
// plan over every pipeline, etl serve) skip such files.
func IsDefinitions(path string) bool {
	src, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	f, _ := hclparse.NewParser().ParseHCL(src, path)
	if f == nil || f.Body == nil {
		return false
	}
	content, _, _ := f.Body.PartialContent(&hcl.BodySchema{Blocks: append([]hcl.BlockHeaderSchema{
		{Type: "pipeline", LabelNames: []string{"name"}}}, definitionsSchema.Blocks...)})
	pipelines, defs := 0, 0
	for _, b := range content.Blocks {
		if b.Type == "pipeline" {
			pipelines++
		} else {
			defs++
		}
	}
	return pipelines == 0 && defs > 0
}
