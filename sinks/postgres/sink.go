package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/etl-dev/etl/engine"
)

// sqlType is the column type a table created by the sink gets.
var sqlType = map[engine.ColumnType]string{
	engine.TypeText:      "text",
	engine.TypeInteger:   "bigint",
	engine.TypeFloat:     "double precision",
	engine.TypeBoolean:   "boolean",
	engine.TypeTimestamp: "timestamptz",
	engine.TypeDate:      "date",
	engine.TypeDecimal:   "numeric",
	engine.TypeJSON:      "jsonb",
}

// wireType is how a value travels to the server: the column type itself,
// except decimals and JSON, which go as text and are cast by the server, so
// a decimal stays exact and neither needs parsing in Go.
func wireType(t engine.ColumnType) string {
	switch t {
	case engine.TypeDecimal, engine.TypeJSON:
		return "text"
	}
	return sqlType[t]
}

// fromWire is the SQL expression that turns the wire value expr into a
// value of the column type.
func fromWire(t engine.ColumnType, expr string) string {
	switch t {
	case engine.TypeDecimal, engine.TypeJSON:
		return expr + "::" + sqlType[t]
	}
	return expr
}

// maxIdent is PostgreSQL's identifier length in bytes (NAMEDATALEN - 1).
const maxIdent = 63

// checkTable refuses a table description no load could use.
func checkTable(t engine.Table) error {
	if t.Name == "" {
		return errors.New("table has no name")
	}
	if len(t.Columns) == 0 {
		return errors.New("table has no columns")
	}
	names := map[string]bool{}
	for _, c := range append([]string{t.Schema, t.Name}, columnNames(t)...) {
		if strings.IndexByte(c, 0) >= 0 || !utf8.ValidString(c) {
			return fmt.Errorf("name %q: not valid UTF-8 without NUL bytes", c)
		}
	}
	for _, c := range t.Columns {
		if c.Name == "" {
			return errors.New("a column has no name")
		}
		if names[c.Name] {
			return fmt.Errorf("column %q declared twice", c.Name)
		}
		names[c.Name] = true
		if _, ok := sqlType[c.Type]; !ok {
			return fmt.Errorf("column %q: unknown type %q", c.Name, c.Type)
		}
	}
	switch t.Mode {
	case engine.ModeUpsert:
		if len(t.Key) == 0 {
			return errors.New("upsert needs a key")
		}
	case engine.ModeAppend, engine.ModeReplace:
	default:
		return fmt.Errorf("unknown mode %q", t.Mode)
	}
	seen := map[string]bool{}
	for _, k := range t.Key {
		if !names[k] {
			return fmt.Errorf("key column %q is not a column", k)
		}
		if seen[k] {
			return fmt.Errorf("key column %q listed twice", k)
		}
		seen[k] = true
	}
	return nil
}

func columnNames(t engine.Table) []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// ident is t's quotable name, schema-qualified when t names a schema.
func ident(t engine.Table, name string) pgx.Identifier {
	if t.Schema == "" {
		return pgx.Identifier{name}
	}
	return pgx.Identifier{t.Schema, name}
}

// newTableName is the name of the table a replace load fills:
// <name>__etl_new_<run id>, the name cut short to fit PostgreSQL's 63 bytes.
func newTableName(t engine.Table) string {
	suffix := "__etl_new_" + strconv.FormatInt(t.RunID, 10)
	name := t.Name
	if len(name)+len(suffix) > maxIdent {
		n := maxIdent - len(suffix)
		for n > 0 && !utf8.RuneStart(name[n]) {
			n--
		}
		name = name[:n]
	}
	return name + suffix
}

// destination is the table a Write of t fills.
func destination(t engine.Table) pgx.Identifier {
	if t.Mode == engine.ModeReplace {
		return ident(t, newTableName(t))
	}
	return ident(t, t.Name)
}

// Prepare creates t's schema and table when missing, adds the columns an
// existing table lacks, checks that an existing upsert target has a unique
// index on the key, and in replace mode creates the empty table Finish swaps
// in: LIKE the target INCLUDING ALL, so it keeps the target's indexes,
// constraints and defaults (without a target, the new table alone, which
// Finish renames). A new table gets a primary key on t.Key, except in append
// mode. It all happens in one transaction, serialized with other
// Prepares of the same table.
//
// For an upsert it also notes the table's upsertPlan: whether it is empty,
// so that the run's batches may COPY straight into it (see copyDirect), and
// whether its types are the sink's own (see upsertSQL).
func (w *Warehouse) Prepare(ctx context.Context, t engine.Table) error {
	var plan upsertPlan
	err := checkTable(t)
	if err == nil {
		err = w.withConn(ctx, func(c *pgx.Conn) error {
			return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				existed, err := targetExists(ctx, tx, t)
				if err != nil {
					return err
				}
				notes, err := schemaNotes(ctx, tx, t)
				if err != nil {
					return err
				}
				if err := prepare(ctx, tx, t); err != nil {
					return err
				}
				w.noteNew(t, !existed)
				w.schemaNotes.Store(ident(t, t.Name).Sanitize(), notes)
				if t.Mode != engine.ModeUpsert {
					return nil
				}
				if plan.direct, err = directCopyable(ctx, tx, t); err != nil {
					return err
				}
				if plan.filter, err = typesAsCreated(ctx, tx, t); err != nil {
					return err
				}
				plan.hashes, plan.lookup, err = prepareHashes(ctx, tx, t, plan.direct)
				return err
			})
		})
	}
	w.setPlan(t, plan)
	if err != nil {
		return fmt.Errorf("sink postgres: prepare %s: %w", t.QualifiedName(), err)
	}
	return nil
}

