package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/etl-dev/etl/engine"
)

// errWouldBlock is returned by lockFile when another open file holds the lock.
var errWouldBlock = errors.New("lock held")

// Lock takes the pipeline's run lock: an exclusive, non-blocking OS file lock
// (flock on Unix, LockFileEx on Windows) on <db>.locks/<pipeline>.lock. The
// operating system releases it when the process ends, however it ends. A lock
// is held per open file, so a second Warehouse (or a second Lock call) in the
// same process conflicts too and gets engine.ErrLocked. The lock files stay
// behind, empty: removing one while another process is about to lock it would
// let two runs in.
func (w *Warehouse) Lock(ctx context.Context, pipeline string) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sink sqlite: lock %s: %w", pipeline, err)
	}
	dir := w.file + ".locks"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sink sqlite: lock %s: %w", pipeline, err)
	}
	path := filepath.Join(dir, lockFileName(pipeline))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: lock %s: %w", pipeline, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("sink sqlite: lock %s (%s): %w", pipeline, path, engine.ErrLocked)
		}
		return nil, fmt.Errorf("sink sqlite: lock %s (%s): %w", pipeline, path, err)
	}
	w.mu.Lock()
	w.locks[f] = struct{}{}
	w.mu.Unlock()

	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			w.mu.Lock()
			_, held := w.locks[f]
			delete(w.locks, f)
			w.mu.Unlock()
			if !held { // Close released it already
				return
			}
			if err := errors.Join(unlockFile(f), f.Close()); err != nil {
				uerr = fmt.Errorf("sink sqlite: unlock %s: %w", pipeline, err)
			}
		})
		return uerr
	}, nil
}

// lockFileName maps a pipeline name to a safe file name: the name itself when
// it is made of letters, digits, '.', '-' and '_' (and short), else a
// sanitized prefix and a hash of the name, so different names never share a
// lock.
func lockFileName(pipeline string) string {
	safe := pipeline != "" && len(pipeline) <= 100 && pipeline[0] != '.'
	b := make([]byte, 0, len(pipeline))
	for i := 0; i < len(pipeline) && len(b) < 64; i++ {
		c := pipeline[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' && i > 0 {
			b = append(b, c)
		} else {
			b = append(b, '_')
			safe = false
		}
	}
	if safe {
		return pipeline + ".lock"
	}
	sum := sha256.Sum256([]byte(pipeline))
	return string(b) + "-" + hex.EncodeToString(sum[:6]) + ".lock"
}

// initLockName is the file of the creation lock, in the run locks' folder; a
// pipeline's lock file never starts with a dot (see lockFileName).
const initLockName = ".init.lock"

// initLockMaxWait bounds the wait for another process's creation or
// migration, which takes milliseconds (a migration waits at most
// busyTimeoutMS for a running load's write lock).
const initLockMaxWait = 2 * time.Minute

// waitingForInit, when set (by tests), is called as lockInit starts to wait.
var waitingForInit func()

// lockInit serializes the creation of the database file and its migration
// between processes (and Warehouses), waiting its turn: SQLite answers
// SQLITE_BUSY at once, without waiting out busy_timeout, to a connection
// that switches a new file to WAL while another does the same, so two runs
// started together on a new file could fail. It returns the release. Where
// the system has no file locks, it does not wait and relies on busy_timeout.
func lockInit(ctx context.Context, file string) (func(), error) {
	dir := file + ".locks"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creation lock: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, initLockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creation lock: %w", err)
	}
	deadline := time.Now().Add(initLockMaxWait)
	wait := time.Millisecond
	for {
		err := lockFile(f)
		if err == nil {
			return func() { unlockFile(f); f.Close() }, nil
		}
		if !errors.Is(err, errWouldBlock) {
			f.Close()
			return func() {}, nil // no file locks here
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, fmt.Errorf("creation lock: another process has been creating or migrating the database for %s (%s)", initLockMaxWait, f.Name())
		}
		if waitingForInit != nil && wait == time.Millisecond {
			waitingForInit()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("creation lock: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
