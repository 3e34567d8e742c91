package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeletesAfterACompleteFullRead drives soft deletes through etl run:
// only a complete full read deletes, within max_delete_share; a full read
// of nothing is a warning.
func TestDeletesAfterACompleteFullRead(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	wh := "sqlite://" + filepath.Join(dir, "w.db")
	pl := filepath.Join(dir, "contacts.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(contactsPipeline(csvPath, fmt.Sprintf("url = %q\n    deletes = \"soft\"\n    max_delete_share = \"20%%\"", wh))), 0o644))
	only := func(skip ...int) func(int) string {
		return func(i int) string {
			for _, s := range skip {
				if i == s {
					return fmt.Sprintf("%d,user%d@example.com,User %d,1.00,2024-01-01T00:00:00Z", i+1000, i, i)
				}
			}
			return goodContact(i)
		}
	}
	writeContacts(t, csvPath, 10, goodContact)
	code, out, errOut := runCLI(t, "run", pl)
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, out, "deleted")

	// Row 4 leaves the source (id 1004 comes instead). An incremental run
	// does not delete.
	writeContacts(t, csvPath, 10, only(4))
	code, out, errOut = runCLI(t, "run", pl)
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, out, "deleted")
	// --limit is not a complete read.
	code, out, _ = runCLI(t, "run", pl, "--full-refresh", "--limit", "5")
	require.Equal(t, exitOK, code)
	assert.NotContains(t, out, "deleted")
	// A complete full read marks row 4.
	code, out, errOut = runCLI(t, "run", pl, "--full-refresh")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "deleted 1")
	code, out, _ = runCLI(t, "history", "--warehouse", wh, "--limit", "1")
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `(?m)^4\s+contacts\s+.*\s+success\s+run\s+10\s+0\s+0\s+10\s+0\s+0\s+0\s+1\s+0\s+0\s+-\s*$`, out)
	// Again: already marked, nothing more.
	code, out, _ = runCLI(t, "run", pl, "--full-refresh")
	require.Equal(t, exitOK, code)
	assert.NotContains(t, out, "deleted")

	// Three more rows leave: 3 of 10 live rows is above 20%: nothing is deleted, a warning.
	writeContacts(t, csvPath, 10, only(4, 5, 6, 7))
	code, out, errOut = runCLI(t, "run", pl, "--full-refresh")
	assert.Equal(t, exitWarning, code)
	assert.NotContains(t, out, "deleted")
	assert.Contains(t, errOut, "etl run: warning: 3 of the 13 rows of crm.contacts were not in the source (23.1%), more than max_delete_share 20.0%: nothing was deleted")
	code, out, _ = runCLI(t, "history", "--warehouse", wh, "--limit", "1", "--format", "json")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, `"error": "warning: 3 of the 13 rows`)

	// A rejected record makes the run partial: no deletes either.
	writeContacts(t, csvPath, 10, func(i int) string {
		if i == 2 {
			return "2,,nobody,1.00,2024-01-01T00:00:00Z"
		}
		return only(4, 5)(i)
	})
	code, out, _ = runCLI(t, "run", pl, "--full-refresh")
	assert.Equal(t, exitPartial, code)
	assert.NotContains(t, out, "deleted")

	// A source of no records while the table holds rows: a warning, never a silent success.
	writeContacts(t, csvPath, 0, nil)
	code, out, errOut = runCLI(t, "run", pl, "--full-refresh")
	assert.Equal(t, exitWarning, code)
	assert.Contains(t, out, "success: contacts")
	assert.Contains(t, errOut, "warning: a full read returned no records, but table crm.contacts holds rows")
	assert.Equal(t, 1, strings.Count(errOut, "warning:"))
}

// TestMapDeletedMarksRows: a map deleted condition soft-deletes the rows
// whose record says so, in any run, and a row read again undeleted loses
// its mark.
func TestMapDeletedMarksRows(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "things.csv")
	wh := "sqlite://" + filepath.Join(dir, "w.db")
	pl := filepath.Join(dir, "things.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(fmt.Sprintf(`pipeline "things" {
  system = "test"
  entity = "things"
  source "csv" {
    path = %q
  }
  map {
    id      = "int(record.id)"
    name    = "record.name"
    deleted = "record.archived == 'true'"
  }
  sink "warehouse" {
    url   = %q
    table = "things"
    key   = ["id"]
  }
}
`, csvPath, wh)), 0o644))
	write := func(s string) { require.NoError(t, os.WriteFile(csvPath, []byte("id,name,archived\n"+s), 0o644)) }
	write("1,a,false\n2,b,true\n3,c,false\n")
	code, out, errOut := runCLI(t, "run", pl)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "created 3")
	assert.Contains(t, out, "deleted 1")
	write("1,a,true\n2,b,false\n3,c,false\n")
	code, out, _ = runCLI(t, "run", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "deleted 1")
	code, out, _ = runCLI(t, "history", "--warehouse", wh, "--format", "json", "--limit", "1")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, `"deleted": 1`)
}
