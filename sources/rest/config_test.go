package rest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// loadFile loads a fixture as `etl validate` would: no environment.
func loadFile(t *testing.T, path string) (*engine.Pipeline, hcl.Diagnostics, *engine.Loader) {
	t.Helper()
	l := engine.NewLoader(registry())
	l.LookupEnv = func(string) (string, bool) { return "", false }
	p, diags := l.Load(path)
	return p, diags, l
}

func TestValidConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, diags, _ := loadFile(t, f)
			assert.False(t, diags.HasErrors(), diags.Error())
		})
	}
}

var errorMark = regexp.MustCompile(`# ERROR: ([^#]+)`)

// TestConfigErrors loads each testdata/errors file and expects exactly the
// errors its `# ERROR: Summary` comments mark, on their lines.
func TestConfigErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			var want []string
			for i, line := range strings.Split(string(src), "\n") {
				for _, m := range errorMark.FindAllStringSubmatch(line, -1) {
					want = append(want, lineSummary(i+1, m[1]))
				}
			}
			require.NotEmpty(t, want, "the fixture marks no error")
			_, diags, _ := loadFile(t, f)
			var got []string
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				require.NotNil(t, d.Subject, "%s has no subject", d.Summary)
				assert.NotEmpty(t, d.Detail, "%s has no detail", d.Summary)
				got = append(got, lineSummary(d.Subject.Start.Line, d.Summary))
			}
			assert.ElementsMatch(t, want, got, diags.Error())
		})
	}
}

func lineSummary(line int, summary string) string {
	return strings.TrimSpace(summary) + " @ line " + strconv.Itoa(line)
}
