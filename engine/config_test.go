package engine_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func TestValidFixturesHaveNoDiagnostics(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, diags := engine.NewLoader(testRegistry()).Load(f)
			assert.Empty(t, diags, "%v", diags)
			assert.NotNil(t, p)
		})
	}
}

var errorMarker = regexp.MustCompile(`# ERROR: ([^#]+)`)

// TestErrorFixtures loads each testdata/errors file and checks that it gives
// exactly the errors marked `# ERROR: Summary` on their lines.
func TestErrorFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.hcl")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			var want []string
			for i, line := range strings.Split(string(src), "\n") {
				for _, m := range errorMarker.FindAllStringSubmatch(line, -1) {
					want = append(want, lineSummary(i+1, strings.TrimSpace(m[1])))
				}
			}
			require.NotEmpty(t, want, "fixture has no # ERROR: markers")
			p, diags := engine.NewLoader(testRegistry()).Load(f)
			assert.Nil(t, p)
			var got []string
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				require.NotNil(t, d.Subject, "diagnostic %q has no subject", d.Summary)
				assert.Equal(t, f, d.Subject.Filename)
				assert.NotEmpty(t, d.Detail, "diagnostic %q has no detail", d.Summary)
				got = append(got, lineSummary(d.Subject.Start.Line, d.Summary))
			}
			sort.Strings(want)
			sort.Strings(got)
			assert.Equal(t, want, got)
		})
	}
}

func lineSummary(line int, summary string) string {
	return fmt.Sprintf("%03d: %s", line, summary)
}

func TestExprErrorPointsAtTheColumn(t *testing.T) {
	src := `pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" { records = [] }
  map {
    id = "int(record.id) + nope"
  }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
  }
}
`
	_, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", []byte(src))
	require.True(t, diags.HasErrors())
	d := diags[0]
	assert.Equal(t, "Unknown name", d.Summary)
	assert.Equal(t, 6, d.Subject.Start.Line)
	// `nope` starts at column 28: `    id = "` is 10 columns, `int(record.id) + ` 17.
	assert.Equal(t, 28, d.Subject.Start.Column)
}

func TestUnknownNameSuggestsAFunction(t *testing.T) {
	_, diags := engine.NewLoader(testRegistry()).Load("testdata/errors/unknown_function.hcl")
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags[0].Detail, `Did you mean "email"?`)
}

func TestTypoAttributeSuggestsTheRightOne(t *testing.T) {
	_, diags := engine.NewLoader(testRegistry()).Load("testdata/errors/typo_attribute.hcl")
	require.True(t, diags.HasErrors())
	var details []string
	for _, d := range diags {
		details = append(details, d.Detail)
	}
	assert.Contains(t, strings.Join(details, "\n"), `Did you mean "table"?`)
}

func TestEnvMissingIsAWarningInValidateAndAnErrorInRun(t *testing.T) {
	src := []byte(`pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" { records = [] }
  map { id = "int(record.id)" }
  sink "warehouse" {
    url   = env("ETL_TEST_SURELY_UNSET")
    table = "t"
    key   = ["id"]
  }
}
`)
	l := engine.NewLoader(testRegistry())
	l.LookupEnv = func(string) (string, bool) { return "", false }
	p, diags := l.LoadSource("p.hcl", src)
	require.NotNil(t, p)
	require.Len(t, diags, 1)
	assert.Equal(t, hcl.DiagWarning, diags[0].Severity)

	l = engine.NewLoader(testRegistry())
	l.LookupEnv = func(string) (string, bool) { return "", false }
	l.Strict = true
	p, diags = l.LoadSource("p.hcl", src)
	assert.Nil(t, p)
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags.Error(), "ETL_TEST_SURELY_UNSET is not set")
}

func TestColumnTypesAreInferred(t *testing.T) {
	p, diags := engine.NewLoader(testRegistry()).Load("testdata/valid/full.hcl")
	require.False(t, diags.HasErrors(), "%v", diags)
	got := map[string]engine.ColumnType{}
	for _, c := range p.Sink.Table.Columns {
		got[c.Name] = c.Type
	}
	assert.Equal(t, map[string]engine.ColumnType{
		"id": engine.TypeInteger, "email": engine.TypeText, "domain": engine.TypeText,
		"updated_at": engine.TypeTimestamp, "stage": engine.TypeText,
	}, got)
	var names []string
	for _, c := range p.Sink.Table.Columns {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"id", "email", "domain", "updated_at", "stage"}, names, "declaration order")
	assert.Equal(t, "crm", p.Sink.Table.Schema)
	assert.Equal(t, "contacts", p.Sink.Table.Name)
}

func TestVerifyUnchangedReachesTheTable(t *testing.T) {
	for _, tt := range []struct {
		attr string
		want bool
	}{{"", false}, {"verify_unchanged = true", true}, {"verify_unchanged = false", false}} {
		src := []byte(`pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" { records = [] }
  map { id = "int(record.id)" }
  sink "warehouse" {
    table = "t"
    key   = ["id"]
    ` + tt.attr + `
  }
}
`)
		p, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", src)
		require.False(t, diags.HasErrors(), "%v", diags)
		assert.Equal(t, tt.want, p.Sink.Table.VerifyUnchanged, tt.attr)
	}
}

func TestWarehouseRetry(t *testing.T) {
	p, diags := engine.NewLoader(testRegistry()).Load("testdata/valid/full.hcl")
	require.False(t, diags.HasErrors(), "%v", diags)
	assert.Equal(t, 30*time.Second, p.WarehouseRetry, "as the file says")
	p, diags = engine.NewLoader(testRegistry()).Load("testdata/valid/minimal.hcl")
	require.False(t, diags.HasErrors(), "%v", diags)
	assert.Equal(t, engine.DefaultWarehouseRetry, p.WarehouseRetry, "the default")
}
