package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/etl-dev/etl/engine"
)

// Riding out an outage. A batch is one transaction, so when the server goes
// away (a restart, a crash, a network cut) a Write can be tried again on a
// new connection — with three cares:
//
//   - the pipeline's lock died with its session: it is taken again, and the
//     run goes on only if no other run took it meanwhile (see relock);
//   - a COMMIT whose reply was lost may have committed: each transaction's id
//     is read when it begins (see begin), and after reconnecting the server
//     says whether it committed; a committed batch is not written twice
//     (which would double an append and its rejects), and its counts are
//     those the attempt knew before its COMMIT or, for an upsert through
//     staging, read back from the row versions it wrote (see landedCounts);
//   - the retries are bounded: past the budget the Write fails as it would
//     have at once, saying how long it tried.

var _ engine.Reconnecting = (*Warehouse)(nil)

// RetryFor makes the warehouse retry a write (and the run's other idempotent
// statements) that failed because the server went away, reconnecting with
// backoff for up to d; d ≤ 0 turns retrying off (the default). Each retry is
// logged to log as a warning.
func (w *Warehouse) RetryFor(d time.Duration, log *slog.Logger) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.retry = max(d, 0)
	w.log = log
}

// Reconnects is how many times the warehouse retried after losing its server.
func (w *Warehouse) Reconnects() int { return int(w.reconnects.Load()) }

func (w *Warehouse) retryPolicy() (time.Duration, *slog.Logger) {
	w.mu.Lock()
	defer w.mu.Unlock()
	log := w.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return w.retry, log
}

// backoff is the wait before retry n (1, 2, …): 100ms doubling to 5s.
func backoff(n int) time.Duration {
	if n > 6 {
		return 5 * time.Second
	}
	return min(100*time.Millisecond<<(n-1), 5*time.Second)
}

