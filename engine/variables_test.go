package engine_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// varPipeline is a pipeline whose inline record's id is var.who.
var varPipeline = inlinePipeline(`records = [{ id = var.who }]`)

func TestVariablesTakeTheEnvironmentsValues(t *testing.T) {
	files := map[string]string{
		"variables.hcl":    "variable \"who\" {\n  default = \"production\"\n}\n",
		"envs/sandbox.hcl": "who = \"sandbox\"\n",
		"other.hcl":        "who = \"other\"\n",
		"p.hcl":            varPipeline,
	}
	cases := []struct {
		name     string
		env      string
		varFiles []string
		wantID   string
		wantEnv  string
	}{
		{"the default without an environment", "", nil, "production", ""},
		{"ETL_ENV picks envs/NAME.hcl", "sandbox", nil, "sandbox", "sandbox"},
		{"a --var-file is used and names the environment", "", []string{"other.hcl"}, "other", "other"},
		{"a --var-file wins over envs/NAME.hcl", "sandbox", []string{"other.hcl"}, "other", "sandbox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, files)
			l := engine.NewLoader(testRegistry())
			l.Environment = tc.env
			for _, f := range tc.varFiles {
				l.VarFiles = append(l.VarFiles, filepath.Join(dir, f))
			}
			p, diags := l.Load(filepath.Join(dir, "p.hcl"))
			require.False(t, diags.HasErrors(), diags.Error())
			recs := readAll(t, p.Source)
			require.Len(t, recs, 1)
			assert.Equal(t, tc.wantID, recs[0]["id"])
			assert.Equal(t, tc.wantEnv, p.Environment)
		})
	}
}

func TestVariableErrors(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		env     string
		summary string
		detail  string
	}{
		{
			name:    "no default and no environment",
			files:   map[string]string{"variables.hcl": "variable \"who\" {}\n", "p.hcl": varPipeline},
			summary: "No value for variable", detail: `Variable "who" has no default`,
		},
		{
			name: "a value for an undeclared variable",
			files: map[string]string{"variables.hcl": "variable \"who\" {\n  default = \"x\"\n}\n",
				"envs/sandbox.hcl": "wh0 = \"sandbox\"\n", "p.hcl": varPipeline},
			env: "sandbox", summary: "Undeclared variable", detail: `Did you mean "who"?`,
		},
		{
			name:  "an environment without its file",
			files: map[string]string{"variables.hcl": "variable \"who\" {\n  default = \"x\"\n}\n", "p.hcl": varPipeline},
			env:   "staging", summary: "Cannot read variables file", detail: `Environment "staging"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, tc.files)
			l := engine.NewLoader(testRegistry())
			l.Environment = tc.env
			p, diags := l.Load(filepath.Join(dir, "p.hcl"))
			require.True(t, diags.HasErrors())
			assert.Nil(t, p)
			var summaries []string
			for _, d := range diags {
				summaries = append(summaries, d.Summary)
				if d.Summary == tc.summary {
					assert.Contains(t, d.Detail, tc.detail)
				}
			}
			assert.Contains(t, summaries, tc.summary)
		})
	}
}
