#!/bin/sh
# Runs the whole fault campaign of issue 6 (see faults/README.md): builds the
# etl binary once, runs every Faults test with the full numbers against the
# real PostgreSQL and MariaDB, and ends with the one summary line
#   faults: N kills, N recovered, 0 lost, 0 duplicated; N outages survived of N; 0 secrets leaked …
# Extra arguments go to go test (e.g. -v, or -run Crash).
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/etl" ./cmd/etl
start=$(date +%s)
status=0
# Local directory mode (no package argument), so go test shows the summary
# line TestMain prints even when every test passes.
(cd faults && ETL_FAULTS=1 ETL_FAULTS_BIN="$tmp/etl" ETL_TEST_REQUIRE_DB=1 \
	go test -run Faults -count=1 -timeout 15m "$@") || status=$?
echo "faults: campaign took $(( $(date +%s) - start ))s"
exit $status
