package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/syncbuf"
)

// onCluster opens a migrated warehouse in a fresh schema of cluster c,
// retrying for retry, logging to the returned buffer.
func onCluster(t *testing.T, c *pgtest.Cluster, retry time.Duration) (*Warehouse, *syncbuf.Buffer) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL())
	require.NoError(t, err)
	schema := fmt.Sprint("s_", time.Now().UnixNano())
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	w := openURL(t, c.URL()+"&search_path="+schema)
	require.NoError(t, w.Migrate(ctx))
	logs := &syncbuf.Buffer{}
	w.RetryFor(retry, slog.New(slog.NewTextHandler(logs, nil)))
	return w, logs
}

// startRun takes the pipeline's lock, records a run and prepares tb for it.
func startRun(t *testing.T, w *Warehouse, pipeline string, tb engine.Table) engine.Table {
	t.Helper()
	ctx := context.Background()
	unlock, err := w.Lock(ctx, pipeline)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unlock() })
	tb.RunID, err = w.StartRun(ctx, engine.Run{Pipeline: pipeline, Status: engine.StatusRunning})
	require.NoError(t, err)
	require.NoError(t, w.Prepare(ctx, tb))
	return tb
}

func batchOf(pipeline string, tb engine.Table, ids ...int64) engine.Batch {
	b := engine.Batch{RunID: tb.RunID, Pipeline: pipeline}
	for _, id := range ids {
		b.Rows = append(b.Rows, []any{id, fmt.Sprint("v", id)})
		b.Origins = append(b.Origins, &engine.Record{})
	}
	return b
}

