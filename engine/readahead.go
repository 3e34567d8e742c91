package engine

import "context"

// ReadAhead runs fetch in a goroutine of its own, one page ahead of emit:
// fetch hands each page of records to put, which waits while the page
// before is still being emitted, so a source fetches the next page while
// the engine maps and loads the last. When emit fails, fetch's context is
// cancelled and emit's error is returned as emitErr; otherwise fetchErr is
// what fetch returned.
func ReadAhead(ctx context.Context, fetch func(ctx context.Context, put func([]Record) error) error, emit func(Record) error) (emitErr, fetchErr error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan []Record, 1)
	done := make(chan error, 1)
	go func() {
		defer close(pages)
		done <- fetch(ctx, func(p []Record) error {
			select {
			case pages <- p:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for p := range pages {
		if emitErr != nil {
			continue // drain, so fetch can end
		}
		for i := range p {
			if err := emit(p[i]); err != nil {
				emitErr = err
				cancel()
				break
			}
		}
	}
	return emitErr, <-done
}
