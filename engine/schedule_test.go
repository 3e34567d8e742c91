package engine_test

import (
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

func TestScheduleFireTimes(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	at := time.Date(2026, 3, 6, 12, 7, 31, 0, time.UTC) // a Friday; 07:07:31 in New York
	tests := []struct {
		name       string
		text       string
		loc        *time.Location
		prev, next time.Time
	}{
		{"every 2s is on the even seconds", "@every 2s", nil,
			time.Date(2026, 3, 6, 12, 7, 30, 0, time.UTC), time.Date(2026, 3, 6, 12, 7, 32, 0, time.UTC)},
		{"every 10m is on the tens", "@every 10m", nil,
			time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 12, 10, 0, 0, time.UTC)},
		{"hourly", "@hourly", nil,
			time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 13, 0, 0, 0, time.UTC)},
		{"daily is midnight in the pipeline's timezone", "@daily", ny,
			time.Date(2026, 3, 6, 5, 0, 0, 0, time.UTC), time.Date(2026, 3, 7, 5, 0, 0, 0, time.UTC)},
		{"a cron line in New York", "30 6 * * 1-5", ny,
			time.Date(2026, 3, 6, 11, 30, 0, 0, time.UTC), time.Date(2026, 3, 9, 10, 30, 0, 0, time.UTC)}, // Monday, after the DST change
		{"every 15 minutes", "*/15 * * * *", nil,
			time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 6, 12, 15, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := engine.ParseSchedule(tt.text, tt.loc)
			require.NoError(t, err)
			assert.True(t, tt.prev.Equal(s.Prev(at)), "prev: got %s", s.Prev(at))
			assert.True(t, tt.next.Equal(s.Next(at)), "next: got %s", s.Next(at))
			assert.True(t, s.Prev(tt.prev).Equal(tt.prev), "a fire time is its own Prev")
			assert.True(t, s.Next(tt.prev).Equal(tt.next), "Next of a fire time is the following one")
		})
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, text := range []string{"", "* * * *", "* * * * * *", "@every", "@every 500ms", "@every 1.5s", "@fortnightly", "61 * * * *", "CRON_TZ=UTC * * * * *"} {
		_, err := engine.ParseSchedule(text, nil)
		assert.Error(t, err, "%q", text)
	}
}

func TestScheduleAttributesLoad(t *testing.T) {
	p, diags := engine.NewLoader(testRegistry()).Load("testdata/valid/scheduled.hcl")
	require.False(t, diags.HasErrors(), "%v", diags)
	assert.Equal(t, "30 6 * * 1-5", p.Serve.Schedule.Text)
	assert.False(t, p.Serve.Enabled)
	assert.Equal(t, []string{"lookups"}, p.Serve.DependsOn)
	assert.Equal(t, 20*time.Minute, p.Serve.Timeout)
	assert.Equal(t, 5, p.Serve.MaxAttempts)
}

func TestCheckDependencies(t *testing.T) {
	mk := func(name string, deps ...string) *engine.Pipeline {
		return &engine.Pipeline{Name: name, Serve: engine.Serve{DependsOn: deps}}
	}
	names := func(ps []*engine.Pipeline) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	order, diags := engine.CheckDependencies([]*engine.Pipeline{mk("facts", "users", "divisions"), mk("users", "divisions"), mk("divisions"), mk("apples")})
	require.False(t, diags.HasErrors(), "%v", diags)
	assert.Equal(t, []string{"apples", "divisions", "users", "facts"}, names(order))

	_, diags = engine.CheckDependencies([]*engine.Pipeline{mk("a", "b"), mk("b", "a"), mk("c")})
	require.True(t, diags.HasErrors())
	assert.Equal(t, "Dependency cycle", diags[0].Summary)
	assert.Contains(t, diags[0].Detail, "a, b")

	_, diags = engine.CheckDependencies([]*engine.Pipeline{mk("a", "divsions"), mk("divisions")})
	require.Len(t, diags, 1)
	assert.Equal(t, hcl.DiagError, diags[0].Severity)
	assert.Contains(t, diags[0].Detail, `Did you mean "divisions"?`)
}
