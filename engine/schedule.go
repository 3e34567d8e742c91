package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"
)

// Schedule is when a pipeline runs under `etl serve`: a 5-field cron line
// ("*/15 * * * *"), a descriptor (@hourly, @daily, @weekly, @monthly,
// @yearly) or a fixed interval (@every 10m), read in the pipeline's
// timezone.
//
// Its fire times are a fixed grid, the same in every process: a cron line's
// times, and for @every d the multiples of d since a fixed origin (Go's zero
// time, so "@every 1h" fires on the hour and "@every 10m" at :00, :10, …). So two
// processes (or one restarted) name a tick by the same instant, which is
// what lets a tick be recorded once and run once.
type Schedule struct {
	Text  string
	every time.Duration  // @every; 0 for cron lines
	cron  cron.Schedule  // cron lines and descriptors
	loc   *time.Location // the pipeline's timezone
}

// minEvery is the shortest @every interval: River, which fires the ticks,
// schedules periodic jobs no more often than once a second.
const minEvery = time.Second

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule reads a schedule line in loc (nil: UTC).
func ParseSchedule(text string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	s := &Schedule{Text: text, loc: loc}
	t := strings.TrimSpace(text)
	if rest, ok := strings.CutPrefix(t, "@every"); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || strings.TrimSpace(rest) == "" {
			return nil, fmt.Errorf("@every needs a duration such as \"@every 10m\" or \"@every 1h30m\"")
		}
		if d < minEvery {
			return nil, fmt.Errorf("@every %s is shorter than the minimum of %s", d, minEvery)
		}
		if d%time.Second != 0 {
			return nil, fmt.Errorf("@every %s is not a whole number of seconds", d)
		}
		s.every = d
		return s, nil
	}
	if strings.HasPrefix(t, "CRON_TZ=") || strings.HasPrefix(t, "TZ=") {
		return nil, fmt.Errorf("the schedule is read in the pipeline's timezone attribute; remove the %s prefix", strings.SplitN(t, "=", 2)[0])
	}
	if n := len(strings.Fields(t)); !strings.HasPrefix(t, "@") && n != 5 {
		return nil, fmt.Errorf("a cron line has 5 fields (minute hour day-of-month month day-of-week); this one has %d", n)
	}
	c, err := cronParser.Parse(t)
	if err != nil {
		return nil, err
	}
	s.cron = c
	return s, nil
}

// Next is the first fire time strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		return t.Truncate(s.every).Add(s.every)
	}
	return s.cron.Next(t.In(s.loc))
}

// Prev is the last fire time at or before t (zero when there is none in
// the past ten years).
func (s *Schedule) Prev(t time.Time) time.Time {
	if s.every > 0 {
		return t.Truncate(s.every)
	}
	// A cron schedule only steps forward: look back further and further
	// until a fire time at or before t turns up, then walk to the last one.
	for back := time.Minute; back < 10*366*24*time.Hour; back *= 2 {
		c := s.cron.Next(t.Add(-back).In(s.loc))
		if c.IsZero() || c.After(t) {
			continue
		}
		for {
			n := s.cron.Next(c)
			if n.IsZero() || n.After(t) {
				return c
			}
			c = n
		}
	}
	return time.Time{}
}

// Period is the shortest gap between two fire times around t (the interval
// of @every; for a cron line, measured from t on).
func (s *Schedule) Period(t time.Time) time.Duration {
	if s.every > 0 {
		return s.every
	}
	a := s.Next(t)
	return s.Next(a).Sub(a)
}

// String is the schedule as written.
func (s *Schedule) String() string { return s.Text }

// Serve is what `etl serve` needs to know of a pipeline besides how to run it.
type Serve struct {
	// Schedule is nil when the pipeline declares none: it runs only when
	// triggered (etl trigger, POST /pipelines/NAME/trigger, etl run).
	Schedule *Schedule
	// Enabled is false when the file says enabled = false: the pipeline is
	// loaded and validated but never scheduled nor triggered.
	Enabled bool
	// DependsOn names pipelines that `etl run DIR` runs first.
	DependsOn      []string
	DependsOnRange hcl.Range
	// Timeout bounds one run under etl serve; past it the run is cancelled
	// and retried. It is also what the job rescuer waits for.
	Timeout time.Duration
	// MaxAttempts is how many times a failed run is tried in all.
	MaxAttempts int
}

// The defaults of the serve attributes.
const (
	DefaultTimeout     = time.Hour
	DefaultMaxAttempts = 3
)

