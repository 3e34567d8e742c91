package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// DefaultBatchSize is the batch size of a pipeline that declares none.
const DefaultBatchSize = 2000

// DefaultWarehouseRetry is how long a run retries a batch whose warehouse
// went away, when the pipeline does not say (warehouse_retry).
const DefaultWarehouseRetry = 2 * time.Minute

// Pipeline is a loaded pipeline file: every block decoded and every
// expression compiled. It is immutable and safe to run more than once.
type Pipeline struct {
	Name        string
	System      string
	Entity      string
	Description string
	File        string // the file it was loaded from
	// Environment is the active environment the pipeline was loaded for
	// (ETL_ENV, or the --var-file's name); "" when none was chosen.
	Environment string
	// Connection names the connection its source uses; "" when none.
	Connection string
	BatchSize  int
	Location   *time.Location

	SourceKind string
	Source     Source

	// MaxRejects is the run's error budget: past it the run stops, failed.
	MaxRejects RejectBudget
	// WarehouseRetry is how long a run retries a batch whose warehouse went
	// away before it fails (warehouse_retry; DefaultWarehouseRetry, 0: never).
	WarehouseRetry time.Duration
	// Mask names source fields whose values are replaced by "[masked]" in
	// the raw records stored with rejects (PII).
	Mask []string

	// Serve is how `etl serve` schedules and retries the pipeline.
	Serve Serve
	// Triggers are the pipeline's trigger blocks: deliveries that start a run.
	Triggers []Trigger

	Columns []*MappedColumn // in declaration order
	Checks  []*Check
	Cursor  *Program // the incremental cursor; nil when the pipeline is not incremental
	// Deleted is the map's deleted condition (DeletedAttr); nil without one.
	Deleted *Program

	Sink SinkSpec

	// Config is the pipeline file's text, secrets redacted, for the sync history.
	Config   string
	redactor *Redactor
	// fastFields are the record fields the map's fast paths read by slot
	// (see compiler.fieldSlot).
	fastFields []string
	// mapPaths are the record field paths the map reads (see absent.go).
	mapPaths [][]string
}

// SinkSpec is the decoded sink block.
type SinkSpec struct {
	Kind  string // the block's label: "warehouse", or a driver name such as "postgres"
	URL   string // as configured; empty means ETL_WAREHOUSE_URL, else the embedded SQLite file
	Table Table  // Schema, Name, Columns, Key and Mode; RunID is set per run
}

// Redact removes the pipeline's secrets (every env() and file() value) from s.
func (p *Pipeline) Redact(s string) string { return p.redactor.Redact(s) }

// Loader loads pipeline files. Its parser keeps every file it read, so
// diagnostics can be printed with their source lines (Files).
type Loader struct {
	registry *Registry
	parser   *hclparse.Parser
	// Strict makes an unset env() without a default, or an unreadable
	// file(), an error; without it (etl validate) they are warnings, so CI
	// can validate without secrets.
	Strict bool
	// LookupEnv reads environment variables; os.LookupEnv by default.
	LookupEnv func(string) (string, bool)
	// Definitions makes a file holding only connection and variable blocks
	// valid, with a nil pipeline (etl validate); otherwise loading one is an
	// error, since there is nothing to run.
	Definitions bool
	// Environment names the active environment (ETL_ENV by default); see
	// variables.go for how it picks variable values.
	Environment string
	// VarFiles are variable files given explicitly (--var-file); they take
	// the place of the environment's envs/NAME.hcl.
	VarFiles []string

	defMu    sync.Mutex
	defs     map[string]*definitions // by folder
	reported map[string]bool         // definitions' diagnostics returned already (once)
}

// NewLoader returns a loader that resolves source and sink kinds in reg.
func NewLoader(reg *Registry) *Loader {
	return &Loader{registry: reg, parser: hclparse.NewParser(), LookupEnv: os.LookupEnv, Environment: os.Getenv("ETL_ENV")}
}

// Files returns the files read so far, by name, for printing diagnostics.
func (l *Loader) Files() map[string]*hcl.File { return l.parser.Files() }

// Load parses, decodes and compiles one pipeline file. It reports every
// problem it finds, not just the first. The pipeline is nil when the
// diagnostics hold an error.
func (l *Loader) Load(path string) (*Pipeline, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read pipeline file",
			Detail:   err.Error(),
		}}
	}
	return l.LoadSource(path, src)
}

