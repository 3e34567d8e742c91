package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/etl-dev/etl/engine"

	sqlite3 "modernc.org/sqlite/lib"
)

// timeLayout stores timestamps: RFC 3339 in UTC with a fixed nine-digit
// fraction, so the text sorts in time order and round-trips exactly. SQLite's
// date and time functions read it.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// dateLayout stores dates.
const dateLayout = "2006-01-02"

// newTableMarker joins a replace-mode target's name and the run id into the
// name of the table the run loads: contacts__etl_new_42.
const newTableMarker = "__etl_new_"

// schemaSeparator joins a table's schema and name: SQLite has no schemas in
// one file (an ATTACHed file would break the batch-and-cursor atomicity in
// WAL mode), so hubspot.contacts is the table hubspot__contacts.
const schemaSeparator = "__"

// journalTables are the engine's own tables; no pipeline may load into them.
var journalTables = []string{"etl_sync_history", "etl_state", "etl_rejects", "etl_schema_migrations"}

// TableName returns the name of the SQLite table that holds t: Name, or
// Schema + "__" + Name when t has a schema ("hubspot.contacts" is the table
// hubspot__contacts). It is unquoted.
func TableName(t engine.Table) string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + schemaSeparator + t.Name
}

// TableName returns the name of the SQLite table that holds t (see the
// package-level TableName), so that a caller holding a warehouse can print
// where the rows are.
func (w *Warehouse) TableName(t engine.Table) string { return TableName(t) }

// newTableName is the table a replace-mode run loads before Finish swaps it in.
func newTableName(t engine.Table) string {
	return TableName(t) + newTableMarker + strconv.FormatInt(t.RunID, 10)
}

// quote quotes an SQLite identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// sqlType is the declared SQL type of a column type; it gives the column the
// affinity that keeps the stored form equal to the bound form.
func sqlType(ct engine.ColumnType) (string, error) {
	switch ct {
	case engine.TypeText, engine.TypeTimestamp, engine.TypeDate, engine.TypeDecimal, engine.TypeJSON:
		return "TEXT", nil
	case engine.TypeInteger, engine.TypeBoolean:
		return "INTEGER", nil
	case engine.TypeFloat:
		return "REAL", nil
	}
	return "", fmt.Errorf("unknown column type %q", ct)
}

// foldASCII lower-cases ASCII letters only, as SQLite compares identifiers.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// checkTable refuses a table the sink cannot land rows in.
func checkTable(t engine.Table) error {
	if t.Name == "" {
		return errors.New("table has no name")
	}
	if strings.IndexByte(t.Schema+t.Name, 0) >= 0 {
		return errors.New("table name holds a NUL byte")
	}
	for _, j := range journalTables {
		if foldASCII(TableName(t)) == j {
			return fmt.Errorf("table %s is one of the engine's own tables", TableName(t))
		}
	}
	if len(t.Columns) == 0 {
		return errors.New("table has no columns")
	}
	seen := map[string]bool{}
	for _, c := range t.Columns {
		if c.Name == "" || strings.IndexByte(c.Name, 0) >= 0 {
			return fmt.Errorf("invalid column name %q", c.Name)
		}
		if seen[foldASCII(c.Name)] {
			return fmt.Errorf("column %s is declared twice", c.Name)
		}
		seen[foldASCII(c.Name)] = true
		if _, err := sqlType(c.Type); err != nil {
			return fmt.Errorf("column %s: %w", c.Name, err)
		}
	}
	keys := map[string]bool{}
	for _, k := range t.Key {
		if !seen[foldASCII(k)] {
			return fmt.Errorf("key column %s is not a column of the table", k)
		}
		if keys[foldASCII(k)] {
			return fmt.Errorf("key column %s is listed twice", k)
		}
		keys[foldASCII(k)] = true
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
	return nil
}

// hasPrimaryKey reports whether the sink declares t's key as the primary key
// of the tables it creates: in upsert and replace mode; an append-mode table
// takes every row, duplicates included.
func hasPrimaryKey(t engine.Table) bool {
	return len(t.Key) > 0 && t.Mode != engine.ModeAppend
}

// createSQL is the CREATE TABLE statement for t under the given name.
func createSQL(t engine.Table, name string) string {
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + quote(name) + " (")
	keys := keySet(t)
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		typ, _ := sqlType(c.Type)
		b.WriteString(quote(c.Name) + " " + typ)
		if hasPrimaryKey(t) && keys[foldASCII(c.Name)] {
			b.WriteString(" NOT NULL")
		}
	}
	if hasPrimaryKey(t) {
		b.WriteString(", PRIMARY KEY (")
		for i, k := range t.Key {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(k))
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String()
}

