package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestDiagnosticsQuoteAWindowOfALongLine: an error in a 1.5 MB expression
// quotes 120 characters around the fault, marked as cut, with the caret
// under the fault; not the whole line.
func TestDiagnosticsQuoteAWindowOfALongLine(t *testing.T) {
	text := "'" + strings.Repeat("lorem ipsum ", 65000) + "'"
	long := text + " + nope + " + text
	require.Greater(t, len(long), 1500000)
	file := filepath.Join(t.TempDir(), "long.hcl")
	src := fmt.Sprintf("pipeline \"p\" {\n  system = \"s\"\n  entity = \"e\"\n  source \"csv\" {\n    path = \"x.csv\"\n  }\n  map {\n    id = %q\n  }\n  sink \"warehouse\" {\n    table = \"t\"\n    key   = [\"id\"]\n  }\n}\n", long)
	require.NoError(t, os.WriteFile(file, []byte(src), 0o644))

	code, _, errOut := runCLI(t, "validate", file)
	assert.Equal(t, exitFailed, code)
	assert.Less(t, len(errOut), 2000, "the line is not printed whole")
	col := len(`    id = "`) + len(text+" + ") + 1
	assert.Contains(t, errOut, fmt.Sprintf("long.hcl:8:%d: error: Unknown name", col))
	lines := strings.Split(errOut, "\n")
	var quoted, caret string
	for i, l := range lines {
		if strings.HasPrefix(l, "    8 | ") {
			quoted, caret = l, lines[i+1]
		}
	}
	require.NotEmpty(t, quoted, errOut)
	assert.True(t, strings.HasPrefix(quoted, "    8 | …") && strings.HasSuffix(quoted, "…"), quoted)
	at := utf8.RuneCountInString(caret[:strings.Index(caret, "^")])
	assert.Equal(t, "nope", string([]rune(quoted)[at:at+4]), "the caret is under the fault")
}

func TestQuoteWindow(t *testing.T) {
	tests := []struct {
		name, line string
		col        int
		want       string
		wantCol    int
	}{
		{"short line as it is", "abc", 1, "abc", 1},
		{"fault near the start", strings.Repeat("x", 200), 3, strings.Repeat("x", 120) + "…", 3},
		{"fault near the end", strings.Repeat("y", 200), 199, "…" + strings.Repeat("y", 120), 120},
		{"fault in the middle", strings.Repeat("é", 100) + "!" + strings.Repeat("é", 100), 100, "…" + strings.Repeat("é", 60) + "!" + strings.Repeat("é", 59) + "…", 61},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, col := quoteWindow(tt.line, tt.col)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantCol, col)
		})
	}
}