func lockHeld(t *testing.T, w *Warehouse, pipeline string) bool {
	t.Helper()
	pid, ok := w.lockHolder(pipeline)
	if !ok {
		return false
	}
	var held bool
	require.NoError(t, connect(t, w).QueryRow(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted)`, int32(pid)).Scan(&held))
	return held
}

var thingCols = []engine.Column{{Name: "id", Type: engine.TypeInteger}, {Name: "v", Type: engine.TypeText}}

// TestWriteRidesOutTheServerGoingAwayIntegration restarts (immediate mode,
// as a crash) and stops for a while a throwaway cluster between and during
// a run's batches: with a retry budget the writes reconnect, take the run's
// lock again and land every batch exactly once; without one, or past it,
// they fail as before; and a lock another run took meanwhile stops the run.
func TestWriteRidesOutTheServerGoingAwayIntegration(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	ctx := context.Background()

	for _, mode := range []engine.Mode{engine.ModeUpsert, engine.ModeAppend} {
		t.Run("restart between batches/"+string(mode), func(t *testing.T) {
			w, logs := onCluster(t, cluster, time.Minute)
			tb := startRun(t, w, "p", engine.Table{Name: "things", Columns: thingCols, Key: []string{"id"}, Mode: mode})
			_, err := w.Write(ctx, tb, batchOf("p", tb, 1, 2))
			require.NoError(t, err)
			pid, _ := w.lockHolder("p")

			require.NoError(t, cluster.Restart())
			b := batchOf("p", tb, 3, 4, 5)
			b.Rejects = []engine.Reject{{Check: "validate x", Reason: "bad"}}
			b.State = &engine.Cursor{Value: int64(5)}
			counts, err := w.Write(ctx, tb, b)
			require.NoError(t, err, "logs:\n%s", logs)
			assert.Equal(t, engine.Counts{Created: 3}, counts)
			assert.Equal(t, [][]any{{int64(1), "v1"}, {int64(2), "v2"}, {int64(3), "v3"}, {int64(4), "v4"}, {int64(5), "v5"}}, readRows(t, w, tb))
			assert.Len(t, readRejects(t, w, tb.RunID), 1)
			st, err := w.State(ctx, "p")
			require.NoError(t, err)
			assert.Equal(t, int64(5), st.Value)
			assert.Positive(t, w.Reconnects())
			assert.Contains(t, logs.String(), "warehouse unreachable; retrying")
			assert.Contains(t, logs.String(), "pipeline lock taken again")
			now, _ := w.lockHolder("p")
			assert.NotEqual(t, pid, now, "the lock is held by a new session")
			assert.True(t, lockHeld(t, w, "p"), "and the server says so")
		})
	}

	t.Run("an outage during a write", func(t *testing.T) {
		w, logs := onCluster(t, cluster, time.Minute)
		tb := startRun(t, w, "p", engine.Table{Name: "things", Columns: thingCols, Key: []string{"id"}, Mode: engine.ModeAppend})
		_, err := w.Write(ctx, tb, batchOf("p", tb, 1))
		require.NoError(t, err)
		require.NoError(t, cluster.Stop())
		done := make(chan error, 1)
		go func() {
			_, err := w.Write(ctx, tb, batchOf("p", tb, 2, 3))
			done <- err
		}()
		// The write keeps retrying while the server is down: start it
		// again once the log shows two retries.
		require.Eventually(t, func() bool { return bytes.Count([]byte(logs.String()), []byte("retrying")) >= 2 }, 30*time.Second, 10*time.Millisecond)
		require.NoError(t, cluster.Start())
		require.NoError(t, <-done, "logs:\n%s", logs)
		assert.Equal(t, [][]any{{int64(1), "v1"}, {int64(2), "v2"}, {int64(3), "v3"}}, readRows(t, w, tb))
		assert.NotContains(t, logs.String(), "password")
	})

	t.Run("without a budget the write fails at once", func(t *testing.T) {
		w, _ := onCluster(t, cluster, 0)
		tb := startRun(t, w, "p", engine.Table{Name: "things", Columns: thingCols, Key: []string{"id"}, Mode: engine.ModeUpsert})
		require.NoError(t, cluster.Restart())
		_, err := w.Write(ctx, tb, batchOf("p", tb, 1))
		require.Error(t, err)
		assert.Zero(t, w.Reconnects())
	})

	t.Run("past the budget the write fails, saying so", func(t *testing.T) {
		w, logs := onCluster(t, cluster, 300*time.Millisecond)
		tb := startRun(t, w, "p", engine.Table{Name: "things", Columns: thingCols, Key: []string{"id"}, Mode: engine.ModeUpsert})
		require.NoError(t, cluster.Stop())
		t.Cleanup(func() { require.NoError(t, cluster.Start()) })
		_, err := w.Write(ctx, tb, batchOf("p", tb, 1))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "warehouse_retry is 300ms")
		assert.Contains(t, logs.String(), "warehouse unreachable; retrying")
	})

	for _, tt := range []struct {
		name string
		ran  bool // the other run started and finished while the server was away
	}{
		{"another run took the lock meanwhile", false},
		{"another run ran meanwhile", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := onCluster(t, cluster, time.Minute)
			tb := startRun(t, w, "p", engine.Table{Name: "things", Columns: thingCols, Key: []string{"id"}, Mode: engine.ModeUpsert})
			require.NoError(t, cluster.Restart())
			u, _ := urls.Load(w)
			other := openURL(t, u.(string))
			unlock, err := other.Lock(ctx, "p")
			require.NoError(t, err, "the restart freed the lock")
			defer unlock()
			if tt.ran {
				_, err = other.StartRun(ctx, engine.Run{Pipeline: "p", Status: engine.StatusRunning})
				require.NoError(t, err)
				require.NoError(t, unlock())
			}
			_, err = w.Write(ctx, tb, batchOf("p", tb, 1))
			require.ErrorIs(t, err, errLockTaken)
			assert.Contains(t, err.Error(), "lost the pipeline lock")
			assert.Empty(t, readRows(t, w, tb))
			var locks int
			require.NoError(t, connect(t, w).QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted`).Scan(&locks))
			assert.Equal(t, map[bool]int{false: 1, true: 0}[tt.ran], locks, "only the other run's lock is held: the one taken to check was given back")
		})
	}
}

// commitCutter is a TCP proxy to a PostgreSQL server that, once armed,
// drops the connection instead of passing on the next reply that reports a
// COMMIT done (CommandComplete "COMMIT"): the client never learns that its
// transaction committed.
type commitCutter struct {
	ln    net.Listener
	up    string
	armed atomic.Bool
	cuts  atomic.Int32
}

func newCommitCutter(t *testing.T, upstream string) *commitCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &commitCutter{ln: ln, up: upstream}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				client.Close()
				continue
			}
			go p.pipe(client, server)
		}
	}()
	return p
}

