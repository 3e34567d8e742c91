package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/etl-dev/etl/engine"
)

// Schema drift in SQLite. A column's declared type only gives it an
// affinity, and SQLite stores any value in any column; but the affinity
// converts what is stored: text "007" lands as the integer 7 in an INTEGER
// column, an integer as text in a TEXT one. So drift here is a column whose
// affinity differs from the one the sink gives the declared type (INTEGER
// where the pipeline now maps text; TEXT where it maps float): every such
// change would alter values as they land. Columns of an affinity the sink
// never creates (NUMERIC, BLOB) are the owner's choice and never reported.
//
// SQLite cannot change a column's type in place. The lossless widening it
// can make — INTEGER or REAL to TEXT (CAST keeps every value's text) — is
// done for a column outside the key by renaming it, adding the column
// with the new type, copying the values over and dropping the old one, in
// Prepare's transaction. Anything else is refused with those statements.

type drift struct {
	column   string
	have     string // the declared type in the table
	want     engine.ColumnType
	lossless bool
}

// affinity is SQLite's column affinity for a declared type (section 3.1
// of the SQLite datatype documentation).
func affinity(decl string) string {
	d := strings.ToUpper(decl)
	switch {
	case strings.Contains(d, "INT"):
		return "INTEGER"
	case strings.Contains(d, "CHAR"), strings.Contains(d, "CLOB"), strings.Contains(d, "TEXT"):
		return "TEXT"
	case d == "", strings.Contains(d, "BLOB"):
		return "BLOB"
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"):
		return "REAL"
	}
	return "NUMERIC"
}

// columnDrift returns the drifted columns of the existing table.
func columnDrift(ctx context.Context, tx *sql.Tx, t engine.Table, table string) ([]drift, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		have[foldASCII(name)] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	keys := keySet(t)
	var out []drift
	for _, c := range t.Columns {
		h, ok := have[foldASCII(c.Name)]
		if !ok || keys[foldASCII(c.Name)] {
			continue // a key column's type is the table's own: SQLite compares keys by its rules
		}
		ha := affinity(h)
		want, _ := sqlType(c.Type)
		if ha == want || (ha != "TEXT" && ha != "INTEGER" && ha != "REAL") {
			continue
		}
		out = append(out, drift{column: c.Name, have: h, want: c.Type,
			lossless: want == "TEXT"})
	}
	return out, nil
}

// rebuildSQL are the statements that give d's column of table the
// declared type, keeping its values as text.
func (d drift) rebuildSQL(table string) []string {
	typ, _ := sqlType(d.want)
	old := quote(d.column + "__etl_old")
	col := quote(d.column)
	return []string{
		"ALTER TABLE " + quote(table) + " RENAME COLUMN " + col + " TO " + old,
		"ALTER TABLE " + quote(table) + " ADD COLUMN " + col + " " + typ,
		"UPDATE " + quote(table) + " SET " + col + " = CAST(" + old + " AS " + typ + ")",
		"ALTER TABLE " + quote(table) + " DROP COLUMN " + old,
	}
}

// driftDDL returns the statements that widen t's drifted columns, and a
// DriftError for the changes the run may not make itself.
func driftDDL(ctx context.Context, tx *sql.Tx, t engine.Table, table string) ([]string, error) {
	drifts, err := columnDrift(ctx, tx, t, table)
	if err != nil || len(drifts) == 0 {
		return nil, err
	}
	var stmts, refused []string
	for _, d := range drifts {
		if d.lossless && t.SchemaChanges != engine.SchemaFail {
			stmts = append(stmts, d.rebuildSQL(table)...)
			continue
		}
		typ, _ := sqlType(d.want)
		why := "SQLite would change the values that land (its column affinity), and it cannot change a column's type in place"
		if d.lossless {
			why = `schema_changes = "fail"`
		}
		refused = append(refused, fmt.Sprintf("column %s is %s in the table, the pipeline declares %s (%s): %s; to change it run: %s; or rebuild the table with mode = \"replace\" for one run",
			d.column, d.have, d.want, typ, why, strings.Join(d.rebuildSQL(table), "; ")))
	}
	if len(refused) > 0 {
		return stmts, &engine.DriftError{Table: table, Changes: refused}
	}
	return stmts, nil
}

// schemaNotes says what Prepare is about to change in t's existing table:
// columns added while it holds rows, types widened.
func schemaNotes(ctx context.Context, tx *sql.Tx, t engine.Table) ([]string, error) {
	name := TableName(t)
	have, _, err := tableColumns(ctx, tx, name)
	if err != nil || len(have) == 0 {
		return nil, err
	}
	var notes, added []string
	for _, c := range t.Columns {
		if !have[foldASCII(c.Name)] {
			added = append(added, c.Name)
		}
	}
	if len(added) > 0 {
		var rows bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(name)+")").Scan(&rows); err != nil {
			return nil, err
		}
		if rows {
			notes = append(notes, fmt.Sprintf("added column %s to %s: the rows already there hold NULL in it until they are read again (run with --full-refresh to fill them all)",
				strings.Join(added, ", "), name))
		}
	}
	drifts, err := columnDrift(ctx, tx, t, name)
	if err != nil {
		return nil, err
	}
	for _, d := range drifts {
		if d.lossless && t.SchemaChanges != engine.SchemaFail {
			typ, _ := sqlType(d.want)
			notes = append(notes, fmt.Sprintf("widened column %s of %s from %s to %s", d.column, name, d.have, typ))
		}
	}
	return notes, nil
}

// SchemaNotes returns what the last Prepare of t changed in it.
func (w *Warehouse) SchemaNotes(t engine.Table) []string {
	v, ok := w.schemaNotes.Load(TableName(t))
	if !ok {
		return nil
	}
	return v.([]string)
}

var _ engine.SchemaNoter = (*Warehouse)(nil)