// typesAsCreated reports whether every column of t's table has exactly the
// SQL type the sink gives its column type (as in a table the sink created),
// so that the upsert may compare a staged row with the stored one (see
// upsertSQL): with other types the comparison could differ from what the
// INSERT's own coercion would store (a varchar(10) cast truncates where the
// INSERT refuses), or have no operator (json).
func typesAsCreated(ctx context.Context, tx pgx.Tx, t engine.Table) (bool, error) {
	rows, err := tx.Query(ctx, `SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, destination(t).Sanitize())
	if err != nil {
		return false, err
	}
	types := map[string]string{}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		types[name] = typ
		return nil
	}); err != nil {
		return false, err
	}
	for _, c := range t.Columns {
		if types[c.Name] != sqlType[c.Type] {
			return false, nil
		}
	}
	return true, nil
}

// directCopyable reports whether an upsert into t may COPY straight into the
// table: it has no rows, so every row of a first load is new, and no row
// level security, which COPY FROM does not support. An emptied table whose
// dead rows are not yet vacuumed takes a scan of them to tell.
func directCopyable(ctx context.Context, tx pgx.Tx, t engine.Table) (bool, error) {
	dest := destination(t).Sanitize()
	var ok bool
	err := tx.QueryRow(ctx, `SELECT NOT relrowsecurity AND NOT EXISTS (SELECT 1 FROM `+dest+`) FROM pg_class WHERE oid = $1::regclass`, dest).Scan(&ok)
	return ok, err
}

// upsertPlan is what Prepare learned of an upsert's table, for the run's
// batches.
type upsertPlan struct {
	direct bool  // it was empty: COPY straight into it (see copyDirect)
	filter bool  // its types are the sink's own: leave unchanged rows out (see upsertSQL)
	hashes int32 // its etl_row_hash_tables id: skip rows by their hash (see hash.go); 0: no
	lookup bool  // it had stored hashes: look them up
}

// beginSQL begins a Write's transaction; on a hashed table, marked as the
// sink's own write, which the edit trigger ignores.
func (w *Warehouse) beginSQL(t engine.Table) string {
	if w.plan(t).hashes != 0 {
		return "BEGIN; " + sinkWriteSQL
	}
	return "BEGIN"
}

// plan returns what Prepare noted for t's destination.
func (w *Warehouse) plan(t engine.Table) upsertPlan {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plans[destination(t).Sanitize()]
}

// setPlan notes p for t's destination; the zero plan is forgotten.
func (w *Warehouse) setPlan(t engine.Table, p upsertPlan) {
	key := destination(t).Sanitize()
	w.mu.Lock()
	defer w.mu.Unlock()
	if p == (upsertPlan{}) {
		delete(w.plans, key)
	} else {
		w.plans[key] = p
	}
}

// stopDirect ends COPY straight into t's destination for the rest of the
// run (see copyDirect).
func (w *Warehouse) stopDirect(t engine.Table) {
	p := w.plan(t)
	p.direct = false
	w.setPlan(t, p)
}

func prepare(ctx context.Context, tx pgx.Tx, t engine.Table) error {
	// Serialize with other Prepares of the schema (two racing CREATE SCHEMA
	// IF NOT EXISTS can still collide) or, without one, of the table.
	scope := ident(t, t.Name).Sanitize()
	if t.Schema != "" {
		scope = pgx.Identifier{t.Schema}.Sanitize()
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('etl:prepare:' || $1, 0))`, scope); err != nil {
		return err
	}
	stmts, err := tableDDL(ctx, tx, t)
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", firstLine(stmt), err)
		}
	}
	return nil
}