// committedTag is a CommandComplete message saying COMMIT.
var committedTag = []byte("C\x00\x00\x00\x0bCOMMIT\x00")

func (p *commitCutter) pipe(client, server net.Conn) {
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if _, werr := server.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		server.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 && p.armed.Load() && bytes.Contains(buf[:n], committedTag) && p.armed.CompareAndSwap(true, false) {
			p.cuts.Add(1)
			break // the reply, COMMIT's included, is lost
		}
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	client.Close()
	server.Close()
}

// TestWriteNeverLandsABatchTwiceIntegration loses the reply to a batch's
// COMMIT, which the server carried out: the retried write must find the
// batch committed and not write it again — an append doubled, a reject
// stored twice — and return the counts the batch had.
func TestWriteNeverLandsABatchTwiceIntegration(t *testing.T) {
	ctx := context.Background()
	direct := pgtest.URL(t)
	pu, err := url.Parse(direct)
	require.NoError(t, err)
	cut := newCommitCutter(t, pu.Host)
	pu.Host = cut.ln.Addr().String()

	for _, tt := range []struct {
		name  string
		mode  engine.Mode
		setup func(w *Warehouse, tb engine.Table)
		first []int64 // landed before the cut
		ids   []int64 // the batch whose COMMIT's reply is lost
		want  engine.Counts
	}{
		{"append", engine.ModeAppend, func(*Warehouse, engine.Table) {}, []int64{1}, []int64{2, 3}, engine.Counts{Created: 2}},
		{"upsert copied straight in", engine.ModeUpsert, func(*Warehouse, engine.Table) {}, nil, []int64{1, 2}, engine.Counts{Created: 2}},
		{"upsert through staging", engine.ModeUpsert, func(w *Warehouse, tb engine.Table) { stagingOnly(w, tb) }, []int64{1, 2}, []int64{2, 3, 3, 4}, engine.Counts{Created: 2, Updated: 1, Unchanged: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			schema := schemaFor(t, openURL(t, direct), "cut")
			c, err := pgx.Connect(ctx, direct)
			require.NoError(t, err)
			_, err = c.Exec(ctx, "CREATE SCHEMA "+schema)
			require.NoError(t, err)
			c.Close(ctx)
			w := openURL(t, pu.String()+"&search_path="+schema)
			require.NoError(t, w.Migrate(ctx))
			logs := &syncbuf.Buffer{}
			w.RetryFor(time.Minute, slog.New(slog.NewTextHandler(logs, nil)))
			tb := startRun(t, w, "p", engine.Table{Name: "things", Columns: thingCols, Key: []string{"id"}, Mode: tt.mode})
			tt.setup(w, tb)
			if tt.first != nil {
				_, err := w.Write(ctx, tb, batchOf("p", tb, tt.first...))
				require.NoError(t, err)
				if tt.name == "upsert through staging" {
					// 2 stays as it is: unchanged; 3 comes twice.
					b := batchOf("p", tb, tt.ids...)
					b.Rows[2][1] = "v3 again"
					tt.ids = nil
					cutAndWrite(t, w, cut, tb, b, tt.want, logs)
					assert.Equal(t, [][]any{{int64(1), "v1"}, {int64(2), "v2"}, {int64(3), "v3 again"}, {int64(4), "v4"}}, readRows(t, w, tb))
					return
				}
			}
			b := batchOf("p", tb, tt.ids...)
			cutAndWrite(t, w, cut, tb, b, tt.want, logs)
			want := [][]any{}
			for _, id := range append(tt.first, tt.ids...) {
				want = append(want, []any{id, fmt.Sprint("v", id)})
			}
			assert.Equal(t, want, readRows(t, w, tb), "every row once")
		})
	}
}

func cutAndWrite(t *testing.T, w *Warehouse, cut *commitCutter, tb engine.Table, b engine.Batch, want engine.Counts, logs *syncbuf.Buffer) {
	t.Helper()
	b.Rejects = []engine.Reject{{Check: "validate x", Reason: "bad"}}
	b.State = &engine.Cursor{Value: "s"}
	before := cut.cuts.Load()
	cut.armed.Store(true)
	counts, err := w.Write(context.Background(), tb, b)
	require.NoError(t, err, "logs:\n%s", logs)
	require.Equal(t, before+1, cut.cuts.Load(), "the COMMIT's reply was lost")
	assert.Contains(t, logs.String(), "the batch had committed before its connection died")
	assert.Equal(t, want, counts)
	assert.Len(t, readRejects(t, w, tb.RunID), 1, "the reject is stored once")
}