func keySet(t engine.Table) map[string]bool {
	keys := make(map[string]bool, len(t.Key))
	for _, k := range t.Key {
		keys[foldASCII(k)] = true
	}
	return keys
}

// Prepare creates t's table when missing and adds the columns an existing
// table lacks; in upsert mode it checks that the key is the table's primary
// key or a unique index. In replace mode it creates the empty table the run
// loads (<table>__etl_new_<run id>) instead, and drops such tables left by
// earlier runs that died before Finish.
func (w *Warehouse) Prepare(ctx context.Context, t engine.Table) error {
	if err := w.prepare(ctx, t); err != nil {
		return fmt.Errorf("sink sqlite: prepare %s: %w", t.QualifiedName(), err)
	}
	return nil
}

func (w *Warehouse) prepare(ctx context.Context, t engine.Table) error {
	if err := checkTable(t); err != nil {
		return err
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if t.Mode == engine.ModeReplace {
		if err := dropLeftovers(ctx, tx, t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, createSQL(t, newTableName(t))); err != nil {
			return fmt.Errorf("create table %s: %w", newTableName(t), err)
		}
		return tx.Commit()
	}

	existed, err := tableExists(ctx, tx, TableName(t))
	if err != nil {
		return err
	}
	notes, err := schemaNotes(ctx, tx, t)
	if err != nil {
		return err
	}
	stmts, err := tableDDL(ctx, tx, t)
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.noteNew(t, !existed)
	w.schemaNotes.Store(TableName(t), notes)
	return nil
}

// tableDDL returns the statements that make t's table ready: CREATE TABLE
// when it is missing, ADD COLUMN for each column it lacks, none when it
// matches. In upsert mode an existing table whose key is not its primary key
// or a unique index is an error. Prepare runs them; PlanTable shows them.
func tableDDL(ctx context.Context, tx *sql.Tx, t engine.Table) ([]string, error) {
	name := TableName(t)
	have, pk, err := tableColumns(ctx, tx, name)
	if err != nil {
		return nil, err
	}
	if len(have) == 0 {
		return []string{createSQL(t, name)}, nil
	}
	var stmts []string
	for _, c := range t.Columns {
		if have[foldASCII(c.Name)] {
			continue
		}
		typ, _ := sqlType(c.Type)
		stmts = append(stmts, "ALTER TABLE "+quote(name)+" ADD COLUMN "+quote(c.Name)+" "+typ)
	}
	alters, driftErr := driftDDL(ctx, tx, t, name)
	var de *engine.DriftError
	if driftErr != nil && !errors.As(driftErr, &de) {
		return nil, driftErr
	}
	stmts = append(stmts, alters...)
	if t.Mode == engine.ModeUpsert {
		ok, err := keyIsUnique(ctx, tx, name, keySet(t), pk)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("existing table %s has no primary key or unique index on exactly (%s), which upsert needs; add one, or load it in append mode",
				name, strings.Join(t.Key, ", "))
		}
	}
	return stmts, driftErr
}

// PlanTable returns the statements Prepare would run for t, changing
// nothing: none when the table exists and matches. In replace mode that is
// the CREATE TABLE of the new table the run loads and swaps in.
func (w *Warehouse) PlanTable(ctx context.Context, t engine.Table) ([]string, error) {
	if err := checkTable(t); err != nil {
		return nil, fmt.Errorf("sink sqlite: plan %s: %w", t.QualifiedName(), err)
	}
	if t.Mode == engine.ModeReplace {
		return []string{createSQL(t, newTableName(t))}, nil
	}
	tx, err := w.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: plan %s: %w", t.QualifiedName(), err)
	}
	defer tx.Rollback()
	stmts, err := engine.PlanDrift(tableDDL(ctx, tx, t))
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: plan %s: %w", t.QualifiedName(), err)
	}
	return stmts, nil
}

