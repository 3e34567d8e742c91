package engine

import (
	"log/slog"
	"runtime"
	"sync"
)

// minChunk is the fewest records a transform worker is given: below it,
// a batch is mapped on one goroutine, the cost of starting others being
// more than what they save.
const minChunk = 256

// maxTransformWorkers bounds the goroutines that map one batch.
const maxTransformWorkers = 8

// transformWorkers is how many goroutines map a batch: one per CPU the Go
// scheduler may use, up to maxTransformWorkers.
func transformWorkers() int {
	return min(runtime.GOMAXPROCS(0), maxTransformWorkers)
}

// transformPool maps the records of a batch on several goroutines, each
// with a transformer of its own (a VM and an environment are not safe for
// concurrent use; compiled programs and the function library are). Each
// worker takes a contiguous run of the batch, so the results keep the
// records' order, and all that depends on order (the cursor's maximum, the
// tally, warning logs) is left to the caller, over the results in order.
type transformPool struct {
	trs   []*transformer
	ncols int
}

func newTransformPool(p *Pipeline, since any, workers int) *transformPool {
	pool := &transformPool{trs: make([]*transformer, max(workers, 1)), ncols: len(p.Columns)}
	for i := range pool.trs {
		pool.trs[i] = newTransformer(p, since)
	}
	return pool
}

// setUntil makes records whose cursor is after until skipped (nil: none).
func (pool *transformPool) setUntil(until any) {
	for _, tr := range pool.trs {
		tr.until = until
	}
}

// apply maps and checks records into vals (len(records) × the pipeline's
// columns, row i at vals[i*n:(i+1)*n]) and returns each record's result.
// An abort check that fails is returned as the error, the first in record
// order, as a single goroutine would have met it; the batch is then
// dropped, as it is when mapped on one goroutine.
func (pool *transformPool) apply(records []Record, vals []any) ([]recordResult, error) {
	results := make([]recordResult, len(records))
	ncols := pool.ncols
	workers := min(len(pool.trs), len(records)/minChunk)
	if workers <= 1 {
		return results, applyRange(pool.trs[0], records, vals, results, ncols, 0, len(records))
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (len(records) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(records))
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = applyRange(pool.trs[w], records, vals, results, ncols, lo, hi)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

// applyRange maps records[lo:hi] with tr, stopping at an abort.
func applyRange(tr *transformer, records []Record, vals []any, results []recordResult, ncols, lo, hi int) error {
	for i := lo; i < hi; i++ {
		r, err := tr.apply(&records[i], vals[i*ncols:(i+1)*ncols:(i+1)*ncols])
		if err != nil {
			return err
		}
		results[i] = r
	}
	return nil
}

// absent returns the record fields the map reads that no record mapped by
// the pool had, and logs a warning for each (see absent.go). None when no
// record was mapped.
func (pool *transformPool) absent(log *slog.Logger) []string {
	ps := make([]*presence, 0, len(pool.trs))
	observed := false
	for _, tr := range pool.trs {
		ps = append(ps, tr.present)
		observed = observed || tr.present.observed
	}
	if !observed {
		return nil
	}
	out := absentPaths(ps)
	for _, f := range out {
		log.Warn("field absent from every record: its columns are NULL throughout", "field", f)
	}
	return out
}
