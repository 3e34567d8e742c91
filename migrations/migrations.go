// Package migrations holds the engine's own tables (sync history, state,
// rejects) as versioned SQL, one folder per SQL dialect. Sinks apply them in
// version order and record each applied version in etl_schema_migrations, so
// applying them again is a no-op.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Migration is one versioned SQL script.
type Migration struct {
	Version int    // from the file name's numeric prefix: 0001_x.sql is 1
	Name    string // the file name
	SQL     string // one or more statements
}

// Dialects with migrations.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// For returns the dialect's migrations in version order.
func For(dialect string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %q: %w", dialect, err)
	}
	var out []Migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_what.sql", dialect, e.Name())
		}
		v, err := strconv.Atoi(prefix)
		if err != nil {
			return nil, fmt.Errorf("migration %s/%s: version: %w", dialect, e.Name(), err)
		}
		b, err := files.ReadFile(path.Join(dialect, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s: version %d used twice", dialect, out[i].Version)
		}
	}
	return out, nil
}
