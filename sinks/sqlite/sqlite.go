// Package sqlite is the embedded default warehouse: an SQLite database file
// (etl.db in the working directory when no warehouse is configured), so a
// quickstart needs no server.
//
// It is a complete engine.Warehouse: it lands batches in tables it creates
// (upsert with exact created/updated/unchanged counts, append, replace with an
// atomic swap), keeps the engine's sync history, state and rejects in the same
// file, and takes per-pipeline run locks that die with the process.
//
// The database runs in WAL mode with one writing connection and a small pool
// of read-only connections, so history and state reads never wait for a
// batch being written. See README.md for the URL forms, how a table named
// "schema.name" is stored, and where the lock files live.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/etl-dev/etl/engine"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// busyTimeoutMS is how long a statement waits for another process's write
// lock before failing with SQLITE_BUSY.
const busyTimeoutMS = 10000

// readConns bounds the read-only pool (history and state queries).
const readConns = 4

// Register adds the sqlite sink driver (URL schemes sqlite: and file:) to r.
func Register(r *engine.Registry) {
	r.RegisterSink(engine.SinkDriver{Name: "sqlite", Schemes: []string{"sqlite", "file"}, Open: Open, Inspect: Inspect})
}

// Warehouse is an SQLite database file used as a warehouse. It is safe for
// concurrent use; writes are serialized on one connection.
type Warehouse struct {
	name string // the path as the URL gave it, for Describe
	file string // the absolute path of the database file

	db *sql.DB // the single writing connection
	ro *sql.DB // read-only connections for State and Runs

	mu    sync.Mutex
	locks map[*os.File]struct{} // run locks held, released by Close

	scratch string // Inspect's stand-in for a file not created yet: removed by Close

	newTables   sync.Map // tables this Warehouse's Prepare created (see DropIfNew)
	schemaNotes sync.Map // table → what its last Prepare changed (see SchemaNotes)
}

var (
	_ engine.Warehouse        = (*Warehouse)(nil)
	_ engine.TablePlanner     = (*Warehouse)(nil)
	_ engine.SourceStateStore = (*Warehouse)(nil)
)

// Open opens (creating when missing) the SQLite database the URL names:
// sqlite://etl.db, sqlite:etl.db and file:etl.db are relative to the working
// directory; sqlite:///abs/etl.db and file:///abs/etl.db are absolute. The
// directory must exist. Open does not migrate: call Migrate.
func Open(ctx context.Context, url string) (engine.Warehouse, error) {
	w, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Inspect opens the database the URL names for etl plan, creating nothing:
// when the file does not exist yet, it opens an empty scratch database in
// its place (removed by Close), so a plan shows what a first run would
// create.
func Inspect(ctx context.Context, url string) (engine.Warehouse, error) {
	name, err := parseURL(url)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: open %q: %w", url, err)
	}
	if _, err := os.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		return Open(ctx, url)
	}
	dir, err := os.MkdirTemp("", "etl-plan-")
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: inspect %s: %w", name, err)
	}
	w, err := open(ctx, "sqlite://"+filepath.Join(dir, "etl.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	w.name, w.file, w.scratch = name+" (not created yet)", "", dir
	return w, nil
}

func open(ctx context.Context, rawURL string) (*Warehouse, error) {
	name, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: open %q: %w", rawURL, err)
	}
	file, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: open %s: %w", name, err)
	}
	if fi, err := os.Stat(filepath.Dir(file)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("sink sqlite: open %s: directory %s does not exist", name, filepath.Dir(file))
	}

	// synchronous=NORMAL: in WAL mode a commit is durable against a crash of
	// the process and the database is never corrupted; only a power loss or
	// OS crash can roll back the last transactions. Each transaction holds a
	// batch together with the cursor it reached, so such a rollback only
	// means the rerun loads those records again (an idempotent upsert), and
	// NORMAL saves an fsync per batch.
	//
	// _txlock=immediate: every transaction on the writing connection writes,
	// so it takes the write lock at BEGIN and waits for it under
	// busy_timeout, instead of failing with SQLITE_BUSY when a read
	// transaction must be upgraded.
	writeDSN := dsn(file,
		fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS),
		"foreign_keys(1)",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
	) + "&_txlock=immediate"
	readDSN := dsn(file,
		fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS),
		"query_only(1)",
	)

	unlock, err := lockInit(ctx, file)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: open %s: %w", name, err)
	}
	defer unlock()
	db, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("sink sqlite: open %s: %w", name, err)
	}
	// One writer: SQLite serializes writers anyway, and a single connection
	// makes each Write's transaction the only one in this process.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sink sqlite: open %s: %w", name, err)
	}
	ro, err := sql.Open("sqlite", readDSN)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sink sqlite: open %s: %w", name, err)
	}
	ro.SetMaxOpenConns(readConns)
	ro.SetMaxIdleConns(readConns)
	return &Warehouse{name: name, file: file, db: db, ro: ro, locks: map[*os.File]struct{}{}}, nil
}

// parseURL returns the database path a sqlite: or file: URL names; see Open.
// Percent escapes are decoded, so a path holding '?', '#' or '%' writes them
// as %3F, %23 and %25. A URL with a query or a fragment is refused.
func parseURL(raw string) (string, error) {
	rest := raw
	if scheme, after, ok := strings.Cut(raw, ":"); ok && (strings.EqualFold(scheme, "sqlite") || strings.EqualFold(scheme, "file")) {
		rest = after
		if strings.HasPrefix(rest, "//") {
			// sqlite://etl.db is relative, sqlite:///abs/etl.db absolute;
			// file://localhost/abs/etl.db is the absolute file URI form.
			rest = rest[2:]
			if strings.HasPrefix(rest, "localhost/") {
				rest = rest[len("localhost"):]
			}
		}
	} else if ok && len(scheme) > 1 && !strings.ContainsAny(scheme, `/\.`) {
		return "", fmt.Errorf("unknown scheme %q: use sqlite or file", scheme)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", errors.New("a sqlite URL takes no query or fragment (escape '?' as %3F and '#' as %23 in a path)")
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("decode path: %w", err)
	}
	if p == "" {
		return "", errors.New("no database path: use e.g. sqlite://etl.db")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("database path holds a NUL byte")
	}
	if runtime.GOOS == "windows" && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/x/etl.db names C:/x/etl.db
	}
	return filepath.FromSlash(p), nil
}

// dsn builds the driver's URI for an absolute path with the given pragmas.
func dsn(file string, pragmas ...string) string {
	p := filepath.ToSlash(file)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: C:/x/etl.db becomes file:///C:/x/etl.db
	}
	var b strings.Builder
	b.WriteString("file://")
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("/-._~:", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	for i, pr := range pragmas {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString("_pragma=" + url.QueryEscape(pr))
	}
	return b.String()
}

// Describe names the warehouse: "sqlite etl.db".
func (w *Warehouse) Describe() string { return "sqlite " + w.name }

// Path returns the absolute path of the database file.
func (w *Warehouse) Path() string { return w.file }

// Close releases the run locks still held and closes the database.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	var errs []error
	for f := range w.locks {
		errs = append(errs, unlockFile(f), f.Close())
		delete(w.locks, f)
	}
	w.mu.Unlock()
	errs = append(errs, w.ro.Close(), w.db.Close())
	if w.scratch != "" {
		errs = append(errs, os.RemoveAll(w.scratch))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sink sqlite: close %s: %w", w.name, err)
	}
	return nil
}
