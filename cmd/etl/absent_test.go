package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/etl-dev/etl/engine"
)

func TestSummaryNamesTheAbsentFields(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	res := &engine.Result{Pipeline: "contacts", Status: engine.StatusSuccess, Started: start, Finished: start.Add(time.Second),
		Tally: engine.Tally{Processed: 2500, Created: 2500}, Absent: []string{"record.email2", "record.hasDncPhone"}}
	assert.Contains(t, summary(res, false), "; absent from every record: record.email2, record.hasDncPhone")
	assert.Contains(t, summary(res, true), "nothing written; absent from every record: record.email2, record.hasDncPhone")
}
