package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

var update = flag.Bool("update", false, "rewrite golden want.jsonl files")

// goldenLine is one line of a golden case's want.jsonl: a mapped row or a reject.
type goldenLine struct {
	Line     int            `json:"line"`
	Row      map[string]any `json:"row,omitempty"`
	Reject   *goldenReject  `json:"reject,omitempty"`
	Skipped  bool           `json:"skipped,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
}

type goldenReject struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// TestGolden runs each testdata/golden/<case>/pipeline.hcl over its input
// through the real source, map and checks, and compares every outcome with
// want.jsonl (go test ./cmd/etl -run Golden -update rewrites them). A case
// may instead hold a file `uses` naming a shipped pipeline: it then runs
// over the case's input.csv, given through the pipeline's *_CSV env var.
func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/golden")
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		dir := filepath.Join("testdata/golden", c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			loader := engine.NewLoader(newRegistry())
			path := filepath.Join(dir, "pipeline.hcl")
			if uses, err := os.ReadFile(filepath.Join(dir, "uses")); err == nil {
				path = filepath.Join(dir, strings.TrimSpace(string(uses)))
				input, err := filepath.Abs(filepath.Join(dir, "input.csv"))
				require.NoError(t, err)
				loader.LookupEnv = func(name string) (string, bool) {
					return input, strings.HasSuffix(name, "_CSV")
				}
			}
			p, diags := loader.Load(path)
			require.False(t, diags.HasErrors(), "%v", diags)
			var got bytes.Buffer
			enc := json.NewEncoder(&got)
			err := p.Preview(context.Background(), engine.RunOptions{}, func(o engine.Outcome) error {
				l := goldenLine{Line: o.Pos.Line, Row: o.Row, Skipped: o.Skipped, Warnings: o.Warnings}
				if o.Reject != nil {
					l.Reject = &goldenReject{Check: o.Reject.Check, Reason: o.Reject.Reason}
				}
				return enc.Encode(l)
			})
			require.NoError(t, err)
			wantPath := filepath.Join(dir, "want.jsonl")
			if *update {
				require.NoError(t, os.WriteFile(wantPath, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(wantPath)
			require.NoError(t, err, "no want.jsonl: run go test ./cmd/etl -run Golden -update")
			assert.Equal(t, string(want), got.String())
		})
	}
}
