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

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/internal/pgtest"
	"github.com/etl-dev/etl/internal/pipelinetest"
)

// TestRejectsListReplayAndHistoryIntegration: a CSV with bad rows runs; the
// rejects are listed with their category, check, place and record; the
// author fixes the mapping and a replay lands the records that now pass,
// resolving their rejects, as a run of its own in the history, while the
// others stay with their reason; an unchanged rerun adds no reject.
func TestRejectsListReplayAndHistoryIntegration(t *testing.T) {
	warehouses := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "etl.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.URL(t) }},
	}
	for _, w := range warehouses {
		t.Run(w.name, func(t *testing.T) {
			url := w.url(t)
			dir := t.TempDir()
			csvPath := filepath.Join(dir, "contacts.csv")
			writeContacts(t, csvPath, 10, func(i int) string {
				switch i {
				case 3, 7: // an amount with a currency sign: the mapping's fault
					return fmt.Sprintf("%d,user%d@example.com,User %d,$%d.00,2024-01-01T00:00:%02dZ", i, i, i, i, i)
				case 5:
					return "5,,No Email,5.00,2024-01-01T00:00:05Z"
				case 9:
					return "9,user9@example.com,Ragged"
				}
				return goodContact(i)
			})
			pl := filepath.Join(dir, "contacts.hcl")
			src := strings.Replace(contactsPipeline(csvPath, fmt.Sprintf("url = %q", url)), `"crm.contacts"`, `"contacts"`, 1)
			require.NoError(t, os.WriteFile(pl, []byte(src), 0o644))

			code, out, errOut := runCLI(t, "run", pl)
			require.Equal(t, exitPartial, code, "%s\n%s", out, errOut)
			assert.Contains(t, out, "rejected 4 + failed 0; rejects: parse 1, conversion 2, validation 1")

			code, out, errOut = runCLI(t, "rejects", "--warehouse", url, "--format", "json")
			require.Equal(t, exitOK, code, errOut)
			var listed []struct {
				Category, Check, Reason, Record, Where string
				Replayable                             bool
			}
			require.NoError(t, json.Unmarshal([]byte(out), &listed), out)
			require.Len(t, listed, 4)
			assert.Equal(t, "conversion", listed[0].Category)
			assert.Equal(t, "map amount", listed[0].Check)
			assert.Equal(t, csvPath+":4", listed[0].Where)
			assert.Equal(t, "3,user3@example.com,User 3,$3.00,2024-01-01T00:00:03Z", listed[0].Record)
			assert.True(t, listed[0].Replayable)
			assert.Equal(t, "validation", listed[1].Category)
			assert.Equal(t, "parse", listed[3].Category)
			assert.False(t, listed[3].Replayable, "a row the source could not parse has no fields to replay")

			code, out, _ = runCLI(t, "rejects", "--warehouse", url, "--category", "conversion")
			require.Equal(t, exitOK, code)
			assert.Equal(t, 3, strings.Count(out, "\n"), "a header and the two conversion rejects:\n%s", out)
			assert.Contains(t, out, "contacts.csv:8")
			code, _, errOut = runCLI(t, "rejects", "--warehouse", url, "--category", "typo")
			assert.Equal(t, exitUsage, code)
			assert.Contains(t, errOut, "use one of source, parse, conversion, validation, database")

			// The author fixes the mapping; the replay lands rows 3 and 7.
			fixed := strings.Replace(src, `"decimal(record.amount)"`, `"decimal(replace(record.amount, '$', ''))"`, 1)
			require.NoError(t, os.WriteFile(pl, []byte(fixed), 0o644))
			code, out, errOut = runCLI(t, "rejects", "replay", pl)
			require.Equal(t, exitOK, code, "%s\n%s", out, errOut)
			assert.Contains(t, out, "success: contacts")
			assert.Contains(t, out, "processed 3 = created 2 + updated 0 + unchanged 0 + rejected 0 + failed 0 + already rejected 1")
			assert.Contains(t, out, "recovered 2 of 4")
			assert.Contains(t, out, "not replayable 1")

			code, out, _ = runCLI(t, "rejects", "--warehouse", url, "--format", "json")
			require.Equal(t, exitOK, code)
			require.NoError(t, json.Unmarshal([]byte(out), &listed))
			assert.Len(t, listed, 2, "the validation and parse rejects are left")
			code, out, _ = runCLI(t, "rejects", "--warehouse", url, "--all", "--check", "map amount")
			require.Equal(t, exitOK, code)
			assert.Equal(t, 2, strings.Count(out, "by run 2"), out)

			// An unchanged rerun meets the rows left as known rejects.
			code, out, errOut = runCLI(t, "run", pl, "--full-refresh")
			require.Equal(t, exitOK, code, "%s\n%s", out, errOut)
			assert.Contains(t, out, "processed 10 = created 0 + updated 0 + unchanged 8 + rejected 0 + failed 0 + already rejected 2")

			code, out, _ = runCLI(t, "history", "--warehouse", url, "--format", "json")
			require.Equal(t, exitOK, code)
			var runs []struct {
				Mode             string
				Recovered        int64
				AlreadyRejected  int64            `json:"already_rejected"`
				RejectCategories map[string]int64 `json:"reject_categories"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &runs))
			require.Len(t, runs, 3)
			assert.Equal(t, "run", runs[2].Mode)
			assert.Equal(t, map[string]int64{"parse": 1, "conversion": 2, "validation": 1}, runs[2].RejectCategories)
			assert.Equal(t, "replay", runs[1].Mode)
			assert.Equal(t, int64(2), runs[1].Recovered)
			assert.Equal(t, int64(2), runs[0].AlreadyRejected)
			code, out, _ = runCLI(t, "history", "--warehouse", url)
			require.Equal(t, exitOK, code)
			assert.Contains(t, out, "RECOVERED")
			assert.Contains(t, out, "parse 1, conversion 2, validation 1")
		})
	}
}

// TestUnchangedRerunOfEveryShippedSampleAddsNoReject runs every shipped
// pipeline that reads a file shipped with it twice: the rerun rejects
// nothing new (its bad rows are known) and succeeds.
func TestUnchangedRerunOfEveryShippedSampleAddsNoReject(t *testing.T) {
	files, err := pipelineFiles([]string{pipelinetest.Dir()})
	require.NoError(t, err)
	ran := 0
	for _, file := range files {
		p, diags := engine.NewLoader(newRegistry()).Load(file)
		if diags.HasErrors() || (p.SourceKind != "csv" && p.SourceKind != "xml") {
			continue // not a file source, or it needs the environment
		}
		ran++
		t.Run(p.Name, func(t *testing.T) {
			url := "sqlite://" + filepath.Join(t.TempDir(), "etl.db")
			code, first, errOut := runCLI(t, "run", file, "--warehouse", url)
			require.Contains(t, []int{exitOK, exitPartial}, code, "%s\n%s", first, errOut)
			code, again, errOut := runCLI(t, "run", file, "--warehouse", url)
			assert.Equal(t, exitOK, code, "%s\n%s", again, errOut)
			assert.Contains(t, again, "success: "+p.Name)
			assert.Contains(t, again, "rejected 0 + failed 0")
		})
	}
	assert.Positive(t, ran, "no shipped pipeline reads a shipped file")
}
