package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/service"
)

// loadDir loads every pipeline file under paths (default pipelines/) and
// checks them together: names unique, depends_on known and acyclic. The
// pipelines come back in depends_on order; nil when any has an error.
func loadDir(reg *engine.Registry, paths []string, strict bool) ([]*engine.Pipeline, hcl.Diagnostics, map[string]*hcl.File, error) {
	if len(paths) == 0 {
		paths = []string{"pipelines"}
	}
	files, err := pipelineFiles(paths)
	if err != nil {
		return nil, nil, nil, err
	}
	loader := engine.NewLoader(reg)
	loader.Strict = strict
	loader.Definitions = true // connections/*.hcl: used by the pipelines, not run (p is nil)
	var all hcl.Diagnostics
	var ps []*engine.Pipeline
	seen := map[string]string{}
	for _, f := range files {
		if engine.IsDefinitions(f) {
			continue // connections and variables: the pipelines beside them load them
		}
		p, diags := loader.Load(f)
		all = append(all, diags...)
		if p == nil {
			continue
		}
		if other, ok := seen[p.Name]; ok {
			all = append(all, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate pipeline name",
				Detail: fmt.Sprintf("Pipeline %q is also declared in %s; a name identifies a pipeline's lock, cursor and history, so it must be unique.", p.Name, other)})
			continue
		}
		seen[p.Name] = f
		ps = append(ps, p)
	}
	if all.HasErrors() {
		return nil, all, loader.Files(), nil
	}
	ordered, diags := engine.CheckDependencies(ps)
	all = append(all, diags...)
	if all.HasErrors() {
		return nil, all, loader.Files(), nil
	}
	return ordered, all, loader.Files(), nil
}

// warehouseURL is --warehouse, else ETL_WAREHOUSE_URL, else etl.db here.
func warehouseURL(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if u := os.Getenv("ETL_WAREHOUSE_URL"); u != "" {
		return u
	}
	return engine.DefaultWarehouseURL
}

