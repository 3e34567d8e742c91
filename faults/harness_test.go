package faults

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"
)

// row is one source record as every source of the campaign serves it, and
// as it must land in the target table.
type row struct {
	ID      int64
	Name    string
	Score   int64
	Note    string
	Updated time.Time // UTC
}

// notes are the values of the note column: quotes, delimiters, newlines,
// backslashes, SQL and shell metacharacters and non-ASCII text, which a
// naive CSV writer, JSON encoder or SQL builder would break.
var notes = []string{
	`plain`,
	`He said "hi", then left`,
	"two\nlines",
	"comma, semicolon; tab\tend",
	`'); DROP TABLE contacts; -- $(rm -rf /) ` + "`id`",
	`back\slash \N \. end`,
	"unicode é 中文 🙂",
	"",
}

// dataset is the source's content, which the campaign mutates between runs:
// each version moves some rows to later updated times with new values and
// adds new rows, so an incremental run always has work and rows share
// updated times (ids 3k, 3k+1 and 3k+2 changed in the same version share one).
type dataset struct {
	rows    map[int64]row
	nextID  int64
	version int
	base    time.Time
	step    time.Duration // the updated-time resolution the source keeps
	rng     *rand.Rand
}

func newDataset(n int, step time.Duration, seed uint64) *dataset {
	d := &dataset{rows: make(map[int64]row, n), nextID: 1, step: step,
		base: time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC), rng: rand.New(rand.NewPCG(seed, 6))}
	for range n {
		d.put(d.nextID)
		d.nextID++
	}
	return d
}

func (d *dataset) put(id int64) row {
	r := row{
		ID:      id,
		Name:    fmt.Sprintf("Contact %d v%d", id, d.version),
		Score:   id*7 + int64(d.version),
		Note:    notes[(id+int64(d.version))%int64(len(notes))],
		Updated: d.base.Add(time.Duration(d.version)*time.Hour + time.Duration(id/3)*d.step).UTC(),
	}
	d.rows[id] = r
	return r
}

// mutate starts a new version: a share frac of the rows change and add rows
// are added. It returns the rows written.
func (d *dataset) mutate(frac float64, add int) []row {
	d.version++
	var changed []row
	for _, id := range d.ids() {
		if d.rng.Float64() < frac {
			changed = append(changed, d.put(id))
		}
	}
	for range add {
		changed = append(changed, d.put(d.nextID))
		d.nextID++
	}
	return changed
}

func (d *dataset) ids() []int64 {
	ids := make([]int64, 0, len(d.rows))
	for id := range d.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// sorted returns the rows by updated time, then id: the order of an
// ordered source.
func (d *dataset) sorted() []row {
	out := make([]row, 0, len(d.rows))
	for _, r := range d.rows {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b row) int {
		if c := a.Updated.Compare(b.Updated); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return out
}

// target reads a pipeline's table and saved cursor from a warehouse.
type target struct {
	db       *sql.DB
	sqlite   bool
	table    string
	pipeline string
}

// openTarget opens the warehouse at url (postgres:// or sqlite://).
func openTarget(t testing.TB, url, table, pipeline string) *target {
	t.Helper()
	tg := &target{table: table, pipeline: pipeline}
	var err error
	if p, ok := strings.CutPrefix(url, "sqlite://"); ok {
		tg.sqlite = true
		tg.db, err = sql.Open("sqlite", p+"?_pragma=busy_timeout(10000)")
	} else {
		tg.db, err = sql.Open("pgx", url)
	}
	require.NoError(t, err)
	tg.db.SetMaxOpenConns(2)
	t.Cleanup(func() { tg.db.Close() })
	return tg
}

func missingTable(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "no such table"))
}

// rows returns the target's rows by id and how many ids it holds twice.
func (tg *target) rows(t testing.TB) (map[int64]row, int) {
	t.Helper()
	rs, err := tg.db.Query(`SELECT id, name, score, note, updated_at FROM ` + tg.table)
	if missingTable(err) {
		return map[int64]row{}, 0
	}
	require.NoError(t, err)
	defer rs.Close()
	got := map[int64]row{}
	dup := 0
	for rs.Next() {
		var r row
		var name, note sql.NullString
		var updated any
		require.NoError(t, rs.Scan(&r.ID, &name, &r.Score, &note, &updated))
		r.Name, r.Note = name.String, note.String
		r.Updated = asTime(t, updated)
		if _, ok := got[r.ID]; ok {
			dup++
		}
		got[r.ID] = r
	}
	require.NoError(t, rs.Err())
	return got, dup
}

func asTime(t testing.TB, v any) time.Time {
	t.Helper()
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case string:
		tm, err := time.Parse(time.RFC3339Nano, x)
		require.NoError(t, err)
		return tm.UTC()
	case []byte:
		return asTime(t, string(x))
	}
	t.Fatalf("updated_at is a %T", v)
	return time.Time{}
}

// cursor returns the pipeline's saved cursor.
func (tg *target) cursor(t testing.TB) (time.Time, bool) {
	t.Helper()
	var s string
	err := tg.db.QueryRow(`SELECT cursor_value FROM etl_state WHERE pipeline = '` + tg.pipeline + `'`).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) || missingTable(err) {
		return time.Time{}, false
	}
	require.NoError(t, err)
	c, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err, "cursor %q", s)
	return c, true
}

// count runs a count query; a missing table counts 0.
// tryCount is count for a goroutine other than the test's: it returns the
// error (a missing table counts 0).
func (tg *target) tryCount(q string) (int64, error) {
	var n int64
	err := tg.db.QueryRow(q).Scan(&n)
	if missingTable(err) {
		return 0, nil
	}
	return n, err
}