// tableColumns returns the table's column names (folded) and its primary key
// columns (folded).
func tableColumns(ctx context.Context, tx *sql.Tx, table string) (cols, pk map[string]bool, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols, pk = map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var name string
		var inPK int
		if err := rows.Scan(&name, &inPK); err != nil {
			return nil, nil, fmt.Errorf("read columns of %s: %w", table, err)
		}
		cols[foldASCII(name)] = true
		if inPK > 0 {
			pk[foldASCII(name)] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read columns of %s: %w", table, err)
	}
	return cols, pk, nil
}

// keyIsUnique reports whether keys is exactly the table's primary key or the
// columns of one of its unique indexes (what ON CONFLICT (key) needs).
func keyIsUnique(ctx context.Context, tx *sql.Tx, table string, keys, pk map[string]bool) (bool, error) {
	same := func(a, b map[string]bool) bool {
		if len(a) != len(b) {
			return false
		}
		for k := range a {
			if !b[k] {
				return false
			}
		}
		return true
	}
	if same(keys, pk) {
		return true, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_index_list(?) WHERE "unique" AND partial = 0`, table)
	if err != nil {
		return false, fmt.Errorf("read indexes of %s: %w", table, err)
	}
	var indexes []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return false, fmt.Errorf("read indexes of %s: %w", table, err)
		}
		indexes = append(indexes, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read indexes of %s: %w", table, err)
	}
	for _, ix := range indexes {
		cols := map[string]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT name FROM pragma_index_info(?)`, ix)
		if err != nil {
			return false, fmt.Errorf("read index %s: %w", ix, err)
		}
		expr := false
		for rows.Next() {
			var n sql.NullString // NULL for an expression
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return false, fmt.Errorf("read index %s: %w", ix, err)
			}
			expr = expr || !n.Valid
			cols[foldASCII(n.String)] = true
		}
		rows.Close()
		if !expr && same(keys, cols) {
			return true, nil
		}
	}
	return false, nil
}

// dropLeftovers drops the new tables of other replace-mode runs of t that
// ended before Finish (the process was killed); the caller holds the
// pipeline's lock, so none of them is still loading.
func dropLeftovers(ctx context.Context, tx *sql.Tx, t engine.Table) error {
	prefix := TableName(t) + newTableMarker
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		return fmt.Errorf("find leftover tables: %w", err)
	}
	var drop []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("find leftover tables: %w", err)
		}
		id, ok := strings.CutPrefix(n, prefix)
		if ok && id != "" && strings.Trim(id, "0123456789") == "" && n != newTableName(t) {
			drop = append(drop, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find leftover tables: %w", err)
	}
	for _, n := range drop {
		if _, err := tx.ExecContext(ctx, "DROP TABLE "+quote(n)); err != nil {
			return fmt.Errorf("drop leftover table %s: %w", n, err)
		}
	}
	return nil
}

// Finish ends the load of t. In replace mode, with ok it swaps the new table
// in for the target in one transaction (the target's own indexes and triggers
// go with it; views over it keep working); without ok it drops the new table.
// Other modes have nothing to finish.
func (w *Warehouse) Finish(ctx context.Context, t engine.Table, ok bool) error {
	if t.Mode != engine.ModeReplace {
		return nil
	}
	if err := w.finishReplace(ctx, t, ok); err != nil {
		verb := "swap in"
		if !ok {
			verb = "drop"
		}
		return fmt.Errorf("sink sqlite: finish %s: %s %s: %w", t.QualifiedName(), verb, newTableName(t), err)
	}
	return nil
}

func (w *Warehouse) finishReplace(ctx context.Context, t engine.Table, ok bool) error {
	if err := checkTable(t); err != nil {
		return err
	}
	newName, target := newTableName(t), TableName(t)
	if !ok {
		_, err := w.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+quote(newName))
		return err
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Legacy renaming leaves views and triggers that name the target alone,
	// so they resolve to the swapped-in table; the modern rename would refuse
	// to run while a view names the dropped target.
	if _, err := conn.ExecContext(ctx, "PRAGMA legacy_alter_table = ON"); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA legacy_alter_table = OFF")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, newName).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return errors.New("no such table (was Prepare called for this run?)")
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+quote(target)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "ALTER TABLE "+quote(newName)+" RENAME TO "+quote(target)); err != nil {
		return err
	}
	return tx.Commit()
}

