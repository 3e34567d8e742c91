package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sinks/sqlite"
)

// absentPipeline maps fields some of which no record sends.
func absentPipeline(db, records string) string {
	return fmt.Sprintf(`pipeline "p" {
  system     = "s"
  entity     = "e"
  batch_size = 2
  source "inline" {
    records = %s
  }
  map {
    id        = "int(record.id)"
    email2    = "record.email2"                      # never sent
    dnc       = "bool(record.hasDncPhone)"           # sent as null: present
    late      = "record.late"                        # only the last record has it
    firstname = "record.properties?.firstname"       # nested, never sent
    phone     = "trim(record.properties?.phone)"     # nested, sent
    owner     = "record.owner?.name"                 # owner itself never sent
  }
  sink "warehouse" {
    url   = "sqlite://%s"
    table = "t"
    mode  = "append"
  }
}
`, records, db)
}

// TestRunWarnsAboutFieldsNoRecordHad: the map's record fields that no
// record of the run had are in the result, the log and the history; a
// field sent as null, or by one record only, is not.
func TestRunWarnsAboutFieldsNoRecordHad(t *testing.T) {
	db := filepath.Join(t.TempDir(), "w.db")
	records := `[
      { id = 1, hasDncPhone = null, properties = { phone = "1" } },
      { id = 2, hasDncPhone = null, properties = { phone = "2" } },
      { id = 3, hasDncPhone = true, properties = { phone = "3" }, late = "x" },
    ]`
	reg := testRegistry()
	sqlite.Register(reg)
	p, diags := engine.NewLoader(reg).LoadSource("p.hcl", []byte(absentPipeline(db, records)))
	require.False(t, diags.HasErrors(), diags.Error())
	want := []string{"record.email2", "record.owner", "record.properties.firstname"}

	var logs bytes.Buffer
	res, err := p.Run(context.Background(), reg, engine.RunOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	assert.Equal(t, want, res.Absent)
	assert.Contains(t, logs.String(), `field absent from every record`)
	assert.Contains(t, logs.String(), `field=record.email2`)
	assert.Contains(t, query(t, db, `SELECT performance_metrics FROM etl_sync_history`), `"absent_fields":["record.email2","record.owner","record.properties.firstname"]`)

	// A dry run with --limit says it early, from the records it read.
	res, err = p.Run(context.Background(), reg, engine.RunOptions{DryRun: true, Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"record.email2", "record.late", "record.owner", "record.properties.firstname"}, res.Absent)
}

func TestNoAbsentFieldsWhenEverythingCame(t *testing.T) {
	res, _, err := runInline(t, `[{ n = 1, name = "a" }, { n = 2, name = null }]`, "", engine.RunOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Absent)
}