// TestCommittedIsTheBatchsOwnIntegration checks how a retry decides that a
// lost COMMIT happened: a transaction id the server never logged (handed
// out again after a crash) did not commit, and a committed id of another
// transaction (one the restart handed out again) is not the batch's.
func TestCommittedIsTheBatchsOwnIntegration(t *testing.T) {
	ctx := context.Background()
	w := openMigrated(t)
	w.RetryFor(time.Minute, nil)
	tb := startRun(t, w, "p", engine.Table{Name: "things", Columns: thingCols, Key: []string{"id"}, Mode: engine.ModeUpsert})
	var other string
	require.NoError(t, connect(t, w).QueryRow(ctx, `SELECT txid_current()::text`).Scan(&other))

	ok, err := w.committed(ctx, other, 0)
	require.NoError(t, err)
	assert.True(t, ok, "without a run, the status answers")
	ok, err = w.committed(ctx, other, tb.RunID)
	require.NoError(t, err)
	assert.False(t, ok, "another transaction's commit is not the batch's")
	ok, err = w.committed(ctx, "999999999999", tb.RunID)
	require.NoError(t, err, "an id in the future is an answer, not an error")
	assert.False(t, ok)

	c, err := w.pool.Acquire(ctx)
	require.NoError(t, err)
	defer c.Release()
	forgetXact(c.Conn())
	_, err = w.write(ctx, c.Conn(), tb, batchOf("p", tb, 1))
	require.NoError(t, err)
	xid, known := pendingXact(c.Conn())
	require.NotEmpty(t, xid)
	assert.Equal(t, &engine.Counts{Created: 1}, known, "counts known before the COMMIT are noted")
	ok, err = w.committed(ctx, xid, tb.RunID)
	require.NoError(t, err)
	assert.True(t, ok, "the batch's own commit")
}

func TestRetryableIsTheServerGoingAway(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection exception", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", fmt.Errorf("copy: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"a unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"a missing table", &pgconn.PgError{Code: "42P01"}, false},
		{"end of stream", fmt.Errorf("upsert: %w", io.ErrUnexpectedEOF), true},
		{"EOF", io.EOF, true},
		{"refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"conn closed", fmt.Errorf("begin: %w", pgconn.ErrConnClosed), true},
		{"the lock lost", errLockLost, true},
		{"a transaction in doubt", errInDoubt, true},
		{"the lock taken", errLockTaken, false},
		{"cancelled", context.Canceled, false},
		{"anything else", errors.New("row 3 has 2 values for 3 columns"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, retryable(tt.err))
		})
	}
}

func TestBackoffDoublesToFiveSeconds(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, backoff(n))
	}
	assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}, got)
}

func TestDistinctKeys(t *testing.T) {
	tb := engine.Table{Columns: []engine.Column{{Name: "a", Type: engine.TypeText}, {Name: "at", Type: engine.TypeTimestamp}, {Name: "v", Type: engine.TypeText}}, Key: []string{"a", "at"}}
	noon := time.Date(2024, 1, 2, 12, 0, 0, 0, time.UTC)
	rows := [][]any{
		{"x", noon, "1"},
		{"x", noon.In(time.FixedZone("X", 3600)), "2"}, // the same instant
		{"x", noon.Add(time.Second), "3"},
		{"x\x00", noon, "4"}, // not "x" followed by a separator
		{nil, noon, "5"},
		{"", noon, "6"}, // NULL is not ""
		{nil, noon, "7"},
	}
	assert.Equal(t, 5, distinctKeys(tb, rows))
}

func TestRetryPolicyDefaults(t *testing.T) {
	w := &Warehouse{}
	d, log := w.retryPolicy()
	assert.Zero(t, d, "no retry unless asked")
	assert.NotNil(t, log)
	w.RetryFor(-time.Second, nil)
	d, _ = w.retryPolicy()
	assert.Zero(t, d)
	assert.Zero(t, w.Reconnects())
}
