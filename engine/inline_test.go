package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/etl-dev/etl/engine"
)

// inlineSource is a test source whose records are written in the pipeline
// file: source "inline" { records = [{...}], fields = [...] }. Values keep
// the types JSON gives them (strings, json.Number, bools, maps, lists).
type inlineSource struct {
	records []map[string]any
	fields  []string
	ordered bool
}

func newInline(body hcl.Body, ctx *hcl.EvalContext, _ engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	var cfg struct {
		Records cty.Value `hcl:"records"`
		Fields  []string  `hcl:"fields,optional"`
		Ordered bool      `hcl:"ordered,optional"`
	}
	if diags := gohcl.DecodeBody(body, ctx, &cfg); diags.HasErrors() {
		return nil, diags
	}
	s := &inlineSource{fields: cfg.Fields, ordered: cfg.Ordered}
	b, err := ctyjson.Marshal(cfg.Records, cfg.Records.Type())
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "bad records", Detail: err.Error()}}
	}
	dec := json.NewDecoder(bytesReader(b))
	dec.UseNumber()
	if err := dec.Decode(&s.records); err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "bad records", Detail: err.Error()}}
	}
	return s, nil
}

func (s *inlineSource) Read(ctx context.Context, _ engine.ReadOptions, emit func(engine.Record) error) error {
	for i, r := range s.records {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(engine.Record{Fields: r, Pos: engine.Position{Line: i + 1, Key: fmt.Sprint(r["id"])}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *inlineSource) Fields() []string    { return s.fields }
func (s *inlineSource) CursorOrdered() bool { return s.ordered }

func testRegistry() *engine.Registry {
	r := engine.NewRegistry()
	r.RegisterSource("inline", newInline)
	return r
}
