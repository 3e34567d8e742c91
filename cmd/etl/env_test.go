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

// TestEnvironmentPicksVariablesAndIsShownAndRecorded: --env sandbox reads
// envs/sandbox.hcl; plan shows the environment and the run's history row
// keeps it.
func TestEnvironmentPicksVariablesAndIsShownAndRecorded(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "sandbox.csv")
	writeContacts(t, csvPath, 3, goodContact)
	db := "sqlite://" + filepath.Join(dir, "w.db")
	pipeline := strings.Replace(contactsPipeline("PATH", ""), `path = "PATH"`, "path = var.contacts_csv", 1)
	for name, content := range map[string]string{
		"contacts.hcl":     pipeline,
		"variables.hcl":    "variable \"contacts_csv\" {\n  default = \"production.csv\"\n}\n",
		"envs/sandbox.hcl": fmt.Sprintf("contacts_csv = %q\n", csvPath),
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	p := filepath.Join(dir, "contacts.hcl")

	code, out, errOut := runCLI(t, "plan", p, "--env", "sandbox", "--warehouse", db)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "env:        sandbox")
	assert.Contains(t, out, "source:     csv "+csvPath)

	code, _, errOut = runCLI(t, "run", p, "--env", "sandbox", "--warehouse", db)
	require.Equal(t, exitOK, code, errOut)
	code, out, errOut = runCLI(t, "history", "--warehouse", db, "--format", "json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `"environment": "sandbox"`)
	code, out, _ = runCLI(t, "history", "--warehouse", db)
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "contacts (sandbox)")

	// Without the environment, the default applies: a file that is not there.
	code, _, errOut = runCLI(t, "run", p, "--warehouse", db)
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "production.csv")
}
