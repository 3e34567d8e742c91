package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func rec(i int) Record { return Record{Pos: Position{Line: i}} }

func lines(b sourceBatch) []int {
	out := make([]int, len(b.records))
	for i, r := range b.records {
		out[i] = r.Pos.Line
	}
	return out
}

func TestBatcherSendsFullBatchesAtOnce(t *testing.T) {
	out := make(chan sourceBatch, 10)
	b := newBatcher(context.Background(), out, 3, time.Hour)
	defer b.stop()
	for i := 1; i <= 7; i++ {
		require.NoError(t, b.add(rec(i)))
	}
	require.Len(t, out, 2)
	assert.Equal(t, []int{1, 2, 3}, lines(<-out))
	assert.Equal(t, []int{4, 5, 6}, lines(<-out))
	require.NoError(t, b.flush())
	assert.Equal(t, []int{7}, lines(<-out), "flush sends the rest")
	require.NoError(t, b.flush())
	assert.Empty(t, out, "an empty flush sends nothing")
}

func TestBatcherSendsABatchWhoseFirstRecordWaitedTooLong(t *testing.T) {
	out := make(chan sourceBatch, 10)
	b := newBatcher(context.Background(), out, 1000, 50*time.Millisecond)
	defer b.stop()
	start := time.Now()
	require.NoError(t, b.add(rec(1)))
	require.NoError(t, b.add(rec(2)))
	select {
	case got := <-out:
		assert.Equal(t, []int{1, 2}, lines(got))
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "not before the wait")
	case <-time.After(5 * time.Second):
		t.Fatal("a batch of a slow source was never sent")
	}
	// The next batch's wait starts with its own first record.
	require.NoError(t, b.add(rec(3)))
	assert.Equal(t, []int{3}, lines(<-out))
}

// TestBatcherKeepsOrder adds records while the timer flushes partial
// batches: every record comes out once, in order (go test -race checks the
// locking).
func TestBatcherKeepsOrder(t *testing.T) {
	out := make(chan sourceBatch) // unbuffered: sends wait for the reader below
	b := newBatcher(context.Background(), out, 7, time.Millisecond)
	const n = 20000
	got := make(chan []int)
	marked := make(chan struct{}, 1) // a batch holding a multiple of 500 came out
	partial := 0
	go func() {
		var all []int
		for batch := range out {
			if len(batch.records) < 7 {
				partial++
			}
			l := lines(batch)
			all = append(all, l...)
			if slices.ContainsFunc(l, func(n int) bool { return n%500 == 0 }) {
				marked <- struct{}{}
			}
		}
		got <- all
	}()
	for i := 1; i <= n; i++ {
		require.NoError(t, b.add(rec(i)))
		if i%500 == 0 {
			// Wait for record i to come out: unless it filled its batch,
			// only the timer can flush it, as a partial batch.
			select {
			case <-marked:
			case <-time.After(10 * time.Second):
				t.Fatalf("record %d was never flushed", i)
			}
		}
	}
	require.NoError(t, b.flush())
	b.stop()
	close(out)
	all := <-got
	require.Len(t, all, n)
	require.Greater(t, partial, 1, "the timer flushed no partial batch: the test did not test the race")
	for i, line := range all {
		require.Equal(t, i+1, line, "record %d came out of order", i+1)
	}
}

func TestBatcherStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan sourceBatch) // nobody reads
	b := newBatcher(ctx, out, 2, time.Hour)
	defer b.stop()
	require.NoError(t, b.add(rec(1)))
	errc := make(chan error, 1)
	go func() { errc <- b.add(rec(2)) }() // full: blocks on the send
	cancel()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("a send blocked past its context")
	}
}
