// Package pipelinetest loads the shipped pipelines (pipelines/*.hcl) for a
// source's end-to-end tests, isolated from other tests.
package pipelinetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// Dir is the repository's pipelines/ folder.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "pipelines")
}

// Load loads pipelines/<file> as etl run would (strictly: a variable
// missing from env fails the load), with env as its whole environment. Its
// sink table, "schema.name", becomes "schema_name" so that it lands in the
// test's own schema (pgtest.URL's search_path) rather than in a schema
// other tests share; edit, when not nil, then rewrites the text (a page
// size, a timezone). The file must name the table as given.
func Load(t testing.TB, reg *engine.Registry, file, table string, env map[string]string, edit func(string) string) *engine.Pipeline {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(Dir(), file))
	require.NoError(t, err)
	text := strings.Replace(string(src), fmt.Sprintf("table = %q", table), fmt.Sprintf("table = %q", LocalTable(table)), 1)
	require.NotEqual(t, string(src), text, "%s names no table = %q", file, table)
	if edit != nil {
		text = edit(text)
	}
	l := engine.NewLoader(reg)
	l.Strict = true
	l.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, diags := l.LoadSource(filepath.Join(Dir(), file), []byte(text))
	require.False(t, diags.HasErrors(), diags.Error())
	return p
}

// LocalTable is the name Load gives a shipped pipeline's table: "a.b" is "a_b".
func LocalTable(table string) string { return strings.ReplaceAll(table, ".", "_") }
