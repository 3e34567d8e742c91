package odata_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// shippedPipelines lists pipelines/marketsharp_*.hcl, test cases left out.
func shippedPipelines(t *testing.T) []string {
	m, err := filepath.Glob(filepath.Join("..", "..", "pipelines", "marketsharp_*.hcl"))
	require.NoError(t, err)
	var files []string
	for _, f := range m {
		if !strings.HasSuffix(f, ".test.hcl") {
			files = append(files, f)
		}
	}
	require.Len(t, files, 5)
	return files
}

// TestShippedPipelinesLoad loads every MarketSharp pipeline, as `etl
// validate` would (no secrets set: missing env vars are warnings), and this
// package's example.
func TestShippedPipelinesLoad(t *testing.T) {
	files := append(shippedPipelines(t), "example.hcl")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			l := engine.NewLoader(registry())
			l.LookupEnv = func(string) (string, bool) { return "", false }
			p, diags := l.Load(f)
			var b strings.Builder
			w := hcl.NewDiagnosticTextWriter(&b, l.Files(), 100, false)
			_ = w.WriteDiagnostics(diags)
			require.False(t, diags.HasErrors(), b.String())
			for _, d := range diags {
				assert.Equal(t, "Value not available", d.Summary, "only missing secrets may warn: %s", b.String())
			}
			assert.Equal(t, "odata", p.SourceKind)
			if strings.HasPrefix(filepath.Base(f), "marketsharp_") {
				o, ok := p.Source.(engine.CursorOrdered)
				require.True(t, ok)
				assert.True(t, o.CursorOrdered())
				assert.Contains(t, p.Source.(engine.ReadPlanner).PlanRead(engine.ReadOptions{}), "$orderby=lastUpdate%20asc,id%20asc&$top=5000")
			}
		})
	}
}
