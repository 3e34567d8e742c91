// Package faults is the crash, outage, concurrency and hostile-input
// campaign of issue 6: tests that run the real etl binary against the real
// PostgreSQL and MariaDB and fake HTTP servers, break things on purpose
// (SIGKILL, cut connections, dropped and hung responses, two runs at once,
// broken error budgets, leaked secrets) and check the guarantees of
// DESIGN.md after each fault.
//
// A plain `go test ./faults` runs a small smoke version (2 kills a source,
// short outages); `go test ./faults -faults` or ETL_FAULTS=1, or
// faults/run.sh, runs the whole campaign. See README.md.
package faults