// Write lands b's rows in one transaction with its rejects and state.
//
// Upsert counts exactly, row by row: a new key is created, an existing row
// whose stored values all equal the new ones (compared by SQLite, on the
// stored form) is unchanged, any other is updated. One query a chunk of rows
// finds the keys already stored; then each row costs one statement. Append and replace insert
// every row (created). A row the database refuses (a constraint, a value too
// big, a null key) is stored as a reject with check "database" and the
// database's message, and counted as failed; the rest land.
func (w *Warehouse) Write(ctx context.Context, t engine.Table, b engine.Batch) (engine.Counts, error) {
	c, err := w.write(ctx, t, b)
	if err != nil {
		return engine.Counts{}, fmt.Errorf("sink sqlite: write %d rows to %s: %w", len(b.Rows), t.QualifiedName(), err)
	}
	return c, nil
}

// plan holds a write's statements. The INSERT and UPDATE number their
// parameters ?1..?n after the columns, so one argument slice binds both.
type plan struct {
	table  string    // quoted
	insert *sql.Stmt // INSERT; in upsert mode ON CONFLICT (key) DO NOTHING
	update *sql.Stmt // upsert: UPDATE … WHERE key AND <a value differs>; nil when every column is a key
	keys   []string  // upsert: the key columns, quoted
	keyIdx []int     // positions of the key columns
}

// existsChunk bounds the rows of one existence lookup; SQLite allows 32766
// parameters a statement.
const existsChunk = 500

func (w *Warehouse) write(ctx context.Context, t engine.Table, b engine.Batch) (engine.Counts, error) {
	var counts engine.Counts
	if err := checkTable(t); err != nil {
		return counts, err
	}
	// Encode every row first: a value of the wrong type fails the batch
	// before anything is written, and the key lookup needs the keys.
	rows := make([][]any, len(b.Rows))
	for i, row := range b.Rows {
		if len(row) != len(t.Columns) {
			return counts, fmt.Errorf("%s has %d values for %d columns", rowRef(b, i), len(row), len(t.Columns))
		}
		rows[i] = make([]any, len(row))
		for j, v := range row {
			var err error
			if rows[i][j], err = encode(t.Columns[j].Type, v); err != nil {
				return counts, fmt.Errorf("%s: column %s: %w", rowRef(b, i), t.Columns[j].Name, err)
			}
		}
	}
	target := TableName(t)
	if t.Mode == engine.ModeReplace {
		target = newTableName(t)
	}

	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return counts, err
	}
	defer tx.Rollback()

	var p plan
	var exists []bool
	if len(rows) > 0 {
		if p, err = preparePlan(ctx, tx, t, target); err != nil {
			return counts, err
		}
		defer p.close()
		if t.Mode == engine.ModeUpsert {
			if exists, err = p.existing(ctx, tx, rows); err != nil {
				return counts, fmt.Errorf("look up keys: %w", err)
			}
		}
	}

	var refused []engine.Reject
	var resolve []int64 // the replayed rows' rejects, as they land
	for i, args := range rows {
		if hasPrimaryKey(t) {
			if k := nullKey(p.keyIdx, args); k >= 0 {
				// An INTEGER PRIMARY KEY would number a null key itself.
				refused = append(refused, b.RefusedReject(i, fmt.Sprintf("NOT NULL constraint failed: %s.%s (a key column is null)", target, t.Columns[k].Name)))
				counts.Failed++
				continue
			}
		}
		var outcome rowOutcome
		switch {
		case t.Mode != engine.ModeUpsert:
			_, err = p.insert.ExecContext(ctx, args...)
			outcome = created
		case exists[i]:
			outcome, err = p.updateExisting(ctx, args)
		default:
			outcome, err = p.insertNew(ctx, args)
		}
		if err != nil {
			if !rowLevel(err) {
				return counts, fmt.Errorf("%s: %w", rowRef(b, i), err)
			}
			// A ROLLBACK conflict clause or RAISE(ROLLBACK) in a trigger
			// ends the whole transaction; the rows already written are gone
			// and the next statements would autocommit. BEGIN succeeds only
			// outside a transaction.
			if _, berr := tx.ExecContext(ctx, "BEGIN"); berr == nil {
				return counts, fmt.Errorf("%s: the database rolled the transaction back: %w", rowRef(b, i), err)
			}
			refused = append(refused, b.RefusedReject(i, dbMessage(err)))
			counts.Failed++
			continue
		}
		switch outcome {
		case created:
			counts.Created++
		case updated:
			counts.Updated++
		case unchanged:
			counts.Unchanged++
		}
		if i < len(b.Resolve) && b.Resolve[i] != 0 {
			resolve = append(resolve, b.Resolve[i])
		}
	}

	if err := journal(ctx, tx, b, refused, resolve, &counts); err != nil {
		return counts, err
	}
	if b.State != nil {
		kind, text := b.State.Encode()
		_, err := tx.ExecContext(ctx, `INSERT INTO etl_state (pipeline, cursor_kind, cursor_value, run_id, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (pipeline) DO UPDATE SET cursor_kind = excluded.cursor_kind, cursor_value = excluded.cursor_value,
  run_id = excluded.run_id, updated_at = excluded.updated_at`,
			b.Pipeline, kind, text, b.RunID, formatTime(time.Now()))
		if err != nil {
			return counts, fmt.Errorf("save state: %w", err)
		}
	}
	if err := markInbox(ctx, tx, b); err != nil {
		return counts, err
	}
	if err := tx.Commit(); err != nil {
		return counts, fmt.Errorf("commit: %w", err)
	}
	return counts, nil
}

