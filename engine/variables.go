package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Variables let the same pipelines run against a sandbox and production
// without edits, as Terraform users know them:
//
//	variable "hubspot_url" { default = "https://api.hubapi.com" }   # beside the pipelines
//	hubspot_url = "https://sandbox.example.com"                      # envs/sandbox.hcl
//	base_url = var.hubspot_url                                       # in a pipeline or connection
//
// A variable's value is, by precedence: the last --var-file that sets it
// (Loader.VarFiles), else the active environment's file envs/NAME.hcl
// beside the pipelines (Loader.Environment, from ETL_ENV), else its
// default. A variable with neither is an error, and so is a name a
// variables file sets that no variable block declares.

// EnvironmentName is how an environment is shown when none was chosen.
const EnvironmentName = "default"

// environment returns the active environment's name and its variable
// files.
func (l *Loader) environment(dir string) (string, []string) {
	if len(l.VarFiles) > 0 {
		env := l.Environment
		if env == "" {
			last := l.VarFiles[len(l.VarFiles)-1]
			env = strings.TrimSuffix(filepath.Base(last), filepath.Ext(last))
		}
		return env, l.VarFiles
	}
	if l.Environment == "" {
		return "", nil
	}
	return l.Environment, []string{filepath.Join(dir, "envs", l.Environment+".hcl")}
}

// setVariables evaluates the variables visible from dir and adds them to
// ctx as var.NAME. It returns the active environment's name.
func (l *Loader) setVariables(ctx *hcl.EvalContext, defs *definitions, dir string) (string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	env, files := l.environment(dir)
	if env != "" && !identRE.MatchString(strings.ReplaceAll(env, "-", "_")) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid environment name",
			Detail: fmt.Sprintf("Environment %q: use letters, digits, '-' and '_' (ETL_ENV=sandbox picks envs/sandbox.hcl).", env)})
		return env, diags
	}
	values := map[string]cty.Value{}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			if len(defs.variables) == 0 && len(l.VarFiles) == 0 {
				continue // nothing here uses variables: the environment is only a label
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read variables file",
				Detail: fmt.Sprintf("Environment %q: %v. Create it with one NAME = value line per variable, or choose another environment (ETL_ENV, --var-file).", env, err)})
			continue
		}
		f, pdiags := l.parser.ParseHCL(src, path)
		diags = append(diags, pdiags...)
		if pdiags.HasErrors() {
			continue
		}
		attrs, adiags := f.Body.JustAttributes()
		diags = append(diags, adiags...)
		for _, a := range sortedAttrs(attrs) {
			if _, ok := defs.variables[a.Name]; !ok {
				diags = append(diags, errorAt(a.NameRange, "Undeclared variable",
					fmt.Sprintf("No variable block declares %q beside the pipelines.%s Declare it: variable %q { default = … }.", a.Name, didYouMean(a.Name, sortedKeys(defs.variables)), a.Name)))
				continue
			}
			v, d := a.Expr.Value(ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				values[a.Name] = v
			}
		}
	}
	for _, name := range sortedKeys(defs.variables) {
		if _, ok := values[name]; ok {
			continue
		}
		vc := defs.variables[name]
		var v cty.Value
		if vc.Default != nil {
			var d hcl.Diagnostics
			v, d = vc.Default.Value(ctx)
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
		}
		if v == cty.NilVal || v.IsNull() {
			where := "no environment is chosen"
			if env != "" {
				where = fmt.Sprintf("environment %q does not set it", env)
			}
			diags = append(diags, errorAt(vc.DefRange, "No value for variable",
				fmt.Sprintf("Variable %q has no default and %s; give it a default, or set it in envs/NAME.hcl (ETL_ENV=NAME) or a --var-file.", name, where)))
			continue
		}
		values[name] = v
	}
	if len(defs.variables) > 0 { // else var.x is "Variables not allowed", as any bare name
		ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(values)}
	}
	return env, diags
}
