package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/etl-dev/etl/engine"
)

// Schema drift: a column of an existing table whose type is of another
// family than the declared one (bigint where the pipeline now maps text,
// numeric where it maps float). Types of the same family (varchar(10) for
// text, integer for bigint, json for jsonb, timestamp without time zone)
// are the table owner's choice and no drift; types the sink does not know
// (uuid, arrays) are never reported.

// drift is one column whose type differs from the declared one.
type drift struct {
	column   string
	have     string // the table's type, as format_type gives it
	want     engine.ColumnType
	lossless bool // a widening that keeps every value: schema_changes = "widen" applies it
}

// family is the column type a PostgreSQL type belongs to; "" when unknown.
func family(sqlType string) engine.ColumnType {
	switch {
	case sqlType == "text" || sqlType == "citext" || strings.HasPrefix(sqlType, "character"):
		return engine.TypeText
	case sqlType == "smallint" || sqlType == "integer" || sqlType == "bigint":
		return engine.TypeInteger
	case sqlType == "real" || sqlType == "double precision":
		return engine.TypeFloat
	case strings.HasPrefix(sqlType, "numeric"):
		return engine.TypeDecimal
	case sqlType == "boolean":
		return engine.TypeBoolean
	case strings.HasPrefix(sqlType, "timestamp"):
		return engine.TypeTimestamp
	case sqlType == "date":
		return engine.TypeDate
	case sqlType == "json" || sqlType == "jsonb":
		return engine.TypeJSON
	}
	return ""
}

// lossless reports whether every value of family from converts to want
// exactly: anything to text, integers to numeric, dates to timestamps.
func lossless(from, want engine.ColumnType) bool {
	switch want {
	case engine.TypeText:
		return true
	case engine.TypeDecimal:
		return from == engine.TypeInteger
	case engine.TypeTimestamp:
		return from == engine.TypeDate
	}
	return false
}

// alterSQL is the statement that changes d's column of table to its
// declared type.
func (d drift) alterSQL(table string) string {
	col := pgx.Identifier{d.column}.Sanitize()
	using := col + "::" + sqlType[d.want]
	if family(d.have) == engine.TypeDate && d.want == engine.TypeTimestamp {
		using = "(" + col + "::timestamp AT TIME ZONE 'UTC')" // a date is 00:00 UTC of the day, as the engine lands it
	}
	return "ALTER TABLE " + table + " ALTER COLUMN " + col + " TYPE " + sqlType[d.want] + " USING " + using
}

func (d drift) describe() string {
	return fmt.Sprintf("column %s is %s in the table, the pipeline declares %s (%s)", d.column, d.have, d.want, sqlType[d.want])
}

// columnDrift returns the drifted columns of t's existing table oid.
func columnDrift(ctx context.Context, tx pgx.Tx, t engine.Table, oid uint32) ([]drift, error) {
	rows, err := tx.Query(ctx, `SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, oid)
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	var name, typ string
	if _, err := pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		have[name] = typ
		return nil
	}); err != nil {
		return nil, err
	}
	var out []drift
	for _, c := range t.Columns {
		h, ok := have[c.Name]
		if !ok {
			continue // missing: added
		}
		f := family(h)
		if f == "" || f == c.Type {
			continue
		}
		out = append(out, drift{column: c.Name, have: h, want: c.Type, lossless: lossless(f, c.Type)})
	}
	return out, nil
}

// driftDDL returns the statements that apply t's drift to its existing
// table oid, and a DriftError for the changes the run may not make itself.
// In replace mode the new table (empty, LIKE the target) takes the declared
// types whatever the policy.
func driftDDL(ctx context.Context, tx pgx.Tx, t engine.Table, oid uint32) ([]string, error) {
	drifts, err := columnDrift(ctx, tx, t, oid)
	if err != nil || len(drifts) == 0 {
		return nil, err
	}
	var stmts, refused []string
	for _, d := range drifts {
		switch {
		case t.Mode == engine.ModeReplace:
			stmts = append(stmts, d.alterSQL(destination(t).Sanitize()))
		case d.lossless && t.SchemaChanges != engine.SchemaFail:
			stmts = append(stmts, d.alterSQL(ident(t, t.Name).Sanitize()))
		default:
			why := "not a lossless widening"
			if d.lossless {
				why = `schema_changes = "fail"`
			}
			refused = append(refused, fmt.Sprintf("%s: %s; to change it run: %s", d.describe(), why, d.alterSQL(ident(t, t.Name).Sanitize())))
		}
	}
	if len(refused) > 0 {
		return stmts, &engine.DriftError{Table: t.QualifiedName(), Changes: refused}
	}
	return stmts, nil
}

// schemaNotes says what Prepare is about to change in t's existing table
// that a reader of the run's summary should know: columns added while the
// table holds rows (NULL in them until the rows are read again) and types
// widened.
func schemaNotes(ctx context.Context, tx pgx.Tx, t engine.Table) ([]string, error) {
	if t.Mode == engine.ModeReplace {
		return nil, nil
	}
	target := ident(t, t.Name).Sanitize()
	var oid *uint32
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::oid`, target).Scan(&oid); err != nil || oid == nil {
		return nil, err
	}
	var notes []string
	adds, err := missingColumns(ctx, tx, t, *oid)
	if err != nil {
		return nil, err
	}
	if len(adds) > 0 {
		var rows bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+target+")").Scan(&rows); err != nil {
			return nil, err
		}
		if rows {
			var names []string
			have := map[string]bool{}
			rs, err := tx.Query(ctx, `SELECT attname::text FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, *oid)
			if err != nil {
				return nil, err
			}
			cols, err := pgx.CollectRows(rs, pgx.RowTo[string])
			if err != nil {
				return nil, err
			}
			for _, c := range cols {
				have[c] = true
			}
			for _, c := range t.Columns {
				if !have[c.Name] {
					names = append(names, c.Name)
				}
			}
			notes = append(notes, fmt.Sprintf("added column %s to %s: the rows already there hold NULL in it until they are read again (run with --full-refresh to fill them all)",
				strings.Join(names, ", "), t.QualifiedName()))
		}
	}
	drifts, err := columnDrift(ctx, tx, t, *oid)
	if err != nil {
		return nil, err
	}
	for _, d := range drifts {
		if d.lossless && t.SchemaChanges != engine.SchemaFail {
			notes = append(notes, fmt.Sprintf("widened column %s of %s from %s to %s", d.column, t.QualifiedName(), d.have, sqlType[d.want]))
		}
	}
	return notes, nil
}

// SchemaNotes returns what the last Prepare of t changed in it.
func (w *Warehouse) SchemaNotes(t engine.Table) []string {
	v, ok := w.schemaNotes.Load(ident(t, t.Name).Sanitize())
	if !ok {
		return nil
	}
	return v.([]string)
}

var _ engine.SchemaNoter = (*Warehouse)(nil)