type rowOutcome int

const (
	created rowOutcome = iota + 1
	updated
	unchanged
)

func preparePlan(ctx context.Context, tx *sql.Tx, t engine.Table, table string) (p plan, err error) {
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.table = quote(table)
	keys := keySet(t)
	var cols, params, where, differ, set []string
	for i, c := range t.Columns {
		q, param := quote(c.Name), "?"+strconv.Itoa(i+1)
		cols = append(cols, q)
		params = append(params, param)
		if keys[foldASCII(c.Name)] {
			p.keys = append(p.keys, q)
			p.keyIdx = append(p.keyIdx, i)
			where = append(where, q+" = "+param)
		} else {
			differ = append(differ, q+" IS NOT "+param)
			set = append(set, q+" = "+param)
		}
	}
	insert := "INSERT INTO " + p.table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(params, ", ") + ")"
	if t.Mode != engine.ModeUpsert {
		p.insert, err = tx.PrepareContext(ctx, insert)
		return p, err
	}
	insert += " ON CONFLICT (" + strings.Join(p.keys, ", ") + ") DO NOTHING"
	if p.insert, err = tx.PrepareContext(ctx, insert); err != nil {
		return p, err
	}
	if len(set) > 0 {
		// WHERE names every parameter: the keys, then the others in the
		// comparison, as SQLite requires of numbered parameters bound by
		// position.
		update := "UPDATE " + p.table + " SET " + strings.Join(set, ", ") +
			" WHERE " + strings.Join(where, " AND ") + " AND (" + strings.Join(differ, " OR ") + ")"
		if p.update, err = tx.PrepareContext(ctx, update); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (p plan) close() {
	for _, s := range []*sql.Stmt{p.insert, p.update} {
		if s != nil {
			s.Close()
		}
	}
}

// existing reports, for each row, whether its key was in the table when the
// batch began, asking SQLite (so its comparison rules and collations apply)
// in one query for up to existsChunk rows. The answer stays true for the
// whole transaction: nothing deletes rows meanwhile. Rows with a null key
// are left out.
func (p plan) existing(ctx context.Context, tx *sql.Tx, rows [][]any) ([]bool, error) {
	exists := make([]bool, len(rows))
	per := 1 + len(p.keys)
	chunk := min(existsChunk, 32766/per)
	lookup := func(idx []int) error {
		args := make([]any, 0, len(idx)*per)
		for _, i := range idx {
			args = append(args, int64(i))
			for _, k := range p.keyIdx {
				args = append(args, rows[i][k])
			}
		}
		res, err := tx.QueryContext(ctx, p.lookupSQL(len(idx)), args...)
		if err != nil {
			return err
		}
		defer res.Close()
		for res.Next() {
			var i int
			if err := res.Scan(&i); err != nil {
				return err
			}
			exists[i] = true
		}
		return res.Err()
	}
	idx := make([]int, 0, chunk)
	for i, r := range rows {
		if nullKey(p.keyIdx, r) >= 0 {
			continue
		}
		if idx = append(idx, i); len(idx) == chunk {
			if err := lookup(idx); err != nil {
				return nil, err
			}
			idx = idx[:0]
		}
	}
	if len(idx) > 0 {
		if err := lookup(idx); err != nil {
			return nil, err
		}
	}
	return exists, nil
}

// lookupSQL selects, from n (row index, key…) tuples, the indexes of the rows
// whose key is in the table; each tuple is one index lookup.
func (p plan) lookupSQL(n int) string {
	var match []string
	for j, k := range p.keys {
		match = append(match, p.table+"."+k+" = v.column"+strconv.Itoa(j+2))
	}
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", 1+len(p.keys)), ", ") + ")"
	return "SELECT v.column1 FROM (VALUES " + strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ") +
		") AS v WHERE EXISTS (SELECT 1 FROM " + p.table + " WHERE " + strings.Join(match, " AND ") + ")"
}

// insertNew lands a row whose key was not in the table when the batch began:
// created, unless an earlier row of the batch inserted the key (then the row
// is compared and updated like any existing one).
func (p plan) insertNew(ctx context.Context, args []any) (rowOutcome, error) {
	n, err := execCount(ctx, p.insert, args)
	if err != nil {
		return 0, err
	}
	if n == 1 {
		return created, nil
	}
	return p.updateExisting(ctx, args)
}

// updateExisting updates the row of an existing key when a value differs:
// updated, or unchanged when every stored value IS the new one.
func (p plan) updateExisting(ctx context.Context, args []any) (rowOutcome, error) {
	if p.update == nil {
		return unchanged, nil
	}
	n, err := execCount(ctx, p.update, args)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return unchanged, nil
	}
	return updated, nil
}

