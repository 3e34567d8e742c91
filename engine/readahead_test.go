package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

func pageOf(n, from int) []engine.Record {
	p := make([]engine.Record, n)
	for i := range p {
		p[i] = engine.Record{Pos: engine.Position{Key: fmt.Sprint(from + i)}}
	}
	return p
}

func TestReadAheadFetchesTheNextPageWhileEmitting(t *testing.T) {
	fetched := make(chan int, 10)
	var keys []string
	emitErr, fetchErr := engine.ReadAhead(context.Background(), func(ctx context.Context, put func([]engine.Record) error) error {
		for page := 0; page < 3; page++ {
			fetched <- page
			if err := put(pageOf(2, page*2)); err != nil {
				return err
			}
		}
		return nil
	}, func(r engine.Record) error {
		if r.Pos.Key == "0" {
			// While the first page is being emitted, the second is fetched.
			select {
			case <-time.After(2 * time.Second):
				t.Error("page 2 was not fetched while page 1 was emitted")
			case <-waitFor(fetched, 1):
			}
		}
		keys = append(keys, r.Pos.Key)
		return nil
	})
	require.NoError(t, emitErr)
	require.NoError(t, fetchErr)
	assert.Equal(t, []string{"0", "1", "2", "3", "4", "5"}, keys)
}

// waitFor closes the returned channel once page n has been fetched.
func waitFor(fetched chan int, n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for p := range fetched {
			if p == n {
				close(done)
				return
			}
		}
	}()
	return done
}

func TestReadAheadStopsFetchingWhenEmitFails(t *testing.T) {
	stop := errors.New("limit reached")
	pages := 0
	emitErr, fetchErr := engine.ReadAhead(context.Background(), func(ctx context.Context, put func([]engine.Record) error) error {
		for {
			pages++
			if err := put(pageOf(5, 0)); err != nil {
				return err
			}
		}
	}, func(engine.Record) error { return stop })
	assert.ErrorIs(t, emitErr, stop)
	assert.ErrorIs(t, fetchErr, context.Canceled, "the endless fetch was cancelled")
	assert.LessOrEqual(t, pages, 3)

	boom := errors.New("page 2: 503")
	emitErr, fetchErr = engine.ReadAhead(context.Background(), func(ctx context.Context, put func([]engine.Record) error) error {
		if err := put(pageOf(1, 0)); err != nil {
			return err
		}
		return boom
	}, func(engine.Record) error { return nil })
	assert.NoError(t, emitErr)
	assert.ErrorIs(t, fetchErr, boom)
}