// LoadSource is Load for a file's contents; path names it in diagnostics and
// anchors relative paths.
func (l *Loader) LoadSource(path string, src []byte) (_ *Pipeline, diags hcl.Diagnostics) {
	f, diags := l.parser.ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, diags
	}
	cenv := &configEnv{dir: filepath.Dir(path), lookup: l.LookupEnv, strict: l.Strict}
	ctx := cenv.evalContext()
	// A diagnostic may quote a value ("url … is not an absolute URL"): none
	// leaves with a secret in it.
	defer func() { redactDiagnostics(diags, newRedactor(cenv.secrets)) }()
	defs := l.definitionsFor(filepath.Dir(path))
	env, vdiags := l.setVariables(ctx, defs, filepath.Dir(path))
	diags = append(diags, l.once(append(defs.diags, vdiags...))...)

	var fc fileConfig
	diags = append(diags, gohcl.DecodeBody(f.Body, ctx, &fc)...)
	if diags.HasErrors() {
		return nil, diags
	}
	if len(fc.Pipelines) == 0 && len(fc.Connections)+len(fc.Variables) > 0 {
		if l.Definitions {
			return nil, diags
		}
		return nil, append(diags, errorAt(f.Body.MissingItemRange(), "Not a pipeline file",
			"This file holds only connection and variable blocks, which the pipelines beside it use; run or plan one of those pipeline files."))
	}
	if len(fc.Pipelines) != 1 {
		rng := f.Body.MissingItemRange()
		if len(fc.Pipelines) > 1 {
			rng = fc.Pipelines[1].DefRange
		}
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "One pipeline per file",
			Detail:   fmt.Sprintf("A pipeline file holds exactly one pipeline block; this one has %d. Put each pipeline in its own file.", len(fc.Pipelines)),
			Subject:  &rng,
		})
	}
	pc := fc.Pipelines[0]
	p, pdiags := l.build(path, &pc, ctx, defs)
	diags = append(diags, pdiags...)
	if p != nil {
		p.Environment = env
	}
	diags, dropped := unsetDiagnostics(diags, cenv.missing, configCalls(f), pc.DefRange)
	if dropped && p != nil && p.Source == nil {
		p.Source = unavailableSource{why: "a value it needs was not available when the file was loaded"}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	p.redactor = newRedactor(cenv.secrets)
	if sh, ok := p.Source.(SecretHolder); ok {
		p.redactor.Add(sh.Secrets()...)
	}
	p.Config = p.redactor.Redact(string(src))
	return p, diags
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (l *Loader) build(path string, pc *pipelineConfig, ctx *hcl.EvalContext, defs *definitions) (*Pipeline, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p := &Pipeline{
		Name:        pc.Name,
		System:      pc.System,
		Entity:      pc.Entity,
		Description: pc.Description,
		File:        path,
		BatchSize:   DefaultBatchSize,
		Location:    time.UTC,

		WarehouseRetry: DefaultWarehouseRetry,
	}
	attrs, _ := pc.Body.JustAttributes()
	if !identRE.MatchString(pc.Name) {
		diags = append(diags, errorAt(pc.DefRange, "Invalid pipeline name",
			fmt.Sprintf("%q: a pipeline name is letters, digits and underscores, starting with a letter (it names the pipeline's lock and state).", pc.Name)))
	}
	if pc.BatchSize != nil {
		if *pc.BatchSize < 1 || *pc.BatchSize > 100000 {
			diags = append(diags, errorAt(attrRange(attrs, "batch_size", pc.DefRange), "Invalid batch size",
				fmt.Sprintf("batch_size is %d; it must be between 1 and 100000.", *pc.BatchSize)))
		} else {
			p.BatchSize = *pc.BatchSize
		}
	}
	if pc.Timezone != nil {
		loc, err := time.LoadLocation(*pc.Timezone)
		if err != nil {
			diags = append(diags, errorAt(attrRange(attrs, "timezone", pc.DefRange), "Unknown timezone",
				fmt.Sprintf("%q is not an IANA timezone name; use one such as \"UTC\" or \"America/New_York\".", *pc.Timezone)))
		} else {
			p.Location = loc
		}
	}

	if pc.WarehouseRetry != nil {
		if d, err := time.ParseDuration(*pc.WarehouseRetry); err != nil || d < 0 {
			diags = append(diags, errorAt(attrRange(attrs, "warehouse_retry", pc.DefRange), "Invalid warehouse_retry",
				fmt.Sprintf("warehouse_retry is %q; write a duration such as \"2m\" or \"30s\" (\"0s\": fail at once when the warehouse goes away).", *pc.WarehouseRetry)))
		} else {
			p.WarehouseRetry = d
		}
	}
	budget, bdiags := parseBudget(pc.MaxRejects, ctx)
	diags = append(diags, bdiags...)
	p.MaxRejects = budget
	p.Mask = pc.Mask
	diags = append(diags, buildServe(pc, attrs, p)...)

	// Source.
	var fields []string
	switch {
	case len(pc.Sources) == 0:
		diags = append(diags, errorAt(pc.DefRange, "Missing source block",
			`A pipeline needs one source block, such as source "csv" { path = "users.csv" }.`))
	case len(pc.Sources) > 1:
		diags = append(diags, errorAt(pc.Sources[1].DefRange, "Duplicate source block",
			"A pipeline reads from exactly one source; split this into two pipeline files."))
	default:
		sc := pc.Sources[0]
		p.SourceKind = sc.Kind
		factory, ok := l.registry.sources[sc.Kind]
		if !ok {
			diags = append(diags, errorAt(sc.DefRange, "Unknown source kind",
				fmt.Sprintf("There is no source %q.%s Source kinds: %s.", sc.Kind, didYouMean(sc.Kind, l.registry.SourceKinds()), strings.Join(l.registry.SourceKinds(), ", "))))
			break
		}
		body, conn, cdiags := l.sourceBody(&sc, defs, ctx)
		diags = append(diags, cdiags...)
		if body == nil {
			break
		}
		if conn != nil {
			p.Connection = conn.Name
		}
		src, sdiags := factory(body, ctx, PluginContext{
			Pipeline:    pc.Name,
			Connection:  conn,
			Dir:         filepath.Dir(path),
			DefRange:    sc.DefRange,
			Expressions: &Expressions{c: newCompiler(p.Location, nil)},
			Location:    p.Location,
		})
		diags = append(diags, sdiags...)
		if sdiags.HasErrors() || src == nil {
			break // a source with errors may be nil or half built
		}
		p.Source = src
		if fl, ok := src.(FieldLister); ok {
			fields = fl.Fields()
		}
	}

	for i := range pc.Triggers {
		tc := &pc.Triggers[i]
		factory, ok := l.registry.triggers[tc.Kind]
		if !ok {
			kinds := sortedKeys(l.registry.triggers)
			diags = append(diags, errorAt(tc.DefRange, "Unknown trigger kind",
				fmt.Sprintf("There is no trigger %q.%s Trigger kinds: %s.", tc.Kind, didYouMean(tc.Kind, kinds), strings.Join(kinds, ", "))))
			continue
		}
		tr, tdiags := factory(tc.Remain, ctx, PluginContext{
			Pipeline: pc.Name, Dir: filepath.Dir(path), DefRange: tc.DefRange,
			Expressions: &Expressions{c: newCompiler(p.Location, nil)}, Location: p.Location,
		})
		diags = append(diags, tdiags...)
		if !tdiags.HasErrors() && tr != nil {
			p.Triggers = append(p.Triggers, tr)
		}
	}

	comp := newCompiler(p.Location, fields)

	// Map.
	switch {
	case len(pc.Maps) == 0:
		diags = append(diags, errorAt(pc.DefRange, "Missing map block",
			`A pipeline needs a map block: target column = "expression", e.g. map { id = "int(record.id)" }.`))
	case len(pc.Maps) > 1:
		diags = append(diags, errorAt(pc.Maps[1].DefRange, "Duplicate map block", "Put every column in one map block."))
	default:
		cols, mdiags := comp.compileMap(pc.Maps[0].Remain, ctx)
		diags = append(diags, mdiags...)
		p.Columns = cols
		p.fastFields = comp.slotNames
		p.mapPaths = mapPaths(cols)
	}

	// Incremental cursor: may use record and the mapped columns.
	if len(pc.Incremental) > 1 {
		diags = append(diags, errorAt(pc.Incremental[1].DefRange, "Duplicate incremental block", "A pipeline has at most one incremental cursor."))
	}
	if len(pc.Incremental) > 0 {
		// A program is nil once its diagnostic is reported: use it only
		// when it compiled.
		prog, cdiags := comp.compileAttr("cursor", pc.Incremental[0].Cursor, ctx, comp.rowEnv(p.Columns), nil)
		diags = append(diags, cdiags...)
		if prog != nil {
			prog.fast = comp.fastCompileCheck(prog.program.Node(), false)
			p.Cursor = prog
		}
	}

	if len(pc.Maps) == 1 {
		p.Deleted, diags = compileDeleted(comp, pc.Maps[0].Remain, ctx, p.Columns, diags)
	}

	// Validate checks.
	seen := map[string]bool{}
	for i := range pc.Validates {
		vc := &pc.Validates[i]
		if seen[vc.Name] {
			diags = append(diags, errorAt(vc.DefRange, "Duplicate check name",
				fmt.Sprintf("Another validate block is named %q; give each check its own name (rejects record it).", vc.Name)))
		}
		seen[vc.Name] = true
		c, cdiags := comp.compileCheck(vc, ctx, p.Columns)
		diags = append(diags, cdiags...)
		if c != nil {
			p.Checks = append(p.Checks, c)
		}
	}

	// Sink.
	switch {
	case len(pc.Sinks) == 0:
		diags = append(diags, errorAt(pc.DefRange, "Missing sink block",
			`A pipeline needs one sink block, such as sink "warehouse" { table = "crm.users" key = ["id"] }.`))
	case len(pc.Sinks) > 1:
		diags = append(diags, errorAt(pc.Sinks[1].DefRange, "Duplicate sink block", "A pipeline writes to exactly one sink."))
	default:
		var declared []string // every map attribute, compiled or not
		if len(pc.Maps) > 0 {
			attrs, _ := pc.Maps[0].Remain.JustAttributes()
			for name := range attrs {
				declared = append(declared, name)
			}
		}
		spec, sdiags := l.buildSink(&pc.Sinks[0], p.Columns, declared, len(pc.Incremental) > 0)
		diags = append(diags, sdiags...)
		p.Sink = spec
		p.Sink.Table.SoftDeletes = p.Sink.Table.Deletes == DeletesSoft || p.Deleted != nil
		if p.Deleted != nil && (p.Sink.Table.Mode != ModeUpsert || len(p.Sink.Table.Key) == 0) {
			diags = append(diags, errorAt(pc.Maps[0].DefRange, "Deleted needs an upsert",
				`map's deleted marks the row of the record's key: it needs the sink's mode = "upsert" and a key.`))
		}
		var cdiags hcl.Diagnostics
		p.Sink.Table.SchemaChanges, cdiags = parseSchemaChanges(pc.SchemaChg, attrs, pc.DefRange)
		diags = append(diags, cdiags...)
	}
	return p, diags
}

// buildSink decodes the sink block. cols are the compiled map columns;
// declared names every map attribute, so a column whose expression failed
// to compile is not reported again as unknown.
func (l *Loader) buildSink(sc *sinkConfig, cols []*MappedColumn, declared []string, incremental bool) (SinkSpec, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	attrs, _ := sc.Body.JustAttributes()
	spec := SinkSpec{Kind: sc.Kind}
	if sc.Kind != "warehouse" {
		if _, ok := l.registry.drivers[sc.Kind]; !ok {
			kinds := append([]string{"warehouse"}, l.registry.SinkNames()...)
			diags = append(diags, errorAt(sc.DefRange, "Unknown sink kind",
				fmt.Sprintf("There is no sink %q.%s Sink kinds: %s (\"warehouse\" picks the driver from the URL).", sc.Kind, didYouMean(sc.Kind, kinds), strings.Join(kinds, ", "))))
		}
	}
	if sc.URL != nil {
		spec.URL = *sc.URL
	}

	// Table: [schema.]name, each an SQL identifier.
	trng := attrRange(attrs, "table", sc.DefRange)
	schema, name, ok := strings.Cut(sc.Table, ".")
	if !ok {
		schema, name = "", sc.Table
	}
	if !identRE.MatchString(name) || (schema != "" && !identRE.MatchString(schema)) || len(name) > 63 || len(schema) > 63 {
		diags = append(diags, errorAt(trng, "Invalid table name",
			fmt.Sprintf("%q is not a table name: use name or schema.name, each letters, digits and underscores (at most 63), starting with a letter or underscore.", sc.Table)))
	}
	spec.Table.Schema, spec.Table.Name = schema, name

	spec.Table.Mode = ModeUpsert
	if sc.Mode != nil {
		switch m := Mode(*sc.Mode); m {
		case ModeUpsert, ModeAppend, ModeReplace:
			spec.Table.Mode = m
		default:
			diags = append(diags, errorAt(attrRange(attrs, "mode", sc.DefRange), "Invalid sink mode",
				fmt.Sprintf("mode is %q; use \"upsert\", \"append\" or \"replace\".%s", *sc.Mode, didYouMean(*sc.Mode, []string{"upsert", "append", "replace"}))))
		}
	}
	if spec.Table.Mode == ModeReplace && incremental {
		diags = append(diags, errorAt(attrRange(attrs, "mode", sc.DefRange), "Replace mode with an incremental cursor",
			"mode = \"replace\" rebuilds the whole table each run, but an incremental run reads only new records; use mode = \"upsert\", or drop the incremental block."))
	}

	// Columns from the map, with overrides.
	byName := map[string]*MappedColumn{}
	var names []string
	for _, c := range cols {
		byName[c.Name] = c
		names = append(names, c.Name)
		spec.Table.Columns = append(spec.Table.Columns, Column{Name: c.Name, Type: c.Type})
	}
	isDeclared := map[string]bool{}
	for _, n := range declared {
		isDeclared[n] = true
	}
	if len(sc.Columns) > 1 {
		diags = append(diags, errorAt(sc.Columns[1].DefRange, "Duplicate columns block", "Put every column type override in one columns block."))
	}
	if len(sc.Columns) > 0 {
		oattrs, odiags := sc.Columns[0].Remain.JustAttributes()
		diags = append(diags, odiags...)
		for _, a := range sortedAttrs(oattrs) {
			c, ok := byName[a.Name]
			if !ok && isDeclared[a.Name] {
				continue // its expression failed; that is reported already
			}
			if !ok {
				diags = append(diags, errorAt(a.NameRange, "Unknown column",
					fmt.Sprintf("The map block has no column %q.%s", a.Name, didYouMean(a.Name, names))))
				continue
			}
			var tname string
			if d := gohcl.DecodeExpression(a.Expr, nil, &tname); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			t, ok := ParseColumnType(tname)
			if !ok {
				diags = append(diags, errorAt(a.Expr.Range(), "Unknown column type",
					fmt.Sprintf("%q is not a column type; use one of %s.%s", tname, strings.Join(columnTypeNames(), ", "), didYouMean(tname, columnTypeNames()))))
				continue
			}
			c.Type = t
			c.Declared = true
		}
		for i := range spec.Table.Columns {
			spec.Table.Columns[i].Type = byName[spec.Table.Columns[i].Name].Type
		}
	}

	// Key.
	krng := attrRange(attrs, "key", sc.DefRange)
	seen := map[string]bool{}
	for _, k := range sc.Key {
		if !isDeclared[k] {
			diags = append(diags, errorAt(krng, "Unknown key column",
				fmt.Sprintf("Key column %q is not in the map block.%s", k, didYouMean(k, names))))
		}
		if seen[k] {
			diags = append(diags, errorAt(krng, "Duplicate key column", fmt.Sprintf("%q is listed twice in key.", k)))
		}
		seen[k] = true
	}
	spec.Table.Key = sc.Key
	spec.Table.VerifyUnchanged = sc.Verify != nil && *sc.Verify
	diags = append(diags, buildDeletes(sc, attrs, &spec.Table)...)
	if spec.Table.Mode == ModeUpsert && len(sc.Key) == 0 {
		diags = append(diags, errorAt(sc.DefRange, "Missing key",
			`mode = "upsert" needs the key columns that identify a row, e.g. key = ["id"]; or use mode = "append".`))
	}
	return spec, diags
}

var columnTypeAliases = map[string]ColumnType{
	"text": TypeText, "string": TypeText,
	"integer": TypeInteger, "int": TypeInteger, "bigint": TypeInteger,
	"float": TypeFloat, "double": TypeFloat,
	"boolean": TypeBoolean, "bool": TypeBoolean,
	"timestamp": TypeTimestamp, "timestamptz": TypeTimestamp,
	"date":    TypeDate,
	"decimal": TypeDecimal, "numeric": TypeDecimal,
	"json": TypeJSON, "jsonb": TypeJSON,
}

// ParseColumnType reads a column type name as written in a columns block.
func ParseColumnType(s string) (ColumnType, bool) {
	t, ok := columnTypeAliases[strings.ToLower(s)]
	return t, ok
}

func columnTypeNames() []string {
	return []string{"text", "integer", "float", "boolean", "timestamp", "date", "decimal", "json"}
}

// didYouMean suggests the closest candidate, as " Did you mean "x"?", or "".
func didYouMean(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	r := rng
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: &r}
}

func attrRange(attrs hcl.Attributes, name string, fallback hcl.Range) hcl.Range {
	if a, ok := attrs[name]; ok {
		return a.Expr.Range()
	}
	return fallback
}

// sortedAttrs returns attributes in the order they appear in the file.
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out
}

// exprSourceStart is where the text of a quoted or heredoc expression string
// starts, so an expr error at (line, column) of that text maps to the file.
func exprSourceStart(e hcl.Expression) hcl.Pos {
	if t, ok := e.(*hclsyntax.TemplateExpr); ok && len(t.Parts) > 0 {
		return t.Parts[0].Range().Start
	}
	return e.Range().Start
}