// PlanTable returns the statements Prepare would run for t, changing
// nothing: none when the table exists and matches (in replace mode, the
// new table the run loads is always created).
func (w *Warehouse) PlanTable(ctx context.Context, t engine.Table) ([]string, error) {
	var stmts []string
	err := checkTable(t)
	if err == nil {
		err = w.withConn(ctx, func(c *pgx.Conn) error {
			tx, err := c.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			stmts, err = engine.PlanDrift(tableDDL(ctx, tx, t))
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("sink postgres: plan %s: %w", t.QualifiedName(), err)
	}
	return stmts, nil
}

// tableDDL returns the statements that make t's table ready: its schema and
// table when missing, ADD COLUMN for the columns an existing table lacks,
// and in replace mode the new table the run loads (dropping one a killed
// run left). For an upsert into an existing table it checks that ON
// CONFLICT (key) has a unique index to use. Prepare runs the statements;
// PlanTable shows them.
func tableDDL(ctx context.Context, tx pgx.Tx, t engine.Table) ([]string, error) {
	var stmts []string
	if t.Schema != "" {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, t.Schema).Scan(&exists); err != nil {
			return nil, err
		}
		if !exists {
			stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{t.Schema}.Sanitize())
		}
	}
	target := ident(t, t.Name).Sanitize()
	dest := destination(t).Sanitize()
	var oid, leftover *uint32
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::oid, to_regclass($2)::oid`, target, dest).Scan(&oid, &leftover); err != nil {
		return nil, err
	}
	if t.Mode == engine.ModeReplace && leftover != nil {
		stmts = append(stmts, "DROP TABLE IF EXISTS "+dest)
	}
	if oid == nil {
		// A replace load creates only its new table: the target appears
		// when Finish swaps it in.
		var defs []string
		for _, c := range t.Columns {
			defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" "+sqlType[c.Type])
		}
		if t.Mode != engine.ModeAppend && len(t.Key) > 0 {
			defs = append(defs, "PRIMARY KEY ("+quoteList(t.Key)+")")
		}
		stmts = append(stmts, "CREATE TABLE "+dest+" (\n\t"+strings.Join(defs, ",\n\t")+"\n)")
		trigger, err := editTriggerDDL(ctx, tx, t, nil)
		if trigger != "" {
			stmts = append(stmts, trigger)
		}
		return stmts, err
	}
	adds, err := missingColumns(ctx, tx, t, *oid)
	if err != nil {
		return nil, err
	}
	if len(adds) > 0 {
		stmts = append(stmts, "ALTER TABLE "+target+" "+strings.Join(adds, ", "))
	}
	alters, driftErr := driftDDL(ctx, tx, t, *oid)
	var de *engine.DriftError
	if driftErr != nil && !errors.As(driftErr, &de) {
		return nil, driftErr
	}
	if t.Mode != engine.ModeReplace {
		stmts = append(stmts, alters...)
	}
	if t.Mode == engine.ModeUpsert {
		if err := checkUpsertIndex(ctx, tx, t, *oid); err != nil {
			return nil, err
		}
		if trigger, err := editTriggerDDL(ctx, tx, t, oid); err != nil {
			return nil, err
		} else if trigger != "" {
			stmts = append(stmts, trigger)
		}
	}
	if t.Mode == engine.ModeReplace {
		// The new table takes the target's indexes, constraints and
		// defaults, and the declared column types.
		stmts = append(append(stmts, "CREATE TABLE "+dest+" (LIKE "+target+" INCLUDING ALL)"), alters...)
	}
	return stmts, driftErr
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// missingColumns returns ADD COLUMN clauses for t's columns that the
// existing table lacks.
func missingColumns(ctx context.Context, tx pgx.Tx, t engine.Table, oid uint32) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT attname::text FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, oid)
	if err != nil {
		return nil, err
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	existing := map[string]bool{}
	for _, n := range have {
		existing[n] = true
	}
	var adds []string
	for _, c := range t.Columns {
		if !existing[c.Name] {
			adds = append(adds, "ADD COLUMN IF NOT EXISTS "+pgx.Identifier{c.Name}.Sanitize()+" "+sqlType[c.Type])
		}
	}
	return adds, nil
}

// checkUpsertIndex checks that ON CONFLICT (key) has a valid, immediate,
// non-partial unique index on exactly the key columns (in any order).
func checkUpsertIndex(ctx context.Context, tx pgx.Tx, t engine.Table, oid uint32) error {
	var usable bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM pg_index i
		WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indimmediate
		  AND i.indpred IS NULL AND i.indexprs IS NULL
		  AND i.indnkeyatts = cardinality($2::text[])
		  AND (SELECT array_agg(a.attname::text)
		       FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
		       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		       WHERE k.ord <= i.indnkeyatts) <@ $2::text[]
	)`, oid, t.Key).Scan(&usable)
	if err != nil {
		return err
	}
	if !usable {
		return fmt.Errorf("existing table has no unique index on the key (%s) for the upsert to use: add a primary key or unique constraint on exactly those columns", strings.Join(t.Key, ", "))
	}
	return nil
}

