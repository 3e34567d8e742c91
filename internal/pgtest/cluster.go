package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a throwaway PostgreSQL server of the test's own: initdb into a
// temporary directory, pg_ctl on a free loopback port, trust
// authentication. A test that must see the warehouse crash, restart or go
// away restarts or stops this one, never the shared server. It is stopped
// and removed when the test ends.
type Cluster struct {
	dir  string // the data directory
	bin  string // the PostgreSQL binaries
	port int
	cred *syscall.Credential // as whom the server runs (initdb refuses root)
}

// NewCluster creates and starts a cluster. Without PostgreSQL binaries
// (/usr/lib/postgresql/*/bin, or pg_ctl on PATH) the test is skipped, or
// fails when ETL_TEST_REQUIRE_DB=1.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		if os.Getenv("ETL_TEST_REQUIRE_DB") == "1" {
			t.Fatalf("PostgreSQL binaries are required (ETL_TEST_REQUIRE_DB=1): %v", err)
		}
		t.Skipf("no PostgreSQL binaries for a throwaway cluster: %v", err)
	}
	top, err := os.MkdirTemp("", "pgtest-cluster-")
	if err != nil {
		t.Fatalf("throwaway cluster: %v", err)
	}
	c := &Cluster{dir: filepath.Join(top, "data"), bin: bin}
	t.Cleanup(func() {
		_ = c.pgctl("stop", "-m", "immediate")
		_ = os.RemoveAll(top)
	})
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		t.Fatalf("throwaway cluster: %v", err)
	}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: run them as postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("throwaway cluster: running as root, and %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, d := range []string{top, c.dir} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatalf("throwaway cluster: %v", err)
			}
		}
	}
	if out, err := c.command("initdb", "-D", c.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		t.Fatalf("throwaway cluster: initdb: %v\n%s", err, out)
	}
	conf := "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nfsync = off\nfull_page_writes = off\nmax_connections = 40\nshared_buffers = 16MB\n"
	f, err := os.OpenFile(filepath.Join(c.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatalf("throwaway cluster: configure: %v", err)
	}
	// A free port can be taken by another process before the server binds
	// it: try a few.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			err = c.Start()
		}
		if err == nil || attempt == 4 {
			break
		}
	}
	if err != nil {
		t.Fatalf("throwaway cluster: %v", err)
	}
	return c
}

// URL is the cluster's postgres:// URL (database postgres).
func (c *Cluster) URL() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(c.port) + "/postgres?sslmode=disable"
}

// Start starts the stopped server and waits until it accepts connections.
func (c *Cluster) Start() error {
	return c.pgctl("start", "-o", "-p "+strconv.Itoa(c.port))
}

// Stop stops the server at once, as a crash would (immediate mode: no
// checkpoint, the next start recovers from the WAL), and waits until it is
// gone.
func (c *Cluster) Stop() error { return c.pgctl("stop", "-m", "immediate") }

// Restart restarts the server in immediate mode, as a crash and a restart
// would: every session dies mid-statement, and sessions' advisory locks are
// gone.
func (c *Cluster) Restart() error {
	return c.pgctl("restart", "-m", "immediate", "-o", "-p "+strconv.Itoa(c.port))
}

// Ready reports whether the server accepts connections now.
func (c *Cluster) Ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx) == nil
}

func (c *Cluster) pgctl(args ...string) error {
	args = append(args, "-D", c.dir, "-w", "-t", "60", "-l", filepath.Join(filepath.Dir(c.dir), "server.log"))
	if out, err := c.command("pg_ctl", args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(c.dir), "server.log"))
		return fmt.Errorf("pg_ctl %s: %v\n%s\n%s", args[0], err, out, tail(string(log), 2000))
	}
	return nil
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = filepath.Dir(c.dir)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// binDir finds the PostgreSQL server binaries: the newest
// /usr/lib/postgresql/*/bin, else pg_ctl's directory on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	p, err := exec.LookPath("pg_ctl")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:][strings.IndexByte(s[len(s)-n:], '\n')+1:]
}
