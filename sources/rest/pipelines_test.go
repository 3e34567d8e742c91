package rest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sources/webhook"
)

// TestShippedPipelinesLoad loads every HubSpot, LeadConduit and Arrivy
// pipeline the repository ships, as `etl validate` would (no secrets set:
// missing env vars are warnings), and this package's example.
func TestShippedPipelinesLoad(t *testing.T) {
	var files []string
	for _, glob := range []string{"hubspot_*.hcl", "activeprospect_*.hcl", "arrivy_*.hcl"} {
		m, err := filepath.Glob(filepath.Join("..", "..", "pipelines", glob))
		require.NoError(t, err)
		for _, f := range m {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			// etl test cases are not pipelines; the webhook pipelines are
			// sources/webhook's.
			if !strings.HasSuffix(f, ".test.hcl") && strings.Contains(string(src), `source "rest"`) {
				files = append(files, f)
			}
		}
	}
	files = append(files, "example.hcl")
	require.GreaterOrEqual(t, len(files), 7)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			reg := registry()
			webhook.Register(reg) // hubspot_contacts_incremental has a webhook trigger
			l := engine.NewLoader(reg)
			l.LookupEnv = func(string) (string, bool) { return "", false }
			p, diags := l.Load(f)
			var b strings.Builder
			w := hcl.NewDiagnosticTextWriter(&b, l.Files(), 100, false)
			_ = w.WriteDiagnostics(diags)
			require.False(t, diags.HasErrors(), b.String())
			for _, d := range diags {
				assert.Equal(t, "Value not available", d.Summary, "only missing secrets may warn: %s", b.String())
			}
			assert.Equal(t, "rest", p.SourceKind)
		})
	}
}
