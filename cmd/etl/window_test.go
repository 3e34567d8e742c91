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

// TestSinceIsCheckedBeforeAnythingRuns: a --since that is not a value of
// the cursor's type, or any window on a pipeline without a cursor, is a
// usage error: no warehouse is created and no run recorded.
func TestSinceIsCheckedBeforeAnythingRuns(t *testing.T) {
	pl, wh := contactsSetup(t, 3)
	db := strings.TrimPrefix(wh, "sqlite://")
	for _, args := range [][]string{
		{"--since", "yesterday"},
		{"--since", "2024-13-01"},
		{"--until", "soon"},
		{"--since", "2024-02-01", "--until", "2024-01-01"},
	} {
		code, out, errOut := runCLI(t, append([]string{"run", pl}, args...)...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, errOut)
		assert.Contains(t, errOut, "nothing was run", args)
		assert.Empty(t, out, "no summary")
		assert.NoFileExists(t, db, "%v: no warehouse created", args)
	}
	code, _, errOut := runCLI(t, "run", pl, "--since", "2024-13-01")
	require.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `--since: "2024-13-01" is not a date or timestamp`)
	code, _, errOut = runCLI(t, "plan", pl, "--since", "yesterday")
	assert.Equal(t, exitUsage, code, errOut)

	// No incremental block: --since cannot apply.
	dir := filepath.Dir(pl)
	src, err := os.ReadFile(pl)
	require.NoError(t, err)
	flat := strings.Replace(string(src), "incremental {\n    cursor = \"updated_at\"\n  }", "", 1)
	require.NotEqual(t, string(src), flat)
	flatPath := filepath.Join(dir, "flat.hcl")
	require.NoError(t, os.WriteFile(flatPath, []byte(flat), 0o644))
	code, _, errOut = runCLI(t, "run", flatPath, "--since", "2024-01-01")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--since needs an incremental block in pipeline contacts")
	assert.NoFileExists(t, db)
}

// TestUntilBackfillsAWindowWithoutMovingTheCursor: records after --until
// are skipped, and the saved cursor stays where it was.
func TestUntilBackfillsAWindowWithoutMovingTheCursor(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	// updated_at 2024-01-01 … 2024-01-10, one a day.
	writeContacts(t, csvPath, 10, func(i int) string {
		return fmt.Sprintf("%d,user%d@example.com,User %d,1.00,2024-01-%02dT00:00:00Z", i, i, i, i)
	})
	wh := "sqlite://" + filepath.Join(dir, "w.db")
	pl := filepath.Join(dir, "contacts.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(contactsPipeline(csvPath, fmt.Sprintf("url = %q", wh))), 0o644))

	code, out, errOut := runCLI(t, "run", pl, "--since", "2024-01-03", "--until", "2024-01-05")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "processed 3 = created 3 + updated 0 + unchanged 0 + rejected 0 + failed 0; skipped before cursor 7")
	code, out, _ = runCLI(t, "state", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "contacts has no saved cursor", "a windowed run saves no cursor")

	code, _, _ = runCLI(t, "run", pl, "--until", "2024-01-02")
	require.Equal(t, exitOK, code)
	code, out, _ = runCLI(t, "state", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "contacts has no saved cursor")

	code, out, _ = runCLI(t, "run", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "processed 10 = created 5 + updated 0 + unchanged 5")
	code, out, _ = runCLI(t, "state", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "2024-01-10T00:00:00Z")
}
