package engine

import (
	"context"
	"sync"
	"time"
)

// maxBatchWait is how long a batch's first record waits for the batch to
// fill: a slow source (an API paging a hundred records at a time under a
// rate limit) sees its records land every few seconds rather than every
// batch_size records, and a crash re-reads at most that much.
const maxBatchWait = 5 * time.Second

// batcher groups a source's records into batches of size records, sending
// each to out when it is full or, from a timer, when its first record has
// waited maxBatchWait. Batches go out in the order their records came.
type batcher struct {
	out  chan<- sourceBatch
	size int
	ctx  context.Context
	wait time.Duration

	send sync.Mutex // held while a batch is taken and sent: batches keep their order
	mu   sync.Mutex // guards cur and first
	cur  []Record
	// first is when cur's first record came.
	first time.Time
	done  chan struct{}
	timer sync.WaitGroup
}

func newBatcher(ctx context.Context, out chan<- sourceBatch, size int, wait time.Duration) *batcher {
	b := &batcher{out: out, size: size, ctx: ctx, wait: wait, done: make(chan struct{})}
	b.timer.Add(1)
	go b.tick()
	return b
}

// add appends r, sending the batch when it is full.
func (b *batcher) add(r Record) error {
	b.mu.Lock()
	if b.cur == nil {
		b.cur = make([]Record, 0, b.size)
		b.first = time.Now()
	}
	b.cur = append(b.cur, r)
	full := len(b.cur) >= b.size
	b.mu.Unlock()
	if full {
		return b.flush()
	}
	return nil
}

// flush sends the records gathered so far, if any.
func (b *batcher) flush() error {
	b.send.Lock()
	defer b.send.Unlock()
	b.mu.Lock()
	batch := b.cur
	b.cur = nil
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	select {
	case b.out <- sourceBatch{records: batch}:
		return nil
	case <-b.ctx.Done():
		return b.ctx.Err()
	}
}

// tick flushes a batch whose first record has waited too long, until stop.
func (b *batcher) tick() {
	defer b.timer.Done()
	t := time.NewTicker(b.wait / 10)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-b.ctx.Done():
			return
		case <-t.C:
			b.mu.Lock()
			late := b.cur != nil && time.Since(b.first) >= b.wait
			b.mu.Unlock()
			if late {
				_ = b.flush() // an error is the context's: the reader sees it too
			}
		}
	}
}

// stop ends the timer; it returns once the timer sends nothing more.
func (b *batcher) stop() {
	close(b.done)
	b.timer.Wait()
}