// retrying runs f, and again while it fails because the server went away,
// for up to the retry budget: before each retry it waits, drops the pool's
// connections (the server that made them may be gone) and, when the Write is
// a pipeline's, makes sure the run still holds the pipeline's lock (see
// relock; pipeline "" skips that). what names the work in the log.
func (w *Warehouse) retrying(ctx context.Context, pipeline string, runID int64, what string, f func(context.Context) error) error {
	err := f(ctx)
	budget, log := w.retryPolicy()
	if err == nil || budget <= 0 || !retryable(err) {
		return err
	}
	began := time.Now()
	deadline := began.Add(budget)
	for attempt := 1; ; attempt++ {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w (the warehouse was unreachable for %s; warehouse_retry is %s)", err, time.Since(began).Round(time.Millisecond), budget)
		}
		wait := min(backoff(attempt), left)
		if attempt == 1 && errors.Is(err, errLockLost) {
			// The lock's session ended while the server answers: try to
			// take the lock again at once. Waiting would let this run read
			// on while another takes the lock; relock then stops it with
			// errLockTaken.
			wait = 0
		}
		log.Warn("warehouse unreachable; retrying", "doing", what, "attempt", attempt, "in", wait.String(), "error", redact(err, w.password).Error())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		w.reconnects.Add(1)
		w.pool.Reset()
		if err = w.relock(ctx, pipeline, runID); err == nil {
			err = f(ctx)
		}
		if err == nil {
			log.Info("warehouse back", "doing", what, "retries", attempt, "after", time.Since(began).Round(time.Millisecond).String())
			return nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// retryable reports whether err is the server or the connection going away
// (or the pipeline's lock lost with its session, which relock takes again),
// rather than the server refusing the work: only then may the work be tried
// again.
func retryable(err error) bool {
	if errors.Is(err, errLockLost) || errors.Is(err, errInDoubt) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin or crash shutdown, cannot connect now
			return true
		case pe.Code == "53300": // too many connections (the clients of a restart reconnecting)
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err)
}

// errLockTaken stops a run whose lock was free while the server was away
// and that another run took, or used.
var errLockTaken = errors.New("lost the pipeline lock while the warehouse was away, and another run took it meanwhile; stopping so that two runs never write at once")

// errInDoubt is the outcome of a transaction the server still runs after
// its client's connection died: the retry waits for it to end.
var errInDoubt = errors.New("the batch's earlier transaction is still in progress on the server")

const lockSQL = `SELECT pg_try_advisory_lock(hashtextextended('etl:run:' || coalesce(current_schema(), '') || ':' || $1, 0))`

// relock makes sure the run still holds the pipeline's lock, after the
// server went away. The lock is a session's: a restart, or the lock's
// connection cut, frees it. When its session is gone relock takes it again
// on a new one — and then checks, holding it, that no other run started
// while it was free (a run starts by taking the lock, then records itself
// in the history, marking this one interrupted): the run's row must still be
// running and the newest of the pipeline. Otherwise it fails with
// errLockTaken. A pipeline whose lock this warehouse does not hold (a
// write without etl run's lock) needs nothing.
func (w *Warehouse) relock(ctx context.Context, pipeline string, runID int64) error {
	if pipeline == "" {
		return nil
	}
	w.mu.Lock()
	old, held := w.lockConn[pipeline]
	w.mu.Unlock()
	if !held {
		return nil
	}
	if !old.IsClosed() {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := old.Ping(pctx)
		cancel()
		if err == nil {
			return nil // its session lives, so it holds the lock
		}
		_ = old.Close(ctx)
	}
	pc, err := w.acquire(ctx)
	if err != nil {
		return err
	}
	var ok bool
	if err := pc.QueryRow(ctx, lockSQL, pipeline).Scan(&ok); err != nil {
		pc.Release()
		return fmt.Errorf("take the pipeline lock again: %w", err)
	}
	if ok && runID != 0 {
		err = pc.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM etl_sync_history WHERE id = $1 AND status = 'running')
			AND NOT EXISTS (SELECT 1 FROM etl_sync_history WHERE pipeline = $2 AND id > $1)`, runID, pipeline).Scan(&ok)
		if err != nil || !ok {
			_, _ = pc.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		}
		if err != nil {
			pc.Release()
			return fmt.Errorf("take the pipeline lock again: %w", err)
		}
	}
	if !ok {
		pc.Release()
		return errLockTaken
	}
	c := pc.Hijack()
	w.mu.Lock()
	if w.lockConn[pipeline] != old { // unlocked or closed meanwhile
		w.mu.Unlock()
		return releaseLock(c)
	}
	delete(w.locks, old)
	w.locks[c] = struct{}{}
	w.lockConn[pipeline] = c
	w.lockPID[pipeline] = c.PgConn().PID()
	w.mu.Unlock()
	_, log := w.retryPolicy()
	log.Info("pipeline lock taken again after the warehouse came back", "pipeline", pipeline)
	return nil
}

// The transaction an attempt began, kept in its connection's CustomData so
// that it outlives the connection (see begin and pendingXact).
const (
	xactKey   = "etl_xact"   // the transaction's id (txid_current), as text
	countsKey = "etl_counts" // engine.Counts the batch had when its COMMIT was sent, if known then
)

// begin runs sql, which ends by beginning a transaction. When writes are
// retried it also reads the new transaction's id, in the same round trip,
// and notes it on c: if c dies before the COMMIT's reply, the id tells
// whether the batch committed.
func (w *Warehouse) begin(ctx context.Context, c *pgx.Conn, sql string) error {
	if budget, _ := w.retryPolicy(); budget <= 0 {
		_, err := c.Exec(ctx, sql)
		return err
	}
	return beginNoting(ctx, c, sql)
}

// beginNoting runs sql, which ends by beginning a transaction, and notes
// the transaction's id on c, in one round trip (see begin).
func beginNoting(ctx context.Context, c *pgx.Conn, sql string) error {
	results, err := c.PgConn().Exec(ctx, sql+"; "+xactSQL).ReadAll()
	if err != nil {
		return err
	}
	last := results[len(results)-1]
	if len(last.Rows) != 1 || len(last.Rows[0]) != 1 {
		return errors.New("begin: txid_current returned no row")
	}
	c.PgConn().CustomData()[xactKey] = string(last.Rows[0][0])
	return nil
}

// xactSQL reads the transaction's id (see noteXact).
const xactSQL = "SELECT txid_current()::text"

// noteXact reads xactSQL's result from br and notes it on c, as begin does:
// for a transaction begun in a batch of statements.
func noteXact(br pgx.BatchResults, c *pgx.Conn) error {
	var xid string
	if err := br.QueryRow().Scan(&xid); err != nil {
		return err
	}
	c.PgConn().CustomData()[xactKey] = xid
	return nil
}

// noteCounts notes on c what the batch's counts are if its transaction
// commits.
func noteCounts(c *pgx.Conn, counts engine.Counts) {
	c.PgConn().CustomData()[countsKey] = counts
}

// forgetXact clears what an earlier Write noted on c.
func forgetXact(c *pgx.Conn) {
	data := c.PgConn().CustomData()
	delete(data, xactKey)
	delete(data, countsKey)
}

// pendingXact returns the transaction the last attempt began on c, if any,
// and its counts if they were known before its COMMIT.
func pendingXact(c *pgx.Conn) (xid string, known *engine.Counts) {
	data := c.PgConn().CustomData()
	xid, _ = data[xactKey].(string)
	if n, ok := data[countsKey].(engine.Counts); ok {
		known = &n
	}
	return xid, known
}

// committed asks the server whether transaction xid, of run runID,
// committed. A transaction still in progress (its backend has not noticed
// its client is gone) is errInDoubt, which the retry waits out. An id "in
// the future" never reached the WAL before a crash, so it never committed.
// Such an id is handed out again after the restart, so a committed one
// must be shown to be the run's: each batch's transaction updates the run's
// history row (its counts, see queueJournal), so the row's version is the
// batch's when it committed. Without a run (runID 0) the status alone
// answers.
func (w *Warehouse) committed(ctx context.Context, xid string, runID int64) (bool, error) {
	var status *string
	ours := true
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT txid_status($1::bigint)`, xid).Scan(&status)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "22023" && strings.Contains(pe.Message, "in the future") {
			status = nil
			return nil
		}
		if err != nil || runID == 0 || status == nil || *status != "committed" {
			return err
		}
		return c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM etl_sync_history WHERE id = $1 AND xmin = ($2::bigint % 4294967296)::text::xid)`, runID, xid).Scan(&ours)
	})
	switch {
	case err != nil:
		return false, fmt.Errorf("ask whether the batch committed: %w", err)
	case status != nil && *status == "in progress":
		return false, errInDoubt
	}
	return status != nil && *status == "committed" && ours, nil
}

// landedCounts returns the counts of b's batch, whose transaction xid
// committed although its connection died before the reply: those noted
// before the COMMIT when the attempt knew them (known); for an upsert
// through staging, whose counts came with the COMMIT's reply, they are read
// back from the row versions the transaction wrote (xmin = xid): a created
// row has no xmax, a row the upsert updated carries the transaction in its
// xmax; the keys it left alone were unchanged, and rows superseded within
// the batch count as updated, as Write counts them. Only a run holding the
// pipeline's lock writes the table, so nothing changed those rows since.
func (w *Warehouse) landedCounts(ctx context.Context, t engine.Table, b engine.Batch, xid string, known *engine.Counts) (engine.Counts, error) {
	if known != nil {
		return *known, nil
	}
	var created, touched int
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FILTER (WHERE xmax = '0'::xid), count(*) FROM `+destination(t).Sanitize()+
			` WHERE xmin = ($1::bigint % 4294967296)::text::xid`, xid).Scan(&created, &touched)
	})
	if err != nil {
		return engine.Counts{}, fmt.Errorf("count the rows of the committed batch: %w", err)
	}
	distinct := distinctKeys(t, b.Rows)
	return engine.Counts{Created: created, Updated: touched - created + len(b.Rows) - distinct, Unchanged: distinct - touched}, nil
}

