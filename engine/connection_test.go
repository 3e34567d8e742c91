package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// inlinePipeline is a pipeline whose inline source block holds source.
func inlinePipeline(source string) string {
	return `pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" {
` + source + `
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
`
}

func readAll(t *testing.T, s engine.Source) []map[string]any {
	t.Helper()
	var out []map[string]any
	require.NoError(t, s.Read(context.Background(), engine.ReadOptions{}, func(r engine.Record) error {
		out = append(out, r.Map())
		return nil
	}))
	return out
}

func TestSourceBlockOverridesItsConnection(t *testing.T) {
	conn := `connection "c" {
  records = [{ id = "from-connection" }]
  fields  = ["id"]
}
`
	cases := []struct {
		name, source string
		wantID       string
	}{
		{"the connection's attributes when the source sets none", `connection = "c"`, "from-connection"},
		{"the source's attribute replaces the connection's", `connection = "c"
    records = [{ id = "from-source" }]`, "from-source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"connections/c.hcl": conn, "p.hcl": inlinePipeline(tc.source)})
			p, diags := engine.NewLoader(testRegistry()).Load(filepath.Join(dir, "p.hcl"))
			require.False(t, diags.HasErrors(), diags.Error())
			recs := readAll(t, p.Source)
			require.Len(t, recs, 1)
			assert.Equal(t, tc.wantID, recs[0]["id"])
		})
	}
}

func TestConnectionInTheSameFolder(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"conn.hcl": `connection "c" {
  records = [{ id = "x" }]
}
`,
		"p.hcl": inlinePipeline(`connection = "c"`),
	})
	l := engine.NewLoader(testRegistry())
	p, diags := l.Load(filepath.Join(dir, "p.hcl"))
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Len(t, readAll(t, p.Source), 1)

	// The definitions file is not a pipeline: etl run refuses it, etl
	// validate (Definitions) accepts it.
	_, diags = l.Load(filepath.Join(dir, "conn.hcl"))
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Not a pipeline file", diags[0].Summary)
	assert.True(t, engine.IsDefinitions(filepath.Join(dir, "conn.hcl")))
	assert.False(t, engine.IsDefinitions(filepath.Join(dir, "p.hcl")))
	l.Definitions = true
	p, diags = l.Load(filepath.Join(dir, "conn.hcl"))
	assert.False(t, diags.HasErrors(), diags.Error())
	assert.Nil(t, p)
}

// TestConnectionErrors: each problem is reported where it is, the
// connection's own file included.
func TestConnectionErrors(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		summary string
		file    string // where the error points
		line    int
		detail  string // a part of it
	}{
		{
			name: "unknown connection, with a suggestion",
			files: map[string]string{
				"connections/c.hcl": "connection \"marketsharp\" {\n  records = []\n}\n",
				"p.hcl":             inlinePipeline(`connection = "marketshrp"`),
			},
			summary: "Unknown connection", file: "p.hcl", line: 5, detail: `Did you mean "marketsharp"?`,
		},
		{
			name: "an attribute the source kind does not know, at the connection's line",
			files: map[string]string{
				"connections/c.hcl": "connection \"c\" {\n  records = []\n  recods  = []\n}\n",
				"p.hcl":             inlinePipeline(`connection = "c"`),
			},
			summary: "Unsupported argument", file: "connections/c.hcl", line: 3,
		},
		{
			name: "a required attribute neither sets",
			files: map[string]string{
				"connections/c.hcl": "connection \"c\" {\n  fields = [\"id\"]\n}\n",
				"p.hcl":             inlinePipeline(`connection = "c"`),
			},
			summary: "Missing required argument", file: "p.hcl", detail: "neither the source block nor its connection",
		},
		{
			name: "a connection defined twice",
			files: map[string]string{
				"connections/a.hcl": "connection \"c\" {\n  records = []\n}\n",
				"connections/b.hcl": "\nconnection \"c\" {\n  records = []\n}\n",
				"p.hcl":             inlinePipeline(`connection = "c"`),
			},
			summary: "Duplicate connection", file: "connections/b.hcl", line: 2, detail: "connections/a.hcl:1",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, tc.files)
			_, diags := engine.NewLoader(testRegistry()).Load(filepath.Join(dir, "p.hcl"))
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Summary == tc.summary {
					found = d
				}
			}
			require.NotNil(t, found, "no %q in %v", tc.summary, diags)
			require.NotNil(t, found.Subject)
			assert.Equal(t, filepath.Join(dir, tc.file), found.Subject.Filename)
			if tc.line > 0 {
				assert.Equal(t, tc.line, found.Subject.Start.Line)
			}
			assert.Contains(t, found.Detail, tc.detail)
		})
	}
}