// Finish ends the load of t. In replace mode, with ok it drops the target and
// renames the new table to the target's name in one transaction, so readers
// see the old rows until the commit and the new ones after (a reader blocks
// on the swap's lock, never sees a missing or half-filled table); without ok
// it drops the new table. An upsert forgets whether it may COPY straight
// into the table: the next run's Prepare looks again.
func (w *Warehouse) Finish(ctx context.Context, t engine.Table, ok bool) error {
	if t.Mode != engine.ModeReplace {
		w.setPlan(t, upsertPlan{})
		return nil
	}
	shadow := destination(t).Sanitize()
	err := w.withConn(ctx, func(c *pgx.Conn) error {
		if !ok {
			_, err := c.Exec(ctx, "DROP TABLE IF EXISTS "+shadow)
			return err
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+ident(t, t.Name).Sanitize()); err != nil {
				return fmt.Errorf("drop the old table: %w", err)
			}
			if _, err := tx.Exec(ctx, "ALTER TABLE "+shadow+" RENAME TO "+pgx.Identifier{t.Name}.Sanitize()); err != nil {
				return fmt.Errorf("rename the new table: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		verb := "swap in"
		if !ok {
			verb = "drop"
		}
		return fmt.Errorf("sink postgres: finish %s: %s the new table %s: %w", t.QualifiedName(), verb, shadow, err)
	}
	return nil
}

// Write lands b in one transaction: the rows (upsert through the session's
// staging table or, into a table that was empty when the run began, by COPY
// as long as every key is new; append and replace by COPY into the
// destination), then b's rejects and any rows the database refused, a check
// that the run still holds its pipeline lock, then b.State. Everything after
// the COPY goes to the server in one round trip with the COMMIT, which the
// server skips when a statement before it fails (see tail): a batch costs
// three round trips (BEGIN, COPY, the rest), one without rows.
//
// Upsert counts: within a batch the last row of a key wins; the earlier rows
// of that key it supersedes count as updated, so created + updated +
// unchanged + failed is always len(b.Rows).
//
// When the database refuses the rows as a whole with a data error (a value
// out of range, a NUL byte, a NOT NULL or CHECK violation, …), the
// transaction is rolled back (the rows are its first step, so nothing else is
// lost) and the rows are written again one at a time, each under a
// savepoint, in batch order: a refused row becomes a "database" reject
// (Counts.Failed). Any other error — the connection, a missing table, the
// rejects or the state refused, the lock lost — fails the Write, and
// nothing of b is committed.
func (w *Warehouse) Write(ctx context.Context, t engine.Table, b engine.Batch) (engine.Counts, error) {
	err := checkTable(t)
	if err == nil {
		for i, row := range b.Rows {
			if len(row) != len(t.Columns) {
				err = fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(t.Columns))
				break
			}
		}
	}
	if err == nil && b.Empty() {
		return engine.Counts{}, nil
	}
	var counts engine.Counts
	if err == nil {
		counts, err = w.writeRetrying(ctx, t, b)
	}
	if err != nil {
		return engine.Counts{}, fmt.Errorf("sink postgres: write %d rows to %s: %w", len(b.Rows), t.QualifiedName(), err)
	}
	return counts, nil
}

// write lands b on c. With rows it takes three round trips: BEGIN, the
// COPY (which no pipeline can carry), then the rest in one pipeline (see
// tail): the staging upsert, the rejects, the lock check, the state and
// COMMIT. Without rows that pipeline, BEGIN first, is all.
func (w *Warehouse) write(ctx context.Context, c *pgx.Conn, t engine.Table, b engine.Batch) (engine.Counts, error) {
	var staging string
	if t.Mode == engine.ModeUpsert && len(b.Rows) > 0 {
		var err error
		if staging, err = stagingTable(ctx, c, t.Columns); err != nil {
			return engine.Counts{}, err
		}
	}
	defer rollback(c) // a no-op once committed

	counts, err := w.land(ctx, c, t, staging, b)
	var refused *rowsError
	if !errors.As(err, &refused) || !isDataError(refused.err) {
		return counts, err
	}
	// The rows are the transaction's first statements: rolling it back
	// loses nothing else.
	if err := w.begin(ctx, c, "ROLLBACK; "+w.beginSQL(t)); err != nil {
		return engine.Counts{}, fmt.Errorf("roll back the refused rows: %w", err)
	}
	counts, failed, b, err := rowByRow(ctx, c, t, b)
	if err != nil {
		return engine.Counts{}, err
	}
	counts.Failed = len(failed)
	noteCounts(c, counts)
	var end tail
	// Every row went again, one at a time: no hash is stored (a stored
	// hash only ever describes a row written in bulk with its batch).
	w.queueEnd(&end, b, failed, counts, 0, &counts)
	if err := end.send(ctx, c); err != nil {
		return engine.Counts{}, err
	}
	counts.Failed = len(failed) - counts.KnownFailed
	return counts, nil
}

// land writes b in one transaction with its rows in bulk (see bulk).
func (w *Warehouse) land(ctx context.Context, c *pgx.Conn, t engine.Table, staging string, b engine.Batch) (engine.Counts, error) {
	var (
		end                        tail
		counts                     engine.Counts
		upsert                     bool
		distinct, created, updated int
	)
	rows, skipped := b.Rows, 0
	var hashed *hashedBatch
	if plan := w.plan(t); plan.hashes != 0 && len(b.Rows) > 0 {
		hashed = newHashedBatch(t, plan.hashes, b.Rows)
		var err error
		if rows, skipped, err = hashed.begin(ctx, c, b.Rows, plan.lookup); err != nil {
			return engine.Counts{}, err
		}
	}
	budget, _ := w.retryPolicy()
	switch {
	case hashed != nil: // hashed.begin began it
	case len(b.Rows) == 0 && budget <= 0:
		end.add("BEGIN", nil, exec, failure("begin"))
	default:
		if err := w.begin(ctx, c, "BEGIN"); err != nil {
			return engine.Counts{}, fmt.Errorf("begin: %w", err)
		}
	}
	if len(rows) > 0 {
		landed, err := w.bulk(ctx, c, t, staging, rows)
		if err != nil {
			return engine.Counts{}, err
		}
		if landed {
			counts.Created = len(rows)
		} else {
			upsert = true
			end.add(upsertSQL(t, staging, w.plan(t).filter), nil, func(br pgx.BatchResults) error {
				return br.QueryRow().Scan(&distinct, &created, &updated)
			}, func(err error) error { return &rowsError{fmt.Errorf("upsert: %w", err)} })
		}
	}
	if hashed != nil {
		hashed.queue(&end, b.RunID, len(rows) > 0 && !upsert)
	}
	known, upsertRows := engine.Counts{Created: counts.Created, Unchanged: skipped}, 0
	if upsert {
		upsertRows = len(rows) // upsertSQL counts them
	} else {
		noteCounts(c, known)
	}
	w.queueEnd(&end, b, nil, known, upsertRows, &counts)
	if err := end.send(ctx, c); err != nil {
		return engine.Counts{}, err
	}
	if upsert {
		counts.Created = created
		counts.Updated = updated + len(rows) - distinct // superseded duplicates count as updated
		counts.Unchanged = distinct - created - updated
	}
	counts.Unchanged += skipped
	return counts, nil
}

// rowsError is the error of a statement landing a batch's rows in bulk: a
// data error there sends the batch row by row. A data error of any other
// statement (the rejects, the state) fails the Write.
type rowsError struct{ err error }

func (e *rowsError) Error() string { return e.err.Error() }
func (e *rowsError) Unwrap() error { return e.err }

// rollback ends c's transaction when a Write left one open, in progress or
// failed. A connection that cannot roll back is closed, so the pool drops it.
func rollback(c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := c.Exec(context.Background(), "ROLLBACK"); err != nil {
		_ = c.Close(context.Background())
	}
}

// tail is the end of a Write's transaction: statements queued to go in one
// round trip (a pgx pipeline), COMMIT last. Their results are read in
// order, and the first error is the Write's: the server skips every
// statement after a failed one until the pipeline's end, COMMIT included,
// so nothing of the transaction is committed.
type tail struct {
	batch pgx.Batch
	steps []tailStep
}

type tailStep struct {
	sql  string
	read func(pgx.BatchResults) error // reads the statement's result
	fail func(error) error            // names the statement's error
}

// add queues sql with args.
func (p *tail) add(sql string, args []any, read func(pgx.BatchResults) error, fail func(error) error) {
	p.batch.Queue(sql, args...)
	p.steps = append(p.steps, tailStep{sql: sql, read: read, fail: fail})
}

// send sends the queued statements and reads their results.
func (p *tail) send(ctx context.Context, c *pgx.Conn) error {
	br := c.SendBatch(ctx, &p.batch)
	for i, s := range p.steps {
		if err := s.read(br); err != nil {
			_ = br.Close()
			return p.blame(i, err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// blame names err after the statement it belongs to: the one whose result
// returned it, or, when preparing the statements failed (a table that does
// not exist), the one the server refused to prepare.
func (p *tail) blame(i int, err error) error {
	var pre pgx.ErrPreprocessingBatch
	if errors.As(err, &pre) {
		for _, s := range p.steps {
			if s.sql == pre.SQL() {
				return s.fail(err)
			}
		}
	}
	return p.steps[i].fail(err)
}

func exec(br pgx.BatchResults) error {
	_, err := br.Exec()
	return err
}

func failure(what string) func(error) error {
	return func(err error) error { return fmt.Errorf("%s: %w", what, err) }
}

const stateSQL = `INSERT INTO etl_state (pipeline, cursor_kind, cursor_value, run_id, updated_at)
	VALUES ($1, $2, $3, $4, now())
	ON CONFLICT (pipeline) DO UPDATE SET cursor_kind = EXCLUDED.cursor_kind,
		cursor_value = EXCLUDED.cursor_value, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at`

// queueEnd queues the end of b's transaction: the journal (b's rejects and
// the rows the database refused, replayed rows resolved, the run's counts;
// see queueJournal), the lock check, b.State, COMMIT. landed holds the
// rows' counts the Go side knows, upsertRows how many rows upsertSQL
// counts; counts receives the journal's.
func (w *Warehouse) queueEnd(end *tail, b engine.Batch, failed []engine.Reject, landed engine.Counts, upsertRows int, counts *engine.Counts) {
	queueJournal(end, b, failed, landed, upsertRows, counts)
	if pid, ok := w.lockHolder(b.Pipeline); ok {
		end.add(lockCheckSQL, []any{int32(pid)}, exec, func(err error) error {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == lockLostCode {
				return errLockLost
			}
			return fmt.Errorf("check the pipeline lock: %w", err)
		})
	}
	if b.State != nil {
		kind, text := b.State.Encode()
		end.add(stateSQL, []any{b.Pipeline, kind, cleanText(text), b.RunID}, exec, failure("save state"))
	}
	if len(b.Inbox) > 0 {
		end.add(inboxDoneSQL, []any{b.RunID, b.Inbox}, exec, failure("mark delivered records processed"))
	}
	end.add("COMMIT", nil, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.String() != "COMMIT" {
			err = pgx.ErrTxCommitRollback
		}
		return err
	}, failure("commit"))
}

// errLockLost is returned by a write whose run no longer holds its lock.
var errLockLost = errors.New("lost the pipeline lock: the session holding it ended, so another run may take it; stopping so that two runs never write at once")

// lockCheckSQL makes sure, inside a batch's transaction, that the session
// $1 holding the pipeline's lock (taken by Lock on a connection of its own)
// still holds it. When that connection dies the server frees the lock and a
// second run may take it: the statement then fails (lockLostCode, the text
// not being an integer), which keeps the server from running the COMMIT
// queued after it. The CASE depends on the lock table, so the planner cannot
// fold the failing cast into an error for every run.
const lockCheckSQL = `SELECT (CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted)
	THEN '1' ELSE 'etl: lost the pipeline lock' END)::int`

// lockLostCode is the SQLSTATE of lockCheckSQL's failure (invalid_text_representation).
const lockLostCode = "22P02"

// lockHolder returns the backend PID of the session holding the pipeline's
// lock, if Lock took it (etl run does; tests and tools may write without).
func (w *Warehouse) lockHolder(pipeline string) (uint32, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	pid, ok := w.lockPID[pipeline]
	return pid, ok
}

// bulk lands rows in one go by COPY, inside the transaction c began, of
// which it must be the first statement. It reports whether the rows
// landed: for an upsert they usually land in the session's staging table
// (landed is false), and the caller runs upsertSQL; an upsert that may COPY
// straight into its table does so (see copyDirect). Its errors are
// rowsErrors.
func (w *Warehouse) bulk(ctx context.Context, c *pgx.Conn, t engine.Table, staging string, rows [][]any) (landed bool, err error) {
	if t.Mode != engine.ModeUpsert {
		if _, err := c.CopyFrom(ctx, destination(t), columnNames(t), pgx.CopyFromRows(rows)); err != nil {
			return false, &rowsError{fmt.Errorf("copy: %w", err)}
		}
		return true, nil
	}
	if w.plan(t).direct {
		if landed, err := w.copyDirect(ctx, c, t, rows); err != nil || landed {
			return landed, err
		}
	}
	src := &stagingRows{rows: rows, seqs: w.seqs(len(rows)), buf: make([]any, len(t.Columns)+1)}
	if _, err := c.CopyFrom(ctx, pgx.Identifier{"pg_temp", staging}, stagingColumns(len(t.Columns)), src); err != nil {
		return false, &rowsError{fmt.Errorf("copy into staging: %w", err)}
	}
	return false, nil
}

// uniqueViolation is the SQLSTATE of a key already in a unique index.
const uniqueViolation = "23505"

// copyDirect COPYs an upsert batch straight into a table that was empty when
// the run began (Prepare noted it), which costs the server far less than
// staging and INSERT … ON CONFLICT: while every row is new, the result is
// the same. The key's unique index tells when a row is not new: a key an
// earlier batch or another session wrote, or one that comes twice in the
// batch, makes the COPY fail with a unique violation (so does one of
// another unique index, which staging then refuses as it always did). The
// COPY is the transaction's first statement, so that rolling the
// transaction back undoes it alone (no savepoint, no round trip for one):
// copyDirect then begins a new one, direct COPY stays off for the table
// until the next Prepare, and it reports the rows not landed, for bulk to
// land them through staging. Any other error is returned, the transaction
// failed: the caller rolls it back (a data error then lands the rows one at
// a time).
func (w *Warehouse) copyDirect(ctx context.Context, c *pgx.Conn, t engine.Table, rows [][]any) (landed bool, err error) {
	if _, err := c.CopyFrom(ctx, destination(t), columnNames(t), pgx.CopyFromRows(rows)); err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != uniqueViolation {
			return false, &rowsError{fmt.Errorf("copy: %w", err)}
		}
		w.stopDirect(t)
		if err := w.begin(ctx, c, "ROLLBACK; "+w.beginSQL(t)); err != nil {
			return false, fmt.Errorf("roll back the direct copy: %w", err)
		}
		return false, nil
	}
	return true, nil
}

// stagingRows feeds a batch to COPY with each row's position in the batch
// appended, reusing one values slice: no allocation per row.
type stagingRows struct {
	rows [][]any
	seqs []any // seqs[i] is int64(i), boxed once per warehouse
	buf  []any
	i    int
}

func (s *stagingRows) Next() bool { s.i++; return s.i <= len(s.rows) }

func (s *stagingRows) Values() ([]any, error) {
	n := copy(s.buf, s.rows[s.i-1])
	s.buf[n] = s.seqs[s.i-1]
	return s.buf, nil
}

func (s *stagingRows) Err() error { return nil }

// seqs returns int64(0)…int64(n-1) boxed, growing the warehouse's shared,
// never-mutated cache when needed.
func (w *Warehouse) seqs(n int) []any {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seqCache) < n {
		grown := make([]any, max(n, 2*len(w.seqCache)))
		copy(grown, w.seqCache)
		for i := len(w.seqCache); i < len(grown); i++ {
			grown[i] = int64(i)
		}
		w.seqCache = grown
	}
	return w.seqCache[:n]
}

// stagingColumns names the staging columns: c1…cn, then seq.
func stagingColumns(n int) []string {
	cols := make([]string, n+1)
	for i := range n {
		cols[i] = "c" + strconv.Itoa(i+1)
	}
	cols[n] = "seq"
	return cols
}

// stagingTable returns this session's staging table for rows of cols' types,
// creating it on first use. Staging tables are positional (c1…cn, seq), so
// every target whose columns have the same types shares one; they are
// TEMP … ON COMMIT DELETE ROWS, so each Write finds its staging table empty,
// and created outside the Write's transaction, so a rollback keeps them. The
// session remembers its staging tables in its CustomData, which lives and dies
// with it, as the tables do.
func stagingTable(ctx context.Context, c *pgx.Conn, cols []engine.Column) (string, error) {
	data := c.PgConn().CustomData()
	staging, ok := data["etl_staging"].(map[string]string) // name by column-type signature
	if !ok {
		staging = map[string]string{}
		data["etl_staging"] = staging
	}
	types := make([]string, len(cols))
	for i, col := range cols {
		types[i] = wireType(col.Type)
	}
	sig := strings.Join(types, ",")
	if name, ok := staging[sig]; ok {
		return name, nil
	}
	name := "etl_staging_" + strconv.Itoa(len(staging)+1)
	names := stagingColumns(len(cols))
	defs := make([]string, len(names))
	for i, n := range names[:len(cols)] {
		defs[i] = n + " " + types[i]
	}
	defs[len(cols)] = "seq bigint"
	if _, err := c.Exec(ctx, "CREATE TEMP TABLE "+name+" ("+strings.Join(defs, ", ")+") ON COMMIT DELETE ROWS"); err != nil {
		return "", fmt.Errorf("create staging table: %w", err)
	}
	staging[sig] = name
	return name, nil
}

// upsertSQL moves the staging rows into t: the last row of each key (casting
// decimals and JSON from text), inserted or, when the key exists and a value
// differs, updated. It returns the number of distinct keys, of created rows
// (xmax = 0: no earlier version) and of updated ones; the others were
// unchanged.
//
// With filter (the table's types are the sink's own, see typesAsCreated),
// rows equal to the stored ones are left out before the INSERT: ON CONFLICT
// … DO UPDATE … WHERE locks, and logs the lock of, every conflicting row,
// even one it does not update, which made a run of unchanged rows slower
// than a first load. The comparison is a scalar subquery per row, which
// PostgreSQL runs as a probe of the key's index (it does not turn it into a
// join that might scan the table). A row another session changes between
// the statement's snapshot and the INSERT may then be left as that session
// wrote it, as if that session had written last.
func upsertSQL(t engine.Table, staging string, filter bool) string {
	pos := map[string]int{}
	for i, c := range t.Columns {
		pos[c.Name] = i
	}
	var casts, keyRefs, cols, set, old, excluded []string
	for i, c := range t.Columns {
		s := "c" + strconv.Itoa(i+1)
		casts = append(casts, fromWire(c.Type, s)+" AS "+s)
	}
	for _, k := range t.Key {
		keyRefs = append(keyRefs, "c"+strconv.Itoa(pos[k]+1))
	}
	isKey := map[string]bool{}
	for _, k := range t.Key {
		isKey[k] = true
	}
	for _, c := range t.Columns {
		q := pgx.Identifier{c.Name}.Sanitize()
		cols = append(cols, q)
		if !isKey[c.Name] {
			set = append(set, q+" = EXCLUDED."+q)
			old = append(old, "etl_target."+q)
			excluded = append(excluded, "EXCLUDED."+q)
		}
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ") +
			" WHERE ROW(" + strings.Join(old, ", ") + ") IS DISTINCT FROM ROW(" + strings.Join(excluded, ", ") + ")"
	}
	where := ""
	if filter {
		var match, stored, staged []string
		for i, c := range t.Columns {
			q := pgx.Identifier{c.Name}.Sanitize()
			ref := "src.c" + strconv.Itoa(i+1)
			if isKey[c.Name] {
				match = append(match, "o."+q+" = "+ref)
			} else {
				stored, staged = append(stored, "o."+q), append(staged, ref)
			}
		}
		same := "true"
		if len(stored) > 0 {
			same = "ROW(" + strings.Join(stored, ", ") + ") IS NOT DISTINCT FROM ROW(" + strings.Join(staged, ", ") + ")"
		}
		where = `
	WHERE NOT coalesce((SELECT ` + same + ` FROM ` + destination(t).Sanitize() + ` o WHERE ` + strings.Join(match, " AND ") + `), false)`
	}
	return `WITH src AS (
	SELECT DISTINCT ON (` + strings.Join(keyRefs, ", ") + `) *
	FROM (SELECT ` + strings.Join(casts, ", ") + `, seq FROM pg_temp.` + staging + `) s
	ORDER BY ` + strings.Join(keyRefs, ", ") + `, seq DESC
), up AS (
	INSERT INTO ` + destination(t).Sanitize() + ` AS etl_target (` + strings.Join(cols, ", ") + `)
	SELECT ` + strings.Join(stagingColumns(len(t.Columns))[:len(t.Columns)], ", ") + ` FROM src` + where + `
	ON CONFLICT (` + quoteList(t.Key) + `) ` + conflict + `
	RETURNING (etl_target.xmax = 0) AS created
)
SELECT d, c, u FROM (SELECT (SELECT count(*) FROM src) AS d, count(*) FILTER (WHERE created) AS c, count(*) FILTER (WHERE NOT created) AS u FROM up) n,
	set_config('` + upsertCountsSetting + `', d || ' ' || c || ' ' || u, true)`
}

// rowSQL inserts (or upserts) one row given as parameters $1…$n.
func rowSQL(t engine.Table) string {
	var cols, params, set, old, excluded []string
	isKey := map[string]bool{}
	for _, k := range t.Key {
		isKey[k] = true
	}
	for i, c := range t.Columns {
		q := pgx.Identifier{c.Name}.Sanitize()
		cols = append(cols, q)
		params = append(params, fromWire(c.Type, "$"+strconv.Itoa(i+1)+"::"+wireType(c.Type)))
		if !isKey[c.Name] {
			set = append(set, q+" = EXCLUDED."+q)
			old = append(old, "etl_target."+q)
			excluded = append(excluded, "EXCLUDED."+q)
		}
	}
	sql := "INSERT INTO " + destination(t).Sanitize() + " AS etl_target (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(params, ", ") + ")"
	if t.Mode != engine.ModeUpsert {
		return sql
	}
	if len(set) == 0 {
		return sql + " ON CONFLICT (" + quoteList(t.Key) + ") DO NOTHING RETURNING (etl_target.xmax = 0)"
	}
	return sql + " ON CONFLICT (" + quoteList(t.Key) + ") DO UPDATE SET " + strings.Join(set, ", ") +
		" WHERE ROW(" + strings.Join(old, ", ") + ") IS DISTINCT FROM ROW(" + strings.Join(excluded, ", ") + ")" +
		" RETURNING (etl_target.xmax = 0)"
}

// rowByRow writes b's rows one at a time, each under a savepoint, inside
// the transaction c began, turning the rows the database refuses into
// rejects.
//
// It returns b with the rejects of the rows refused removed from Resolve.
func rowByRow(ctx context.Context, c *pgx.Conn, t engine.Table, b engine.Batch) (engine.Counts, []engine.Reject, engine.Batch, error) {
	sql := rowSQL(t)
	var (
		counts engine.Counts
		failed []engine.Reject
	)
	b.Resolve = slices.Clone(b.Resolve) // the caller's stays as it was
	for i, row := range b.Rows {
		batch := &pgx.Batch{}
		batch.Queue("SAVEPOINT etl_row")
		batch.Queue(sql, row...)
		batch.Queue("RELEASE SAVEPOINT etl_row")
		br := c.SendBatch(ctx, batch)
		_, spErr := br.Exec()
		var rowErr error
		if t.Mode == engine.ModeUpsert {
			var created bool
			switch rowErr = br.QueryRow().Scan(&created); {
			case rowErr == nil && created:
				counts.Created++
			case rowErr == nil:
				counts.Updated++
			case errors.Is(rowErr, pgx.ErrNoRows):
				rowErr = nil
				counts.Unchanged++
			}
		} else if _, rowErr = br.Exec(); rowErr == nil {
			counts.Created++
		}
		_, relErr := br.Exec()
		closeErr := br.Close()
		switch {
		case spErr != nil:
			return counts, nil, b, fmt.Errorf("row %d: savepoint: %w", i, spErr)
		case rowErr == nil && relErr == nil && closeErr == nil:
			continue
		case rowErr == nil:
			return counts, nil, b, fmt.Errorf("row %d: %w", i, errors.Join(relErr, closeErr))
		case !isDataError(rowErr):
			return counts, nil, b, fmt.Errorf("row %d: %w", i, rowErr)
		}
		if _, err := c.Exec(ctx, "ROLLBACK TO SAVEPOINT etl_row; RELEASE SAVEPOINT etl_row"); err != nil {
			return counts, nil, b, fmt.Errorf("row %d: roll back to savepoint: %w", i, err)
		}
		failed = append(failed, b.RefusedReject(i, databaseReason(rowErr)))
		if i < len(b.Resolve) {
			b.Resolve[i] = 0 // refused again: stays unresolved
		}
	}
	return counts, failed, b, nil
}

// databaseReason is the message of the database's refusal.
func databaseReason(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	msg := pe.Message
	if pe.ColumnName != "" && !strings.Contains(msg, pe.ColumnName) {
		msg += " (column " + pe.ColumnName + ")"
	}
	return msg
}

// isDataError reports whether err is the database refusing the data itself
// rather than the statement, the table or the connection: SQLSTATE classes
// 21 (a key twice in one statement), 22 (data exception: out of range,
// invalid text, NUL byte), 23 (constraint violation), 54 (a value over a
// limit, e.g. an index row too large), and a COPY that pgx aborted because a
// value could not be encoded for its column.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "21", "22", "23", "54":
		return true
	}
	return pe.Code == "57014" && strings.HasPrefix(pe.Message, "COPY from stdin failed")
}

// quoteList quotes names and joins them with ", ".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}