func execCount(ctx context.Context, s *sql.Stmt, args []any) (int64, error) {
	res, err := s.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// nullKey returns the position of the first key column holding NULL, or -1.
func nullKey(keyIdx []int, args []any) int {
	for _, i := range keyIdx {
		if args[i] == nil {
			return i
		}
	}
	return -1
}

// encode converts a value of a column type's Go type to the form it is stored
// in, so that SQLite compares like with like.
func encode(ct engine.ColumnType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch ct {
	case engine.TypeText, engine.TypeDecimal, engine.TypeJSON:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case engine.TypeInteger:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		}
	case engine.TypeFloat:
		switch x := v.(type) {
		case float64:
			if math.IsNaN(x) {
				return nil, nil // SQLite stores NaN as NULL; say so up front
			}
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		}
	case engine.TypeBoolean:
		if x, ok := v.(bool); ok {
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case engine.TypeTimestamp:
		if x, ok := v.(time.Time); ok {
			return formatTime(x), nil
		}
	case engine.TypeDate:
		if x, ok := v.(time.Time); ok {
			return x.Format(dateLayout), nil
		}
	default:
		return nil, fmt.Errorf("unknown column type %q", ct)
	}
	return nil, fmt.Errorf("got %T, want %s for %s", v, goTypes[ct], ct)
}

// goTypes names the Go type the engine hands over for each column type.
var goTypes = map[engine.ColumnType]string{
	engine.TypeText: "string", engine.TypeInteger: "int64", engine.TypeFloat: "float64", engine.TypeBoolean: "bool",
	engine.TypeTimestamp: "time.Time", engine.TypeDate: "time.Time", engine.TypeDecimal: "string", engine.TypeJSON: "string",
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// rowLevel reports whether err refuses one row's values (a constraint, a
// type mismatch, a value too big) rather than the write as a whole.
func rowLevel(err error) bool {
	var se interface{ Code() int }
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH:
		return true
	}
	return false
}

// driverNoise is what the driver wraps around SQLite's own message:
// "constraint failed: CHECK constraint failed: x (275)".
var driverNoise = regexp.MustCompile(`(?s)^[a-z ]+: (.*) \(\d+\)$`)

// dbMessage is SQLite's message for err, without the driver's decoration.
func dbMessage(err error) string {
	msg := err.Error()
	if m := driverNoise.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return msg
}

// rowRef names row i of b for an error: "row 3 (users.csv:12)".
func rowRef(b engine.Batch, i int) string {
	ref := fmt.Sprintf("row %d", i+1)
	if i < len(b.Origins) && b.Origins[i] != nil {
		if pos := b.Origins[i].Pos.String(); pos != "" {
			ref += " (" + pos + ")"
		}
	}
	return ref
}
