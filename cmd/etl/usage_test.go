package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCommandLineMistakesAreUsageErrors: a bad command line exits 2 with a
// message on stderr saying what is wrong, and runs nothing; help is not an
// error.
func TestCommandLineMistakesAreUsageErrors(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no command", nil, exitUsage, "", "etl: declarative ETL pipelines"},
		{"help", []string{"help"}, exitOK, "etl: declarative ETL pipelines", ""},
		{"unknown command", []string{"runn"}, exitUsage, "", `etl: unknown command "runn"`},
		{"run without a file", []string{"run"}, exitUsage, "", "etl run: give exactly one pipeline file"},
		{"run with two files", []string{"run", "a.hcl", "b.hcl"}, exitUsage, "", "etl run: give exactly one pipeline file"},
		{"unknown flag", []string{"run", "a.hcl", "--fast"}, exitUsage, "", "flag provided but not defined: -fast"},
		{"negative limit", []string{"run", "a.hcl", "--limit", "-1"}, exitUsage, "", "--limit must be ≥ 0"},
		{"huge batch", []string{"run", "a.hcl", "--batch-size", "100001"}, exitUsage, "", "--batch-size between 1 and 100000"},
		{"since and full refresh", []string{"run", "a.hcl", "--since", "2024-01-01", "--full-refresh"}, exitUsage, "", "contradict each other"},
		{"log level", []string{"run", "a.hcl", "--log-level", "loud"}, exitUsage, "", `--log-level "loud": use debug, info, warn or error`},
		{"log format", []string{"run", "a.hcl", "--log-format", "xml"}, exitUsage, "", `--log-format "xml": use text or json`},
		{"flag help is not an error", []string{"run", "-h"}, exitOK, "", "-dry-run"},
		{"plan without a file", []string{"plan"}, exitUsage, "", "etl plan: give exactly one pipeline file"},
		{"history format", []string{"history", "--format", "xml"}, exitUsage, "", "etl history: usage:"},
		{"history limit", []string{"history", "--limit", "0"}, exitUsage, "", "etl history: usage:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, c.args...)
			assert.Equal(t, c.code, code, "stdout: %s\nstderr: %s", out, errOut)
			if c.stdout != "" {
				assert.Contains(t, out, c.stdout)
			}
			if c.stderr != "" {
				assert.Contains(t, errOut, c.stderr)
			}
		})
	}
}
