package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestValidateReportsEveryFileWhenTheLoaderPanics: a loader panic on one file
// (here a source kind that panics, standing in for a bug) is an internal
// error at that file, and the other files are still checked and reported.
func TestValidateReportsEveryFileWhenTheLoaderPanics(t *testing.T) {
	reg := newRegistry()
	reg.RegisterSource("boom", func(hcl.Body, *hcl.EvalContext, engine.PluginContext) (engine.Source, hcl.Diagnostics) {
		panic("boom")
	})
	dir := t.TempDir()
	pipeline := func(name, source, mapped string) string {
		return fmt.Sprintf("pipeline %q {\n  system = \"s\"\n  entity = \"e\"\n  source %q {\n  }\n  map {\n    id = %q\n  }\n  sink \"warehouse\" {\n    table = \"t\"\n    key   = [\"id\"]\n  }\n}\n", name, source, mapped)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.hcl"), []byte(pipeline("a", "boom", "record.id")), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.hcl"), []byte(pipeline("b", "csv", "int(record.id")), 0o644))

	var out, errb bytes.Buffer
	code := cmdValidate(reg, []string{dir}, &out, &errb)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errb.String(), filepath.Join(dir, "a.hcl")+":1:1: error: Internal error")
	assert.Contains(t, errb.String(), "(boom)")
	assert.Contains(t, errb.String(), filepath.Join(dir, "b.hcl")+":7:23: error: Syntax error in expression")
	assert.Contains(t, out.String(), "2 files checked: 2 invalid")
}
