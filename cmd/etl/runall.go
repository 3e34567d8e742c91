package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/etl-dev/etl/engine"
)

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// cmdRunAll is `etl run DIR` and `etl run --all`: every pipeline of a
// folder, without a server, each after the pipelines it depends_on, up to
// jobs at a time, for users who keep cron. Each run prints its summary
// line; a pipeline whose dependency failed is not run and counts as
// failed. Disabled pipelines are skipped. The exit code is 0 when every run
// succeeded, 3 when some were partial and none failed, 1 when any failed.
func cmdRunAll(ctx context.Context, reg *engine.Registry, paths []string, jobs int, opts engine.RunOptions, logLevel, logFormat string, stdout, stderr io.Writer) int {
	if jobs < 1 || jobs > 64 {
		fmt.Fprintln(stderr, "etl run: -j must be between 1 and 64")
		return exitUsage
	}
	if len(paths) > 1 {
		fmt.Fprintln(stderr, "etl run: give one folder, or --all for pipelines/")
		return exitUsage
	}
	if opts.Limit > 0 || opts.Since != "" {
		fmt.Fprintln(stderr, "etl run: --limit and --since apply to one pipeline; run that pipeline's file")
		return exitUsage
	}
	ps, diags, files, err := loadDir(reg, paths, !opts.DryRun)
	if err != nil {
		fmt.Fprintf(stderr, "etl run: %v\n", err)
		return exitUsage
	}
	writeDiagnostics(stderr, diags, files)
	if diags.HasErrors() {
		fmt.Fprintln(stderr, "etl run: the folder has invalid pipelines; nothing was run")
		return exitFailed
	}

	type outcome struct {
		status engine.Status
		done   chan struct{}
	}
	outs := map[string]*outcome{}
	for _, p := range ps {
		outs[p.Name] = &outcome{done: make(chan struct{})}
	}
	var mu sync.Mutex // one summary line at a time
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for _, p := range ps { // in depends_on order, so a run never waits on one not started
		o := outs[p.Name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(o.done)
			o.status = engine.StatusFailed
			for _, d := range p.Serve.DependsOn {
				<-outs[d].done
				if outs[d].status == engine.StatusFailed {
					mu.Lock()
					fmt.Fprintf(stdout, "failed: %s: not run: it depends on %s, which failed\n", p.Name, d)
					mu.Unlock()
					return
				}
			}
			if !p.Serve.Enabled {
				o.status = engine.StatusSuccess
				mu.Lock()
				fmt.Fprintf(stdout, "skipped: %s: disabled (enabled = false)\n", p.Name)
				mu.Unlock()
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			popts := opts
			log, _ := newLogger(stderr, logLevel, logFormat)
			popts.Logger = log.With("pipeline", p.Name)
			res, err := p.Run(ctx, reg, popts)
			o.status = res.Status
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintln(stdout, summary(res, opts.DryRun))
			if err != nil {
				fmt.Fprintf(stderr, "etl run: %s failed: %v\n", p.Name, err)
			}
		}()
	}
	wg.Wait()
	code := exitOK
	for _, o := range outs {
		switch o.status {
		case engine.StatusFailed:
			return exitFailed
		case engine.StatusPartial:
			code = exitPartial
		}
	}
	return code
}
