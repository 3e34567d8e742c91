package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/etl-dev/etl/engine"
)

// A test file sits beside its pipeline (users.hcl → users.test.hcl) and
// holds test blocks: a source record, and the row it must map to or the
// reject it must cause. They run through the pipeline's real map and
// checks, with no source and no warehouse.
type testFile struct {
	Pipeline *string     `hcl:"pipeline,optional"`
	Tests    []testBlock `hcl:"test,block"`
}

type testBlock struct {
	Name     string         `hcl:"name,label"`
	Record   hcl.Expression `hcl:"record"`
	Want     hcl.Expression `hcl:"want,optional"`
	Reject   *rejectBlock   `hcl:"reject,block"`
	Warnings []string       `hcl:"warnings,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

type rejectBlock struct {
	Check  string  `hcl:"check"`
	Reason *string `hcl:"reason,optional"`
}

func cmdTest(reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("test", stderr)
	verbose := fs.Bool("v", false, "list every test, not only failures")
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
	files, err := testFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "etl test: %v\n", err)
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "etl test: no *.test.hcl files in %s\n", strings.Join(paths, ", "))
		return exitUsage
	}
	var passed, failed int
	for _, f := range files {
		p, f2 := runTestFile(reg, f, stdout, stderr, *verbose)
		passed += p
		failed += f2
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// testFiles finds the test files for the given paths: a directory's
// *.test.hcl files, a pipeline's sibling test file, or a test file itself.
func testFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		switch {
		case st.IsDir():
			err := filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && path != p && d.Name() == "testdata" {
					return filepath.SkipDir
				}
				if !d.IsDir() && strings.HasSuffix(path, ".test.hcl") {
					out = append(out, path)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		case strings.HasSuffix(p, ".test.hcl"):
			out = append(out, p)
		default:
			t := strings.TrimSuffix(p, ".hcl") + ".test.hcl"
			if _, err := os.Stat(t); err != nil {
				return nil, fmt.Errorf("%s has no test file %s", p, t)
			}
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out, nil
}

// runTestFile runs one test file and reports each failure (and, verbose,
// each pass). Problems with the files themselves count as failures.
func runTestFile(reg *engine.Registry, path string, stdout, stderr io.Writer, verbose bool) (passed, failed int) {
	parser := hclparse.NewParser()
	f, diags := parser.ParseHCL(mustRead(path), path)
	var tf testFile
	if !diags.HasErrors() {
		diags = append(diags, gohcl.DecodeBody(f.Body, nil, &tf)...)
	}
	if diags.HasErrors() {
		writeDiagnostics(stderr, diags, parser.Files())
		return 0, 1
	}
	pipelinePath := strings.TrimSuffix(path, ".test.hcl") + ".hcl"
	if tf.Pipeline != nil {
		pipelinePath = filepath.Join(filepath.Dir(path), *tf.Pipeline)
	}
	loader := engine.NewLoader(reg)
	p, pdiags := loader.Load(pipelinePath)
	if pdiags.HasErrors() {
		writeDiagnostics(stderr, pdiags, loader.Files())
		fmt.Fprintf(stdout, "FAIL %s: pipeline %s is invalid\n", path, pipelinePath)
		return 0, 1
	}
	types := map[string]engine.ColumnType{}
	for _, c := range p.Sink.Table.Columns {
		types[c.Name] = c.Type
	}
	for _, tc := range tf.Tests {
		where := fmt.Sprintf("%s:%d", path, tc.DefRange.Start.Line)
		problems := runTest(p, tc, types)
		if len(problems) == 0 {
			passed++
			if verbose {
				fmt.Fprintf(stdout, "PASS %s: %s\n", where, tc.Name)
			}
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s: %s\n", where, tc.Name)
		for _, pr := range problems {
			fmt.Fprintf(stdout, "    %s\n", pr)
		}
	}
	return passed, failed
}

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil // ParseHCL then reports an empty file; the error is in the diagnostics below
	}
	return b
}

// runTest returns what is wrong with one test's outcome; none when it passed.
func runTest(p *engine.Pipeline, tc testBlock, types map[string]engine.ColumnType) []string {
	rec, err := exprToGo(tc.Record)
	if err != nil {
		return []string{"record: " + err.Error()}
	}
	fields, ok := rec.(map[string]any)
	if !ok {
		return []string{"record: must be an object of field = value"}
	}
	outs, err := p.Transform([]engine.Record{{Fields: fields, Pos: engine.Position{Line: tc.DefRange.Start.Line}}})
	if err != nil {
		return []string{"the run aborted: " + err.Error()}
	}
	o := outs[0]
	var problems []string
	if tc.Reject != nil {
		switch {
		case o.Reject == nil:
			problems = append(problems, fmt.Sprintf("want a reject by %q, got a row: %s", tc.Reject.Check, jsonText(o.Row)))
		case o.Reject.Check != tc.Reject.Check:
			problems = append(problems, fmt.Sprintf("want a reject by %q, got one by %q: %s", tc.Reject.Check, o.Reject.Check, o.Reject.Reason))
		case tc.Reject.Reason != nil && o.Reject.Reason != *tc.Reject.Reason:
			problems = append(problems, fmt.Sprintf("reject reason: want %q, got %q", *tc.Reject.Reason, o.Reject.Reason))
		}
		return problems
	}
	if o.Reject != nil {
		return []string{fmt.Sprintf("want a row, got a reject by %q: %s", o.Reject.Check, o.Reject.Reason)}
	}
	if tc.Want != nil && !isNullExpr(tc.Want) {
		want, err := exprToGo(tc.Want)
		if err != nil {
			return []string{"want: " + err.Error()}
		}
		wm, ok := want.(map[string]any)
		if !ok {
			return []string{"want: must be an object of column = value"}
		}
		cols := make([]string, 0, len(wm))
		for c := range wm {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		for _, c := range cols {
			got, ok := o.Row[c]
			if !ok {
				problems = append(problems, fmt.Sprintf("column %s: the pipeline maps no such column", c))
				continue
			}
			if types[c] == engine.TypeJSON {
				if s, ok := got.(string); ok {
					_ = json.Unmarshal([]byte(s), &got)
				}
			}
			if g, w := jsonText(got), jsonText(wm[c]); g != w {
				problems = append(problems, fmt.Sprintf("column %s: want %s, got %s", c, w, g))
			}
		}
	}
	if tc.Warnings != nil || len(o.Warnings) > 0 {
		if g, w := strings.Join(o.Warnings, ","), strings.Join(tc.Warnings, ","); g != w {
			problems = append(problems, fmt.Sprintf("warnings: want [%s], got [%s]", w, g))
		}
	}
	return problems
}

func isNullExpr(e hcl.Expression) bool {
	v, diags := e.Value(nil)
	return !diags.HasErrors() && v.IsNull()
}

// exprToGo evaluates an HCL expression to JSON-like Go values (numbers as
// json.Number), as a source would deliver them.
func exprToGo(e hcl.Expression) (any, error) {
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return nil, diags
	}
	if v.IsNull() {
		return nil, nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonText is a value's canonical JSON, for comparing a row's values with
// the test's (times as RFC 3339, map keys sorted).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