// distinctKeys counts the distinct keys among rows.
func distinctKeys(t engine.Table, rows [][]any) int {
	pos := make([]int, 0, len(t.Key))
	for _, k := range t.Key {
		for i, c := range t.Columns {
			if c.Name == k {
				pos = append(pos, i)
			}
		}
	}
	seen := make(map[string]struct{}, len(rows))
	var sb strings.Builder
	for _, row := range rows {
		sb.Reset()
		for _, p := range pos {
			switch v := row[p].(type) {
			case time.Time:
				sb.WriteString(v.UTC().Format(time.RFC3339Nano))
			case nil:
				sb.WriteString("\x01null")
			default:
				sb.WriteString(strconv.Quote(fmt.Sprint(v)))
			}
			sb.WriteByte(0)
		}
		seen[sb.String()] = struct{}{}
	}
	return len(seen)
}

// writeRetrying lands b with write, retrying as retrying says. Before
// writing a batch again it asks whether the last attempt's transaction
// committed after all (its connection died awaiting the COMMIT's reply):
// then the batch is not written twice, and its counts are recovered (see
// landedCounts).
func (w *Warehouse) writeRetrying(ctx context.Context, t engine.Table, b engine.Batch) (engine.Counts, error) {
	var (
		counts engine.Counts
		xid    string         // the transaction of an attempt whose connection died
		known  *engine.Counts // its counts, when known before its COMMIT
	)
	what := fmt.Sprintf("write %d rows to %s", len(b.Rows), t.QualifiedName())
	err := w.retrying(ctx, b.Pipeline, b.RunID, what, func(ctx context.Context) error {
		if xid != "" {
			ok, err := w.committed(ctx, xid, b.RunID)
			if err != nil {
				return err
			}
			if ok {
				counts, err = w.landedCounts(ctx, t, b, xid, known)
				if err == nil {
					_, log := w.retryPolicy()
					log.Info("the batch had committed before its connection died; not writing it again", "doing", what)
				}
				return err
			}
			xid, known = "", nil
		}
		return w.withConn(ctx, func(c *pgx.Conn) error {
			forgetXact(c)
			var err error
			counts, err = w.write(ctx, c, t, b)
			if err != nil {
				xid, known = pendingXact(c)
			}
			return err
		})
	})
	return counts, err
}

// withConnRetrying is withConn for an idempotent f (an UPDATE of the run's
// row, an upsert of source state), retried as retrying says.
func (w *Warehouse) withConnRetrying(ctx context.Context, what string, f func(c *pgx.Conn) error) error {
	return w.retrying(ctx, "", 0, what, func(ctx context.Context) error { return w.withConn(ctx, f) })
}
