package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/migrations"
)

// TestFirstOpenAndMigrateConcurrently starts several runs' worth of Open and
// Migrate at the same moment on a new file, round after round: every one
// succeeds. Without the creation lock about one round in a hundred failed
// with SQLITE_BUSY while switching the new file to WAL, whatever
// busy_timeout said. ETL_SQLITE_FIRST_OPEN_ROUNDS runs a longer campaign.
func TestFirstOpenAndMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	rounds := 10
	if s := os.Getenv("ETL_SQLITE_FIRST_OPEN_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		rounds = n
	}
	ms, err := migrations.For(migrations.SQLite)
	require.NoError(t, err)
	failed := 0
	for round := 0; round < rounds; round++ {
		path := filepath.Join(t.TempDir(), "etl.db")
		start := make(chan struct{})
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				<-start
				w, err := open(ctx, "sqlite://"+filepath.ToSlash(path))
				if err != nil {
					errs[i] = err
					return
				}
				defer w.Close()
				errs[i] = w.Migrate(ctx)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if !assert.NoError(t, err, "round %d, opener %d", round, i) {
				failed++
			}
		}
		w := openAt(t, path)
		assert.Equal(t, fmt.Sprint(len(ms)), queryString(t, w, `SELECT count(*) FROM etl_schema_migrations`), "each migration applied once")
	}
	t.Logf("%d rounds of 8 openers: %d failed", rounds, failed)
}

// TestOpenWaitsForTheCreationLock: while another process creates or
// migrates the database, Open waits its turn (here until its context ends).
func TestOpenWaitsForTheCreationLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etl.db")
	unlock, err := lockInit(context.Background(), path)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = open(ctx, "sqlite://"+filepath.ToSlash(path))
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "creation lock")
	assert.NoFileExists(t, path, "nothing was created while another held the lock")

	unlock()

	w := openAt(t, path)
	unlock, err = lockInit(context.Background(), path)
	require.NoError(t, err)
	err = w.Migrate(ctx)
	require.ErrorIs(t, err, context.Canceled, "Migrate waits its turn too")
	unlock()
	require.NoError(t, w.Migrate(context.Background()))
}

// TestOpenDuringAnotherCreationWaits: while another process creates the
// file (here: holds the creation lock inside its first write transaction,
// before the file is in WAL mode), a second Open must wait for it, not fail.
// SQLite itself answers SQLITE_BUSY at once there, whatever busy_timeout
// says, so without the creation lock this Open failed every time.
func TestOpenDuringAnotherCreationWaits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "etl.db")
	unlock, err := lockInit(ctx, path)
	require.NoError(t, err)
	first, err := sql.Open("sqlite", dsn(path, "busy_timeout(10000)"))
	require.NoError(t, err)
	defer first.Close()
	tx, err := first.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `CREATE TABLE being_created (a INTEGER)`)
	require.NoError(t, err)

	waiting := make(chan struct{})
	waitingForInit = func() { close(waiting) }
	defer func() { waitingForInit = nil }()
	opened := make(chan error, 1)
	go func() {
		w, err := open(ctx, "sqlite://"+filepath.ToSlash(path))
		if err == nil {
			err = w.Migrate(ctx)
			w.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		require.NoError(t, err, "Open did not wait for the creation under way")
	case <-waiting:
	}
	require.NoError(t, tx.Commit())
	unlock()
	require.NoError(t, <-opened, "Open waited, then opened")
}
