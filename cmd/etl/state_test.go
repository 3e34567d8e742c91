package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contactsSetup writes n good contacts and the contacts pipeline landing in
// an SQLite file; it returns the pipeline file and the warehouse URL.
func contactsSetup(t *testing.T, n int) (pl, wh string) {
	t.Helper()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "contacts.csv")
	writeContacts(t, csvPath, n, goodContact)
	wh = "sqlite://" + filepath.Join(dir, "w.db")
	pl = filepath.Join(dir, "contacts.hcl")
	require.NoError(t, os.WriteFile(pl, []byte(contactsPipeline(csvPath, fmt.Sprintf("url = %q", wh))), 0o644))
	return pl, wh
}

func TestStateShowsSetsAndResetsTheCursor(t *testing.T) {
	t.Cleanup(func() { stdinIsTerminal = func() bool { return false } })
	pl, wh := contactsSetup(t, 3)
	code, out, _ := runCLI(t, "state", "--warehouse", wh)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "no saved cursors")

	code, _, errOut := runCLI(t, "run", pl)
	require.Equal(t, exitOK, code, errOut)
	code, out, _ = runCLI(t, "state", "contacts", "--warehouse", wh)
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `(?m)^contacts\s+2024-01-01T00:00:03Z\s+timestamp\s+\S+ \S+\s+run 1$`, out)
	code, out, _ = runCLI(t, "state", pl, "--format", "json")
	require.Equal(t, exitOK, code)
	var states []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &states))
	require.Len(t, states, 1)
	assert.Equal(t, "2024-01-01T00:00:03Z", states[0]["cursor"])
	assert.Equal(t, "timestamp", states[0]["type"])
	assert.EqualValues(t, 1, states[0]["run_id"])

	// A value that is not of the cursor's type is a usage error.
	for _, bad := range []string{"yesterday", "2024-13-01", "42x"} {
		code, _, errOut = runCLI(t, "state", "set", pl, bad, "--yes")
		assert.Equal(t, exitUsage, code, bad)
		assert.Contains(t, errOut, "not a date or timestamp", bad)
	}
	// By name, the saved cursor's type serves.
	code, _, errOut = runCLI(t, "state", "set", "contacts", "tomorrow", "--yes", "--warehouse", wh)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "type from the saved cursor")

	// Not on a terminal, a change needs --yes.
	stdinIsTerminal = func() bool { return false }
	code, _, errOut = runCLI(t, "state", "set", pl, "2023-06-01")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "add --yes")
	code, out, _ = runCLI(t, "state", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "2024-01-01T00:00:03Z", "refused: unchanged")

	code, out, errOut = runCLI(t, "state", "set", pl, "2023-06-01", "--yes")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "set the cursor of contacts to 2023-06-01T00:00:00Z")
	code, out, _ = runCLI(t, "state", pl)
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `(?m)^contacts\s+2023-06-01T00:00:00Z\s+timestamp\s+\S+ \S+\s+etl state set$`, out)
	code, out, _ = runCLI(t, "plan", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "cursor:     2023-06-01T00:00:00Z (saved)", "the next run starts from the set cursor")

	code, _, _ = runCLI(t, "state", "reset", pl)
	assert.Equal(t, exitUsage, code, "not on a terminal, reset needs --yes too")
	code, out, errOut = runCLI(t, "state", "reset", pl, "--yes")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "reset the cursor of contacts (was 2023-06-01T00:00:00Z)")
	code, out, _ = runCLI(t, "state", pl)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "contacts has no saved cursor")
}

func TestStateAsksOnATerminal(t *testing.T) {
	pl, _ := contactsSetup(t, 3)
	code, _, _ := runCLI(t, "run", pl)
	require.Equal(t, exitOK, code)
	t.Cleanup(func() { stdin = os.Stdin; stdinIsTerminal = func() bool { return false } })
	stdinIsTerminal = func() bool { return true }
	stdin = stringsReader("n\n")
	code, out, _ := runCLI(t, "state", "reset", pl)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "nothing changed")
	stdin = stringsReader("y\n")
	code, out, _ = runCLI(t, "state", "reset", pl)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "reset the cursor")
}

func TestStateSetNeedsACursorType(t *testing.T) {
	_, wh := contactsSetup(t, 3)
	code, _, errOut := runCLI(t, "state", "set", "nobody", "5", "--yes", "--warehouse", wh)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "cannot tell the type of nobody's cursor")
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
