package main

import (
	"flag"
	"strings"

	"github.com/etl-dev/etl/engine"
)

// varFiles is a repeatable --var-file flag.
type varFiles []string

func (v *varFiles) String() string     { return strings.Join(*v, ",") }
func (v *varFiles) Set(s string) error { *v = append(*v, s); return nil }

// envFlags adds --env and --var-file to fs; the function it returns applies
// them to a loader. Without them the loader's environment is ETL_ENV, whose
// values are in envs/NAME.hcl beside the pipelines (engine/variables.go).
func envFlags(fs *flag.FlagSet) func(*engine.Loader) {
	env := fs.String("env", "", "environment `name`: variable values from envs/NAME.hcl beside the pipelines (default $ETL_ENV)")
	var files varFiles
	fs.Var(&files, "var-file", "variable values from this `file` (repeatable; later files win); the environment is named after it")
	return func(l *engine.Loader) {
		if *env != "" {
			l.Environment = *env
		}
		l.VarFiles = files
	}
}

// environmentName is how a pipeline's environment is shown.
func environmentName(p *engine.Pipeline) string {
	if p.Environment == "" {
		return engine.EnvironmentName
	}
	return p.Environment
}
