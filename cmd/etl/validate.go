package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/etl-dev/etl/engine"
)

func cmdValidate(reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	format := fs.String("format", "text", "output format: text, json or github (Actions annotations)")
	applyEnv := envFlags(fs)
	paths, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if *format != "text" && *format != "json" && *format != "github" {
		fmt.Fprintf(stderr, "etl validate: --format is %q; use text, json or github\n", *format)
		return exitUsage
	}
	if len(paths) == 0 {
		paths = []string{"pipelines"}
	}
	files, err := pipelineFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "etl validate: %v\n", err)
		return exitUsage
	}
	loader := engine.NewLoader(reg)
	loader.Definitions = true // connections/*.hcl and the like are checked, not run
	applyEnv(loader)
	var all hcl.Diagnostics
	invalid := 0
	var loaded []*engine.Pipeline
	for _, f := range files {
		p, diags := loadReportingPanics(loader, f)
		if diags.HasErrors() {
			invalid++
		}
		all = append(all, diags...)
		if p != nil {
			loaded = append(loaded, p)
		}
	}
	if invalid == 0 { // depends_on across the files (etl serve, etl run DIR)
		if _, diags := engine.CheckDependencies(loaded); diags.HasErrors() {
			invalid++
			all = append(all, diags...)
		}
	}
	switch *format {
	case "json":
		writeDiagnosticsJSON(stdout, all)
	case "github":
		writeDiagnosticsGitHub(stdout, all)
	default:
		writeDiagnostics(stderr, all, loader.Files())
		errs, warns := count(all)
		fmt.Fprintf(stdout, "%s checked: %s, %s, %s\n", plural(len(files), "file", "files"),
			plural(invalid, "invalid", "invalid"), plural(errs, "error", "errors"), plural(warns, "warning", "warnings"))
	}
	if invalid > 0 {
		return exitFailed
	}
	return exitOK
}

// loadReportingPanics loads one file for validate. No input should panic the
// loader; should one do so anyway, it is reported as an internal error at the
// file, so that every other file is still checked and reported.
func loadReportingPanics(loader *engine.Loader, path string) (p *engine.Pipeline, diags hcl.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			rng := hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Internal error",
				Detail:   fmt.Sprintf("etl failed while loading this file (%v). This is a bug in etl, not in the file: please report it with the file.", r),
				Subject:  &rng,
			})
		}
	}()
	return loader.Load(path)
}

// pipelineFiles expands directories to the .hcl files below them (testdata
// folders excluded), sorted; files are kept as given.
func pipelineFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			// envs/ holds variable values (envs/sandbox.hcl), not pipelines.
			if d.IsDir() && path != p && (d.Name() == "testdata" || d.Name() == "envs" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".hcl") && !strings.HasSuffix(path, ".test.hcl") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("no .hcl files in %s", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

func count(diags hcl.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// writeDiagnostics prints each diagnostic as
//
//	file:line:col: error: Summary
//	    Detail, saying how to fix it.
//	     12 |     tabel = "x"
//	        |     ^
func writeDiagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File) {
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		loc := "etl"
		if d.Subject != nil {
			loc = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(w, "%s: %s: %s\n", loc, sev, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(w, "    %s\n", d.Detail)
		}
		if d.Subject != nil {
			if f, ok := files[d.Subject.Filename]; ok && f != nil {
				if line, ok := sourceLine(f.Bytes, d.Subject.Start.Line); ok {
					num := fmt.Sprintf("%5d | ", d.Subject.Start.Line)
					width := 1
					if d.Subject.End.Line == d.Subject.Start.Line && d.Subject.End.Column > d.Subject.Start.Column {
						width = d.Subject.End.Column - d.Subject.Start.Column
					}
					line, col := quoteWindow(line, d.Subject.Start.Column-1)
					width = max(1, min(width, utf8.RuneCountInString(line)-col))
					fmt.Fprintf(w, "%s%s\n", num, line)
					pad := caretPad(line, col)
					fmt.Fprintf(w, "%s%s%s\n", strings.Repeat(" ", len(num)-2)+"| ", pad, strings.Repeat("^", width))
				}
			}
		}
	}
}

func sourceLine(src []byte, n int) (string, bool) {
	if n < 1 {
		return "", false
	}
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimRight(string(src), "\r"), true
}

// quoteWidth is the most characters of a source line a diagnostic quotes.
const quoteWidth = 120

// quoteWindow cuts a long line to quoteWidth characters around column col
// (0-based, in characters), marking each cut with "…", so that an error in
// a megabyte-long expression does not print the megabyte back. It returns
// the text to quote and col's column within it.
func quoteWindow(line string, col int) (string, int) {
	runes := []rune(line)
	if len(runes) <= quoteWidth {
		return line, col
	}
	col = max(0, min(col, len(runes)))
	start := max(0, min(col-quoteWidth/2, len(runes)-quoteWidth))
	end := min(len(runes), start+quoteWidth)
	out := string(runes[start:end])
	if end < len(runes) {
		out += "…"
	}
	if start > 0 {
		return "…" + out, col - start + 1
	}
	return out, col - start
}

// caretPad is the white space under the first n characters of line (tabs kept).
func caretPad(line string, n int) string {
	var b strings.Builder
	for i, r := range []rune(line) {
		if i >= n {
			break
		}
		if r == '\t' {
			b.WriteRune('\t')
		} else {
			b.WriteRune(' ')
		}
	}
	return b.String()
}

type jsonDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	EndLine  int    `json:"end_line,omitempty"`
	EndCol   int    `json:"end_column,omitempty"`
}

func writeDiagnosticsJSON(w io.Writer, diags hcl.Diagnostics) {
	out := make([]jsonDiagnostic, 0, len(diags))
	for _, d := range diags {
		j := jsonDiagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if d.Subject != nil {
			j.File, j.Line, j.Column = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
			j.EndLine, j.EndCol = d.Subject.End.Line, d.Subject.End.Column
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"valid": !diags.HasErrors(), "diagnostics": out})
}

// writeDiagnosticsGitHub prints GitHub Actions workflow commands, so each
// problem shows on its line of the pull request:
//
//	::error file=pipelines/x.hcl,line=3,col=5,endLine=3,endColumn=10,title=Unsupported argument::detail
func writeDiagnosticsGitHub(w io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		cmd := "error"
		if d.Severity == hcl.DiagWarning {
			cmd = "warning"
		}
		props := []string{}
		if d.Subject != nil {
			props = append(props,
				"file="+ghProperty(d.Subject.Filename),
				fmt.Sprintf("line=%d", d.Subject.Start.Line),
				fmt.Sprintf("col=%d", d.Subject.Start.Column),
				fmt.Sprintf("endLine=%d", d.Subject.End.Line),
				fmt.Sprintf("endColumn=%d", d.Subject.End.Column))
		}
		props = append(props, "title="+ghProperty(d.Summary))
		msg := d.Summary
		if d.Detail != "" {
			msg = d.Detail
		}
		fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(msg))
	}
}

// ghData escapes a workflow command's message.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command's property value.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
