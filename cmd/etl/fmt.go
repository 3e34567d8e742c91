package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// cmdFmt rewrites pipeline and test files in HCL's canonical layout
// (hclwrite.Format, as terraform fmt). With -check it changes nothing and
// lists the files that would change, exiting 1 if any would.
func cmdFmt(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fmt", stderr)
	check := fs.Bool("check", false, "list files that are not formatted and exit 1; change nothing")
	paths, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if len(paths) == 0 {
		paths = []string{"pipelines"}
	}
	files, err := hclFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "etl fmt: %v\n", err)
		return exitUsage
	}
	unformatted := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "etl fmt: %v\n", err)
			return exitFailed
		}
		// Format only what parses: hclwrite would reshape broken input.
		if _, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos); diags.HasErrors() {
			writeDiagnostics(stderr, diags, nil)
			return exitFailed
		}
		out := hclwrite.Format(src)
		if bytes.Equal(src, out) {
			continue
		}
		unformatted++
		fmt.Fprintln(stdout, f)
		if !*check {
			if err := os.WriteFile(f, out, 0o644); err != nil {
				fmt.Fprintf(stderr, "etl fmt: %v\n", err)
				return exitFailed
			}
		}
	}
	if *check && unformatted > 0 {
		return exitFailed
	}
	return exitOK
}

// hclFiles expands directories to every .hcl file below them, test files
// included (testdata skipped).
func hclFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		files, err := pipelineFiles([]string{p})
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			tests, err := testFiles([]string{p})
			if err != nil {
				return nil, err
			}
			out = append(out, tests...)
		}
	}
	return out, nil
}
