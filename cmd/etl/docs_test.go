package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/functions"
	"github.com/etl-dev/etl/sources/csv"
)

// TestReadmeDocumentsEveryFunctionAndAttribute keeps the README's reference
// complete: every expression function's signature, every config-time
// function and every attribute of the CSV source must appear in it.
func TestReadmeDocumentsEveryFunctionAndAttribute(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)
	for _, f := range functions.Library(functions.Options{}) {
		assert.Contains(t, readme, "`"+f.Signature+"`", "function %s", f.Name)
	}
	for _, f := range engine.ConfigFunctions {
		assert.Contains(t, readme, "`"+f.Signature+"`")
	}
	for _, name := range hclAttributes(reflect.TypeOf(csv.Config{})) {
		assert.Contains(t, readme, "| `"+name+"` |", "csv attribute %s", name)
	}
	for _, flag := range []string{"--dry-run", "--limit", "--batch-size", "--since", "--full-refresh", "--warehouse", "--pipeline", "--format"} {
		assert.Contains(t, readme, flag)
	}
}

// hclAttributes lists the attribute names of a gohcl config struct.
func hclAttributes(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("hcl")
		name, kind, _ := strings.Cut(tag, ",")
		if name == "" || (kind != "" && kind != "optional") {
			continue
		}
		out = append(out, name)
	}
	return out
}
