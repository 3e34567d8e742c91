package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/internal/pgtest"
)

// TestFaultsRejectBudgetIntegration runs the binary past its error budget:
// a count and a percentage stop the run as failed with the reason (exit 1,
// stderr and etl_sync_history), after the rejects have landed; a budget
// that holds ends partial (exit 3); no max_rejects is strict.
func TestFaultsRejectBudgetIntegration(t *testing.T) {
	skipShort(t)
	src, err := os.ReadFile(pipelineFile(t, "budget.hcl"))
	require.NoError(t, err)
	for _, tt := range []struct {
		name      string
		budget    string // the max_rejects line; "" leaves it out
		rows, bad int    // every (rows/bad)th row has no email
		code      int
		reason    string
	}{
		{name: "a count, exceeded", budget: "max_rejects = 3", rows: 1000, bad: 10, code: 1, reason: "max_rejects exceeded: 4 of "},
		{name: "a percentage, exceeded", budget: `max_rejects = "1%"`, rows: 3000, bad: 60, code: 1, reason: "records rejected or refused (budget 1%)"},
		{name: "a percentage, kept", budget: `max_rejects = "2.5%"`, rows: 3000, bad: 60, code: 3},
		{name: "strict by default", budget: "", rows: 1000, bad: 1, code: 1, reason: "max_rejects exceeded: 1 of "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			whURL := pgtest.URL(t)
			dir := t.TempDir()
			var b strings.Builder
			b.WriteString("id,email\n")
			step := tt.rows / tt.bad
			for i := 1; i <= tt.rows; i++ {
				if i%step == step/2 {
					fmt.Fprintf(&b, "%d,\n", i)
				} else {
					fmt.Fprintf(&b, "%d,u%d@example.com\n", i, i)
				}
			}
			csvPath := filepath.Join(dir, "budget.csv")
			require.NoError(t, os.WriteFile(csvPath, []byte(b.String()), 0o644))
			text := strings.Replace(string(src), "max_rejects = 0", tt.budget, 1)
			pl := filepath.Join(dir, "budget.hcl")
			require.NoError(t, os.WriteFile(pl, []byte(text), 0o644))

			res := etl{args: []string{"run", pl}, env: []string{"FAULTS_CSV=" + csvPath, "FAULTS_WAREHOUSE_URL=" + whURL}}.run(t)
			require.Equal(t, tt.code, res.code, "%s", res)
			tg := openTarget(t, whURL, "faults_budget", "faults_budget")
			var status, msg string
			require.NoError(t, tg.db.QueryRow(`SELECT status, coalesce(error_message, '') FROM etl_sync_history`).Scan(&status, &msg))
			rejects := tg.count(t, "SELECT count(*) FROM etl_rejects")
			assert.Positive(t, rejects, "the rejects landed")
			if tt.code == 3 {
				assert.Equal(t, "partial", status)
				assert.Equal(t, int64(tt.bad), rejects)
				assert.Equal(t, int64(tt.rows-tt.bad), tg.count(t, "SELECT count(*) FROM faults_budget"))
				return
			}
			assert.Equal(t, "failed", status)
			assert.Contains(t, res.stderr, "faults_budget failed: "+"max_rejects exceeded")
			assert.Contains(t, res.stderr, tt.reason)
			assert.Contains(t, msg, tt.reason, "the history says why")
			assert.Contains(t, res.stdout, "failed: faults_budget")
			rejected := tg.count(t, "SELECT rejected FROM etl_sync_history")
			assert.Equal(t, rejects, rejected, "the history counts the rejects that landed")
		})
	}
}
