package main

import (
	"fmt"
	"strings"

	"github.com/etl-dev/etl/engine"
)

// rejectsSummary is the summary's part about rejects: the replay's
// recovered share, and the records refused by category
// ("rejects: validation 3, database 1"); "" when there are none.
func rejectsSummary(r *engine.Result) string {
	var parts []string
	if r.Mode == engine.RunModeReplay {
		total := r.Tally.Processed + r.Counters["not_replayable"]
		parts = append(parts, fmt.Sprintf("recovered %d of %d", r.Tally.Recovered, total))
	}
	if c := categoriesText(r.Categories); c != "" {
		parts = append(parts, "rejects: "+c)
	}
	return strings.Join(parts, ", ")
}

// categoriesText lists counts by category in the order of a record's
// path: "parse 1, validation 3".
func categoriesText(m map[engine.RejectCategory]int64) string {
	var parts []string
	for _, c := range engine.RejectCategories {
		if n := m[c]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
		}
	}
	return strings.Join(parts, ", ")
}
