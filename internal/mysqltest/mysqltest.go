// Package mysqltest gives integration tests a MariaDB (or MySQL) database of
// their own: a fresh database on the real server, dropped when the test ends.
//
// The server is ETL_TEST_MYSQL_DSN, a go-sql-driver/mysql DSN without a
// database name, default root@tcp(127.0.0.1:3306)/. When it cannot be reached
// the test is skipped, unless ETL_TEST_REQUIRE_DB=1 (CI sets it): then it
// fails.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultDSN is the server tests use when ETL_TEST_MYSQL_DSN is unset.
const DefaultDSN = "root@tcp(127.0.0.1:3306)/"

// ServerConfig returns the test server's connection settings, with no
// database selected, skipping or failing the test (see the package doc) when
// the server cannot be reached.
func ServerConfig(t testing.TB) *mysql.Config {
	t.Helper()
	dsn := os.Getenv("ETL_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = DefaultDSN
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("ETL_TEST_MYSQL_DSN: %v", err)
	}
	cfg.DBName = ""
	cfg.Timeout = 5 * time.Second
	db, err := open(cfg)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		if os.Getenv("ETL_TEST_REQUIRE_DB") == "1" {
			t.Fatalf("MariaDB is required (ETL_TEST_REQUIRE_DB=1) but unreachable: %v", err)
		}
		t.Skipf("MariaDB unreachable (set ETL_TEST_REQUIRE_DB=1 to fail instead): %v", err)
	}
	return cfg
}

// DSN creates a fresh database (t_<random>) for the test and returns a DSN
// that selects it. The database is dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	cfg := ServerConfig(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	db, err := open(cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := open(cfg)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS `" + name + "`")
	})
	c := cfg.Clone()
	c.DBName = name
	return c.FormatDSN()
}

// Exec runs script, which may hold many statements separated by semicolons,
// on the database dsn names, failing the test on the first error.
func Exec(t testing.TB, dsn, script string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	cfg.MultiStatements = true
	db, err := open(cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec(script); err != nil {
		t.Fatalf("exec script: %v", err)
	}
}

// Open returns a connection pool to the database dsn names, closed when the
// test ends.
func Open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	db, err := open(cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func open(cfg *mysql.Config) (*sql.DB, error) {
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