func (tg *target) count(t testing.TB, q string) int64 {
	t.Helper()
	var n int64
	err := tg.db.QueryRow(q).Scan(&n)
	if missingTable(err) {
		return 0
	}
	require.NoError(t, err, q)
	return n
}

// diff compares the target with the source: rows missing from the target,
// rows there with other values than the source's, and rows the source does
// not have.
type diff struct {
	missing, stale, extra, dup int
	examples                   []string
}

func (d diff) clean() bool { return d.missing+d.stale+d.extra+d.dup == 0 }

func (d diff) String() string {
	return fmt.Sprintf("%d missing, %d stale, %d extra, %d duplicated; e.g. %s", d.missing, d.stale, d.extra, d.dup, strings.Join(d.examples, "; "))
}

func compare(ds *dataset, got map[int64]row, dup int) diff {
	d := diff{dup: dup}
	note := func(s string) {
		if len(d.examples) < 3 {
			d.examples = append(d.examples, s)
		}
	}
	for _, id := range ds.ids() {
		want := ds.rows[id]
		g, ok := got[id]
		switch {
		case !ok:
			d.missing++
			note(fmt.Sprintf("id %d missing", id))
		case !g.Updated.Equal(want.Updated) || g.Name != want.Name || g.Score != want.Score || g.Note != want.Note:
			d.stale++
			note(fmt.Sprintf("id %d is %+v, want %+v", id, g, want))
		}
	}
	for id := range got {
		if _, ok := ds.rows[id]; !ok {
			d.extra++
			note(fmt.Sprintf("id %d is not in the source", id))
		}
	}
	return d
}

// cursorConsistent checks the state a run left behind against the source
// it read: the saved cursor is never ahead of the data that reached the
// warehouse, so every source row before it is in the target with its source
// values, and the target holds a row at the cursor or later. Rows exactly at
// the cursor may still be missing when a batch ended inside a group of rows
// sharing the cursor value: the next run reads from the cursor inclusive, so
// it reads them again (DESIGN.md: "the boundary is inclusive").
func cursorConsistent(ds *dataset, got map[int64]row, cur time.Time, saved bool) error {
	if !saved {
		return nil
	}
	var newest time.Time
	for _, g := range got {
		if g.Updated.After(newest) {
			newest = g.Updated
		}
	}
	if newest.Before(cur) {
		return fmt.Errorf("saved cursor %s is ahead of the newest row in the target (%s)", cur.Format(time.RFC3339Nano), newest.Format(time.RFC3339Nano))
	}
	for _, r := range ds.sorted() {
		if !r.Updated.Before(cur) {
			break
		}
		g, ok := got[r.ID]
		if !ok || g != r {
			return fmt.Errorf("saved cursor %s, but row %d (updated %s) is not in the target as in the source (got %+v, present %v)",
				cur.Format(time.RFC3339Nano), r.ID, r.Updated.Format(time.RFC3339Nano), g, ok)
		}
	}
	return nil
}

// etl is one etl process: its command line and environment.
type etl struct {
	args []string
	env  []string
}

// result is how an etl process ended.
type result struct {
	code           int  // exit code; -1 when killed
	killed         bool // our SIGKILL found it running
	stdout, stderr string
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (killed %v) after %s\nstdout: %s\nstderr: %s", r.code, r.killed, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// start starts the process; wait for it with the returned function, which
// SIGKILLs it once killAfter has passed (0: never).
func (e etl) start(t testing.TB) func(killAfter time.Duration) result {
	t.Helper()
	wait := e.spawn(t)
	return func(killAfter time.Duration) result {
		var kill <-chan time.Time
		if killAfter > 0 {
			kill = time.After(killAfter - time.Since(wait.began))
		}
		return wait.wait(t, kill)
	}
}

// killWhen runs etl and SIGKILLs it as soon as cond holds (polled every
// 2ms while it runs); cond must not call t's Fatal methods.
func (e etl) killWhen(t testing.TB, cond func() bool) result {
	t.Helper()
	p := e.spawn(t)
	kill := make(chan time.Time, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if cond() {
				kill <- time.Now()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	res := p.wait(t, kill)
	close(stop)
	return res
}

// running is an etl process started by spawn.
type running struct {
	e         etl
	cmd       *exec.Cmd
	out, errb *bytes.Buffer
	began     time.Time
	done      chan error
}

func (e etl) spawn(t testing.TB) *running {
	t.Helper()
	cmd := exec.Command(etlBinary(t), e.args...)
	cmd.Env = append(os.Environ(), e.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	began := time.Now()
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return &running{e: e, cmd: cmd, out: &out, errb: &errb, began: began, done: done}
}

// wait waits for the process to end, SIGKILLing it when kill fires.
func (p *running) wait(t testing.TB, kill <-chan time.Time) result {
	t.Helper()
	var res result
	limit := 5 * time.Minute
	select {
	case <-p.done:
	case <-kill:
		res.killed = p.cmd.Process.Signal(syscall.SIGKILL) == nil
		<-p.done
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("etl %s did not finish in %s", strings.Join(p.e.args, " "), limit)
	}
	res.took = time.Since(p.began)
	res.code = p.cmd.ProcessState.ExitCode()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.killed = res.killed && ws.Signal() == syscall.SIGKILL
	} else {
		res.killed = false // it had exited on its own
	}
	res.stdout, res.stderr = p.out.String(), p.errb.String()
	return res
}

// run runs the process to its end.
func (e etl) run(t testing.TB) result {
	t.Helper()
	return e.start(t)(0)
}
