// Package pgtest gives integration tests a PostgreSQL warehouse of their own:
// a fresh schema on the real server, selected through the URL's search_path
// and dropped when the test ends.
//
// The server is ETL_TEST_POSTGRES_URL, default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. When it cannot be
// reached the test is skipped, unless ETL_TEST_REQUIRE_DB=1 (CI sets it): then
// it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tests use when ETL_TEST_POSTGRES_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerURL returns the test server's URL, skipping or failing the test (see
// the package doc) when the server cannot be reached.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("ETL_TEST_POSTGRES_URL")
	if u == "" {
		u = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		if os.Getenv("ETL_TEST_REQUIRE_DB") == "1" {
			t.Fatalf("PostgreSQL is required (ETL_TEST_REQUIRE_DB=1) but unreachable: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (set ETL_TEST_REQUIRE_DB=1 to fail instead): %v", err)
	}
	return u
}

// URL creates a fresh schema for the test and returns a URL whose
// search_path selects it, so unqualified tables (the engine's own included)
// land there. The schema is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Schema returns the schema that URL(t) selected, from its search_path.
func Schema(t testing.TB, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	return p.Query().Get("search_path")
}