func cmdServe(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "HTTP address (beyond loopback it needs --auth-…)")
	workers := fs.Int("workers", 4, "pipeline runs this process works at once")
	whURL := fs.String("warehouse", "", "warehouse URL: the queue, the history and every pipeline's data (default: ETL_WAREHOUSE_URL, else etl.db here)")
	rescue := fs.Duration("rescue-after", 0, "a job running this long is presumed dead and run again (default: the longest pipeline timeout + 1m)")
	grace := fs.Duration("grace", 30*time.Second, "on SIGTERM, how long running pipelines may take to land their current batch")
	tokenEnv := fs.String("auth-token-env", "", "require `VAR`'s value as a bearer token")
	tokenFile := fs.String("auth-token-file", "", "require this `file`'s content as a bearer token")
	basicEnv := fs.String("basic-auth-env", "", "require basic auth user:password from `VAR`")
	basicFile := fs.String("basic-auth-file", "", "require basic auth user:password from this `file`")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	paths, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if *workers < 1 || *workers > 1000 {
		fmt.Fprintln(stderr, "etl serve: --workers must be between 1 and 1000")
		return exitUsage
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "etl serve: %v\n", err)
		return exitUsage
	}
	auth, err := readAuth(*tokenEnv, *tokenFile, *basicEnv, *basicFile)
	if err != nil {
		fmt.Fprintf(stderr, "etl serve: %v\n", err)
		return exitUsage
	}
	if err := service.CheckListen(*listen, auth); err != nil {
		fmt.Fprintf(stderr, "etl serve: %v\n", err)
		return exitUsage
	}
	ps, diags, files, err := loadDir(reg, paths, true)
	if err != nil {
		fmt.Fprintf(stderr, "etl serve: %v\n", err)
		return exitUsage
	}
	writeDiagnostics(stderr, diags, files)
	if diags.HasErrors() {
		errs, _ := count(diags)
		fmt.Fprintf(stderr, "etl serve: %s; not starting\n", plural(errs, "error", "errors"))
		return exitFailed
	}
	u := warehouseURL(*whURL)
	for _, p := range ps {
		if p.Sink.URL != "" && p.Sink.URL != u {
			log.Warn("the pipeline's sink url is ignored: etl serve lands every pipeline in its warehouse", "pipeline", p.Name)
		}
	}
	srv, err := service.New(ctx, service.Config{
		Registry: reg, Pipelines: ps, WarehouseURL: u, Workers: *workers, Listen: *listen, Auth: auth,
		RescueAfter: *rescue, Grace: *grace, Logger: log,
		OnListen: func(addr string) {
			fmt.Fprintf(stdout, "etl serve: %d pipelines, listening on http://%s\n", len(ps), addr)
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "etl serve: %v\n", err)
		return exitFailed
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "etl serve: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// readAuth reads the HTTP credentials from the environment or files; never
// from the command line, where ps would show them.
func readAuth(tokenEnv, tokenFile, basicEnv, basicFile string) (service.Auth, error) {
	var a service.Auth
	read := func(env, file, what string) (string, error) {
		switch {
		case env != "" && file != "":
			return "", fmt.Errorf("give the %s from an environment variable or a file, not both", what)
		case env != "":
			v, ok := os.LookupEnv(env)
			if !ok || strings.TrimSpace(v) == "" {
				return "", fmt.Errorf("the %s variable %s is not set", what, env)
			}
			return strings.TrimSpace(v), nil
		case file != "":
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("read the %s: %w", what, err)
			}
			if strings.TrimSpace(string(b)) == "" {
				return "", fmt.Errorf("the %s file %s is empty", what, file)
			}
			return strings.TrimSpace(string(b)), nil
		}
		return "", nil
	}
	tok, err := read(tokenEnv, tokenFile, "bearer token")
	if err != nil {
		return a, err
	}
	if tok != "" && len(tok) < 16 {
		return a, fmt.Errorf("the bearer token is %d characters; use at least 16", len(tok))
	}
	a.Token = tok
	basic, err := read(basicEnv, basicFile, "basic auth credentials")
	if err != nil {
		return a, err
	}
	if basic != "" {
		u, p, ok := strings.Cut(basic, ":")
		if !ok || u == "" || len(p) < 12 {
			return a, fmt.Errorf("basic auth credentials must be user:password with a password of at least 12 characters")
		}
		a.User, a.Password = u, p
	}
	return a, nil
}

func cmdTrigger(ctx context.Context, reg *engine.Registry, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("trigger", stderr)
	dir := fs.String("dir", "pipelines", "the folder of pipelines the servers serve")
	whURL := fs.String("warehouse", "", "warehouse URL (default: ETL_WAREHOUSE_URL, else etl.db here)")
	names, err := parseArgs(fs, args)
	if err != nil {
		if isUsage(err) {
			return exitUsage
		}
		return exitOK
	}
	if len(names) != 1 {
		fmt.Fprintln(stderr, "etl trigger: give one pipeline name, e.g. etl trigger salespro_users")
		return exitUsage
	}
	ps, diags, files, err := loadDir(reg, []string{*dir}, false)
	if err != nil {
		fmt.Fprintf(stderr, "etl trigger: %v\n", err)
		return exitUsage
	}
	if diags.HasErrors() {
		writeDiagnostics(stderr, diags, files)
		return exitFailed
	}
	var p *engine.Pipeline
	var known []string
	for _, q := range ps {
		known = append(known, q.Name)
		if q.Name == names[0] {
			p = q
		}
	}
	if p == nil {
		fmt.Fprintf(stderr, "etl trigger: no pipeline named %q in %s (there are: %s)\n", names[0], *dir, strings.Join(known, ", "))
		return exitFailed
	}
	id, dup, err := service.TriggerJob(ctx, warehouseURL(*whURL), p)
	if err != nil {
		fmt.Fprintf(stderr, "etl trigger: %v\n", err)
		return exitFailed
	}
	if dup {
		fmt.Fprintf(stdout, "%s: a run is already queued or running (job %d)\n", p.Name, id)
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: queued (job %d); an etl serve on this warehouse will run it\n", p.Name, id)
	return exitOK
}
