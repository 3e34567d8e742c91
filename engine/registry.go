package engine

import (
	"fmt"
	"sort"
)

// Registry holds the source and sink kinds a program knows. cmd/etl builds
// one and each plugin package adds itself with its Register function; tests
// build their own. Registering a kind twice is a programming error and panics.
type Registry struct {
	sources  map[string]SourceFactory
	triggers map[string]TriggerFactory
	sinks    map[string]SinkDriver // by URL scheme
	drivers  map[string]SinkDriver // by name
	shared   sharedStore           // what pipelines on one connection share
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		sources:  map[string]SourceFactory{},
		triggers: map[string]TriggerFactory{},
		sinks:    map[string]SinkDriver{},
		drivers:  map[string]SinkDriver{},
	}
}

// RegisterSource adds a source kind (the label of `source "kind" {}`).
func (r *Registry) RegisterSource(kind string, f SourceFactory) {
	if _, dup := r.sources[kind]; dup {
		panic(fmt.Sprintf("engine: source kind %q registered twice", kind))
	}
	r.sources[kind] = f
}

// RegisterTrigger adds a trigger kind (the label of `trigger "kind" {}`).
func (r *Registry) RegisterTrigger(kind string, f TriggerFactory) {
	if _, dup := r.triggers[kind]; dup {
		panic(fmt.Sprintf("engine: trigger kind %q registered twice", kind))
	}
	r.triggers[kind] = f
}

// RegisterSink adds a sink driver for its name and URL schemes.
func (r *Registry) RegisterSink(d SinkDriver) {
	if _, dup := r.drivers[d.Name]; dup {
		panic(fmt.Sprintf("engine: sink %q registered twice", d.Name))
	}
	r.drivers[d.Name] = d
	for _, s := range d.Schemes {
		if _, dup := r.sinks[s]; dup {
			panic(fmt.Sprintf("engine: sink URL scheme %q registered twice", s))
		}
		r.sinks[s] = d
	}
}

// SourceKinds lists the registered source kinds, sorted.
func (r *Registry) SourceKinds() []string { return sortedKeys(r.sources) }

// SinkNames lists the registered sink drivers, sorted.
func (r *Registry) SinkNames() []string { return sortedKeys(r.drivers) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