// buildServe decodes schedule, enabled, depends_on, timeout and max_attempts.
func buildServe(pc *pipelineConfig, attrs hcl.Attributes, p *Pipeline) hcl.Diagnostics {
	var diags hcl.Diagnostics
	p.Serve = Serve{Enabled: true, Timeout: DefaultTimeout, MaxAttempts: DefaultMaxAttempts, DependsOn: pc.DependsOn,
		DependsOnRange: attrRange(attrs, "depends_on", pc.DefRange)}
	if pc.Enabled != nil {
		p.Serve.Enabled = *pc.Enabled
	}
	if pc.Schedule != nil {
		s, err := ParseSchedule(*pc.Schedule, p.Location)
		if err != nil {
			diags = append(diags, errorAt(attrRange(attrs, "schedule", pc.DefRange), "Invalid schedule",
				fmt.Sprintf("%q: %v. Use 5 cron fields (\"*/15 * * * *\": minute hour day-of-month month day-of-week, read in the pipeline's timezone), @hourly, @daily, @weekly, @monthly, or @every with a duration (\"@every 10m\").", *pc.Schedule, err)))
		} else {
			p.Serve.Schedule = s
		}
	}
	if pc.Timeout != nil {
		d, err := time.ParseDuration(*pc.Timeout)
		if err != nil || d < time.Second {
			diags = append(diags, errorAt(attrRange(attrs, "timeout", pc.DefRange), "Invalid timeout",
				fmt.Sprintf("timeout is %q; give a duration of at least 1s, such as \"15m\" or \"2h\": the longest a run may take under etl serve.", *pc.Timeout)))
		} else {
			p.Serve.Timeout = d
		}
	}
	if pc.MaxAttempts != nil {
		if *pc.MaxAttempts < 1 || *pc.MaxAttempts > 100 {
			diags = append(diags, errorAt(attrRange(attrs, "max_attempts", pc.DefRange), "Invalid max_attempts",
				fmt.Sprintf("max_attempts is %d; it must be between 1 (never retry) and 100.", *pc.MaxAttempts)))
		} else {
			p.Serve.MaxAttempts = *pc.MaxAttempts
		}
	}
	seen := map[string]bool{}
	for _, d := range pc.DependsOn {
		switch {
		case !identRE.MatchString(d):
			diags = append(diags, errorAt(p.Serve.DependsOnRange, "Invalid dependency",
				fmt.Sprintf("%q is not a pipeline name (letters, digits and underscores).", d)))
		case d == pc.Name:
			diags = append(diags, errorAt(p.Serve.DependsOnRange, "Pipeline depends on itself",
				fmt.Sprintf("%q is this pipeline; remove it from depends_on.", d)))
		case seen[d]:
			diags = append(diags, errorAt(p.Serve.DependsOnRange, "Duplicate dependency", fmt.Sprintf("%q is listed twice in depends_on.", d)))
		}
		seen[d] = true
	}
	return diags
}

// CheckDependencies checks the depends_on of a set of pipelines loaded
// together (a directory): every name must be one of them, and there must be
// no cycle. It returns the pipelines in an order that runs each after what
// it depends on (by name within a level), and the problems found.
func CheckDependencies(ps []*Pipeline) ([]*Pipeline, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byName := map[string]*Pipeline{}
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		byName[p.Name] = p
		names = append(names, p.Name)
	}
	for _, p := range ps {
		for _, d := range p.Serve.DependsOn {
			if _, ok := byName[d]; !ok && d != p.Name {
				r := p.Serve.DependsOnRange
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown dependency",
					Detail: fmt.Sprintf("No pipeline named %q is loaded with this one.%s", d, didYouMean(d, names)), Subject: &r})
			}
		}
	}
	// Kahn's algorithm, taking ready pipelines in name order.
	indeg := map[string]int{}
	users := map[string][]string{}
	for _, p := range ps {
		for _, d := range p.Serve.DependsOn {
			if _, ok := byName[d]; ok && d != p.Name {
				indeg[p.Name]++
				users[d] = append(users[d], p.Name)
			}
		}
	}
	var ready []string
	for _, n := range names {
		if indeg[n] == 0 {
			ready = append(ready, n)
		}
	}
	sort.Strings(ready)
	var order []*Pipeline
	for len(ready) > 0 {
		n := ready[0]
		ready = ready[1:]
		order = append(order, byName[n])
		for _, u := range users[n] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
				sort.Strings(ready)
			}
		}
	}
	if len(order) < len(ps) {
		var cyc []string
		for _, n := range names {
			if indeg[n] > 0 {
				cyc = append(cyc, n)
			}
		}
		sort.Strings(cyc)
		r := byName[cyc[0]].Serve.DependsOnRange
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Dependency cycle",
			Detail: fmt.Sprintf("These pipelines depend on each other in a cycle: %s. Remove one of the depends_on entries.", strings.Join(cyc, ", ")), Subject: &r})
		return nil, diags
	}
	return order, diags
}
