package engine_test

import (
	"context"
	"encoding/json"
	"errors"
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
	key     *engine.Program  // optional: computes Position.Key from `fields`
	rotate  string           // optional: Put this token into the source state, then fail naming it
	counts  map[string]int64 // optional: counted through ReadOptions.Count as the read starts
	log     string           // optional: logged through ReadOptions.Logger as the read starts, as message and value
}

func newInline(body hcl.Body, ctx *hcl.EvalContext, pc engine.PluginContext) (engine.Source, hcl.Diagnostics) {
	var cfg struct {
		Records cty.Value        `hcl:"records"`
		Fields  []string         `hcl:"fields,optional"`
		Ordered bool             `hcl:"ordered,optional"`
		Key     hcl.Expression   `hcl:"key,optional"`
		Rotate  string           `hcl:"rotate,optional"`
		Counts  map[string]int64 `hcl:"counts,optional"`
		Log     string           `hcl:"log,optional"`
	}
	if diags := gohcl.DecodeBody(body, ctx, &cfg); diags.HasErrors() {
		return nil, diags
	}
	s := &inlineSource{fields: cfg.Fields, ordered: cfg.Ordered, rotate: cfg.Rotate, counts: cfg.Counts, log: cfg.Log}
	if cfg.Key != nil && !cfg.Key.Range().Empty() {
		if v, _ := cfg.Key.Value(nil); !v.IsNull() {
			prog, diags := pc.Expressions.Compile("key", cfg.Key, ctx, map[string]any{"fields": map[string]any{}})
			if diags.HasErrors() {
				return nil, diags
			}
			s.key = prog
		}
	}
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

func (s *inlineSource) Read(ctx context.Context, opts engine.ReadOptions, emit func(engine.Record) error) error {
	if s.log != "" {
		opts.Logger.Warn("request to "+s.log+" failed; retrying", "url", s.log, "error", errors.New("GET "+s.log+": 503"))
	}
	for name, n := range s.counts {
		opts.Count(name, n)
		opts.Count(name, n)
	}
	if s.rotate != "" {
		// As an OAuth source would: keep the newly issued token, then fail
		// with a message that (carelessly) holds the old one.
		old, _, err := opts.State.Get(ctx, "token")
		if err != nil {
			return err
		}
		if err := opts.State.Put(ctx, "token", s.rotate); err != nil {
			return err
		}
		return fmt.Errorf("refresh with %q failed; got %q", old, s.rotate)
	}
	for i, r := range s.records {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := fmt.Sprint(r["id"])
		if s.key != nil {
			v, err := s.key.Eval(map[string]any{"fields": r})
			if err != nil {
				return fmt.Errorf("record %d: key: %w", i+1, err)
			}
			key = fmt.Sprint(v)
		}
		if err := emit(engine.Record{Fields: r, Pos: engine.Position{Line: i + 1, Key: key}}); err != nil {
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
