package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/etl-dev/etl/engine"
)

// TestProgressLineOnATerminal checks the live line a terminal shows: one
// line redrawn in place (carriage return, then clear to the end of the
// line), at most every interval, cleared when the run ends so the summary
// starts on a clean line.
func TestProgressLineOnATerminal(t *testing.T) {
	var out bytes.Buffer
	p := &progress{w: &out, tty: true, name: "hubspot_contacts", interval: time.Hour, last: time.Now()}
	pr := engine.Progress{Tally: engine.Tally{Processed: 5000, Rejected: 2, Failed: 1}, Elapsed: 10 * time.Second,
		SourceDone: 250, SourceTotal: 1000}

	p.update(pr) // within the interval since the progress began: nothing
	assert.Empty(t, out.String())

	p.last = time.Now().Add(-2 * time.Hour)
	p.update(pr)
	assert.Equal(t, "\rhubspot_contacts: 5000 records  500/s  10s  ETA 30s (25%)  (rejected 3)\033[K", out.String())

	out.Reset()
	p.last = time.Now().Add(-2 * time.Hour)
	p.update(engine.Progress{Tally: engine.Tally{Processed: 7}, Elapsed: time.Second})
	assert.Equal(t, "\rhubspot_contacts: 7 records  7/s  1s  (rejected 0)\033[K", out.String(), "no ETA when the source cannot tell its size")

	out.Reset()
	p.done()
	assert.Equal(t, "\r\033[K", out.String())
}

// TestProgressLogsWhenNotATerminal checks the periodic log line written
// instead when stderr is a file or a pipe, and that done writes nothing.
func TestProgressLogsWhenNotATerminal(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	p := newProgress(&out, "genius_lead", log)
	assert.False(t, p.tty)
	assert.Equal(t, 10*time.Second, p.interval)
	p.last = time.Now().Add(-time.Minute)
	p.update(engine.Progress{Tally: engine.Tally{Processed: 1200, Rejected: 4}, Elapsed: 2 * time.Second, SourceDone: 1, SourceTotal: 4})
	line := out.String()
	for _, want := range []string{"msg=progress", "pipeline=genius_lead", "processed=1200", "rejected=4", "records_per_second=600", "elapsed=2s", "eta=6s"} {
		assert.Contains(t, line, want)
	}
	assert.Equal(t, 1, strings.Count(line, "\n"))
	out.Reset()
	p.done()
	assert.Empty(t, out.String())
}
