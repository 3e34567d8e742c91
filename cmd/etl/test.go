package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/etl-dev/etl/engine"
)

// A test file sits beside its pipeline (users.hcl → users.test.hcl) and
// holds test blocks: a source record, and the row it must map to or the
// reject it must cause. They run through the pipeline's real map and
// checks, with no source and no warehouse.
type testFile struct {
	Pipeline *string `hcl:"pipeline,optional"`
	// Env pins environment variables for the pipeline's env() calls (a
	// webhook secret the delivery tests sign with); the rest come from the
	// process environment.
	Env   map[string]string `hcl:"env,optional"`
	Tests []testBlock       `hcl:"test,block"`
}

type testBlock struct {
	Name     string         `hcl:"name,label"`
	Record   hcl.Expression `hcl:"record,optional"`
	Delivery *deliveryBlock `hcl:"delivery,block"`
	Want     hcl.Expression `hcl:"want,optional"`
	Reject   *rejectBlock   `hcl:"reject,block"`
	Warnings []string       `hcl:"warnings,optional"`
	DefRange hcl.Range      `hcl:",def_range"`
}

// deliveryBlock is a webhook delivery for a pipeline whose source (or
// trigger) receives them: the test passes when verify and the body parser
// answer status, and an accepted delivery gives records records. In the
// test file, now_unix_ms() is one fixed instant per file and
// hmac_sha256_base64(key, message) signs, so a test signs as the sender.
type deliveryBlock struct {
	Method  *string           `hcl:"method,optional"`
	URL     string            `hcl:"url"`
	Headers map[string]string `hcl:"headers,optional"`
	Body    string            `hcl:"body"`
	Status  int               `hcl:"status"`
	Records *int              `hcl:"records,optional"`
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
		diags = append(diags, gohcl.DecodeBody(f.Body, testEvalContext(time.Now()), &tf)...)
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
	if len(tf.Env) > 0 {
		loader.LookupEnv = func(k string) (string, bool) {
			if v, ok := tf.Env[k]; ok {
				return v, true
			}
			return os.LookupEnv(k)
		}
	}
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
	if tc.Delivery != nil {
		return runDelivery(p, tc.Delivery)
	}
	if tc.Record == nil || isNullExpr(tc.Record) {
		return []string{"a test needs a record (or a delivery)"}
	}
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

// runDelivery hands d to the pipeline's webhook source, or else to its
// first trigger, and compares the answer with the test's.
func runDelivery(p *engine.Pipeline, d *deliveryBlock) []string {
	rcv, ok := p.Source.(engine.Receiver)
	if !ok && len(p.Triggers) > 0 {
		rcv = p.Triggers[0]
	}
	if rcv == nil {
		return []string{"delivery: the pipeline has no webhook source or trigger"}
	}
	method := "POST"
	if d.Method != nil {
		method = *d.Method
	}
	h := http.Header{}
	for k, v := range d.Headers {
		h.Set(k, v)
	}
	if int64(len(d.Body)) > rcv.MaxBody() {
		if d.Status != http.StatusRequestEntityTooLarge {
			return []string{fmt.Sprintf("delivery: want status %d, got 413 (body over max_body)", d.Status)}
		}
		return nil
	}
	recs, err := rcv.Receive(engine.Delivery{Method: method, URL: d.URL, Header: h, Body: []byte(d.Body)})
	status, why := http.StatusOK, ""
	if _, trigger := rcv.(engine.Trigger); trigger {
		status = http.StatusAccepted // as etl serve answers a trigger
	}
	if err != nil {
		status, why = http.StatusBadRequest, err.Error()
		var ref *engine.Refusal
		if errors.As(err, &ref) {
			status, why = ref.Status, ref.Reason
		}
	}
	var problems []string
	if status != d.Status {
		msg := fmt.Sprintf("delivery: want status %d, got %d", d.Status, status)
		if why != "" {
			msg += " (" + why + ")"
		}
		problems = append(problems, msg)
	}
	if d.Records != nil && err == nil && len(recs) != *d.Records {
		problems = append(problems, fmt.Sprintf("delivery: want %d records, got %d", *d.Records, len(recs)))
	}
	return problems
}

// testEvalContext is what a test file's attributes may call:
// now_unix_ms(), one instant for the whole file, and
// hmac_sha256_base64(key, message), so a delivery is signed as its sender
// signs it.
func testEvalContext(now time.Time) *hcl.EvalContext {
	ms := cty.StringVal(strconv.FormatInt(now.UnixMilli(), 10))
	return &hcl.EvalContext{Functions: map[string]function.Function{
		"now_unix_ms": function.New(&function.Spec{Type: function.StaticReturnType(cty.String),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) { return ms, nil }}),
		"hmac_sha256_base64": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "key", Type: cty.String}, {Name: "message", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				m := hmac.New(sha256.New, []byte(args[0].AsString()))
				m.Write([]byte(args[1].AsString()))
				return cty.StringVal(base64.StdEncoding.EncodeToString(m.Sum(nil))), nil
			}}),
	}}
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
