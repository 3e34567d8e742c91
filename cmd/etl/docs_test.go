package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/functions"
	"github.com/etl-dev/etl/sources/csv"
	"github.com/etl-dev/etl/sources/mysql"
	"github.com/etl-dev/etl/sources/odata"
	"github.com/etl-dev/etl/sources/rest"
	"github.com/etl-dev/etl/sources/webhook"
	xmlsource "github.com/etl-dev/etl/sources/xml"
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
	for _, cfg := range []any{csv.Config{}, mysql.Config{}, rest.Config{}, odata.Config{}, xmlsource.Config{}, webhook.TriggerConfig{}, webhook.SourceSchema{}} {
		for _, name := range hclAttributes(reflect.TypeOf(cfg)) {
			assert.Regexp(t, "(?m)^\\| [^\n]*`"+name+"`", readme, "%T attribute %s", cfg, name)
		}
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

// TestReadmeExamplesParseAndLoad checks every ```hcl example in the README:
// each parses; each whole pipeline loads (types, functions and all) with the
// real registry; each test block decodes as etl test reads it.
func TestReadmeExamplesParseAndLoad(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	blocks := fencedBlocks(string(b), "hcl")
	require.NotEmpty(t, blocks)
	pipelines := 0
	for i, src := range blocks {
		name := fmt.Sprintf("README.md example %d", i+1)
		f, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos)
		require.False(t, diags.HasErrors(), "%s does not parse: %v\n%s", name, diags, src)
		body := f.Body.(*hclsyntax.Body)
		if len(body.Blocks) > 0 && body.Blocks[0].Type == "pipeline" {
			pipelines++
			loader := engine.NewLoader(newRegistry())
			// Examples name files relative to pipelines/.
			_, diags := loader.LoadSource(filepath.Join("../../pipelines", "example.hcl"), []byte(src))
			assert.False(t, diags.HasErrors(), "%s does not load: %v", name, diags)
		}
		if len(body.Blocks) > 0 && body.Blocks[0].Type == "test" {
			var tf testFile
			diags := gohcl.DecodeBody(f.Body, testEvalContext(time.Now()), &tf)
			assert.False(t, diags.HasErrors(), "%s is not a valid test file: %v", name, diags)
		}
	}
	assert.Positive(t, pipelines, "the README shows at least one whole pipeline")
}

// fencedBlocks returns the bodies of the ```lang fenced blocks in markdown.
func fencedBlocks(md, lang string) []string {
	var out []string
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```"+lang {
			continue
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		out = append(out, strings.Join(body, "\n")+"\n")
	}
	return out
}
