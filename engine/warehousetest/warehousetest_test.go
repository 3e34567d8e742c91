package warehousetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/etl-dev/etl/engine"
)

// TestSuiteAgainstMemoryWarehouse runs the suite against memWarehouse, a
// small in-memory reference implementation, so the suite itself is checked
// without any database.
func TestSuiteAgainstMemoryWarehouse(t *testing.T) {
	Run(t, Harness{
		Open: func(t *testing.T) engine.Warehouse { return newMem() },
		Rows: func(t *testing.T, w engine.Warehouse, tb engine.Table) [][]any {
			return w.(*memWarehouse).rowsOf(tb)
		},
		Rejects: func(t *testing.T, w engine.Warehouse, runID int64) []engine.Reject {
			m := w.(*memWarehouse)
			m.mu.Lock()
			defer m.mu.Unlock()
			var out []engine.Reject
			for _, r := range m.rejects {
				if r.RunID == runID {
					r.Category, r.Fields = "", "" // the harness reads what the older suites wrote
					out = append(out, r.Reject)
				}
			}
			return out
		},
		Parallel: true,
	})
}

func TestCanonical(t *testing.T) {
	tb := engine.Table{Columns: []engine.Column{
		{Name: "d", Type: engine.TypeDecimal}, {Name: "j", Type: engine.TypeJSON}, {Name: "ts", Type: engine.TypeTimestamp}, {Name: "s", Type: engine.TypeText},
	}}
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a, b []any
	}{
		{"decimal scale", []any{"12.50", nil, nil, nil}, []any{"12.5", nil, nil, nil}},
		{"JSON spacing, key order and number form", []any{nil, `{"b": 1.50, "a": [1, 2]}`, nil, nil}, []any{nil, `{"a":[1,2],"b":1.5}`, nil, nil}},
		{"time zones", []any{nil, nil, at, nil}, []any{nil, nil, at.In(time.FixedZone("X", -5*3600)), nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, Canonical(tb, [][]any{tt.a}), Canonical(tb, [][]any{tt.b}))
		})
	}
	assert.NotEqual(t, Canonical(tb, [][]any{{"12.5", nil, nil, "x"}}), Canonical(tb, [][]any{{"12.51", nil, nil, "x"}}))
	assert.Nil(t, Canonical(tb, nil))
}

// memWarehouse is an in-memory engine.Warehouse.
type memWarehouse struct {
	mu      sync.Mutex
	locks   map[string]bool
	runs    []engine.Run
	state   map[string][2]string // kind, text
	tables  map[string]*memTable // by qualified name; replace loads under name + "#new"
	rejects []engine.StoredReject
}

type memTable struct {
	cols []string
	rows []map[string]any
}

func newMem() *memWarehouse {
	return &memWarehouse{locks: map[string]bool{}, state: map[string][2]string{}, tables: map[string]*memTable{}}
}

func (m *memWarehouse) Describe() string              { return "memory" }
func (m *memWarehouse) Close() error                  { return nil }
func (m *memWarehouse) Migrate(context.Context) error { return nil }

func (m *memWarehouse) Lock(_ context.Context, p string) (func() error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[p] {
		return nil, engine.ErrLocked
	}
	m.locks[p] = true
	return func() error { m.mu.Lock(); delete(m.locks, p); m.mu.Unlock(); return nil }, nil
}

func (m *memWarehouse) StartRun(_ context.Context, r engine.Run) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.runs {
		if m.runs[i].Pipeline == r.Pipeline && m.runs[i].Status == engine.StatusRunning {
			m.runs[i].Status, m.runs[i].Error, m.runs[i].Finished = engine.StatusFailed, "interrupted", cmp.Or(m.runs[i].Heartbeat, m.runs[i].Started)
		}
	}
	r.ID, r.Status, r.Finished, r.Mode = int64(len(m.runs)+1), engine.StatusRunning, time.Time{}, r.RunMode()
	m.runs = append(m.runs, r)
	return r.ID, nil
}

func (m *memWarehouse) FinishRun(_ context.Context, r engine.Run) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.ID < 1 || int(r.ID) > len(m.runs) {
		return fmt.Errorf("no run %d", r.ID)
	}
	b, err := json.Marshal(r.Metrics) // metrics round-trip as JSON
	if err != nil {
		return err
	}
	old := &m.runs[r.ID-1]
	old.Finished, old.Status, old.Tally, old.Error, old.Metrics, old.Categories = r.Finished, r.Status, r.Tally, r.Error, nil, r.Categories
	return json.Unmarshal(b, &old.Metrics)
}

func (m *memWarehouse) State(_ context.Context, p string) (*engine.Cursor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.state[p]
	if !ok {
		return nil, nil
	}
	return engine.DecodeCursor(s[0], s[1])
}

func (m *memWarehouse) Runs(_ context.Context, f engine.HistoryFilter) ([]engine.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []engine.Run
	for _, r := range m.runs {
		if f.Pipeline == "" || r.Pipeline == f.Pipeline {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b engine.Run) int {
		return cmp.Or(b.Started.Compare(a.Started), cmp.Compare(b.ID, a.ID))
	})
	limit := cmp.Or(f.Limit, 20)
	return out[:min(limit, len(out))], nil
}

func (m *memWarehouse) Prepare(_ context.Context, t engine.Table) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := t.QualifiedName()
	tab := m.tables[q]
	if tab == nil {
		tab = &memTable{}
		if t.Mode != engine.ModeReplace {
			m.tables[q] = tab
		}
	}
	for _, c := range t.Columns {
		if !slices.Contains(tab.cols, c.Name) {
			tab.cols = append(tab.cols, c.Name)
		}
	}
	if t.Mode == engine.ModeReplace {
		m.tables[q+"#new"] = &memTable{cols: slices.Clone(tab.cols)}
	}
	return nil
}

func (m *memWarehouse) Write(_ context.Context, t engine.Table, b engine.Batch) (engine.Counts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name := t.QualifiedName()
	if t.Mode == engine.ModeReplace {
		name += "#new"
	}
	tab := m.tables[name]
	if tab == nil {
		return engine.Counts{}, fmt.Errorf("write %s: not prepared", name)
	}
	var counts engine.Counts
	var refused []engine.Reject
	var resolve []int64
	canon := func(row []any) []any { return Canonical(t, [][]any{row})[0] }
	key := func(row []any) string {
		var k []any
		for _, name := range t.Key {
			k = append(k, canon(row)[slices.IndexFunc(t.Columns, func(c engine.Column) bool { return c.Name == name })])
		}
		return fmt.Sprintf("%#v", k)
	}
	last := map[string]int{}
	if t.Mode == engine.ModeUpsert {
		for i, row := range b.Rows {
			last[key(row)] = i
		}
	}
	for i, row := range b.Rows {
		if nullKey(t, row) {
			refused = append(refused, b.RefusedReject(i, "a key column is null"))
			counts.Failed++
			continue
		}
		if i < len(b.Resolve) && b.Resolve[i] != 0 {
			resolve = append(resolve, b.Resolve[i])
		}
		if t.Mode == engine.ModeUpsert && last[key(row)] != i {
			counts.Updated++ // superseded by a later row of the same key
			continue
		}
		found := -1
		if t.Mode == engine.ModeUpsert {
			found = slices.IndexFunc(tab.rows, func(r map[string]any) bool { return key(m.project(t, r)) == key(row) })
		}
		switch {
		case found < 0:
			r := map[string]any{}
			for c, col := range t.Columns {
				r[col.Name] = row[c]
			}
			tab.rows = append(tab.rows, r)
			counts.Created++
		case fmt.Sprintf("%#v", canon(m.project(t, tab.rows[found]))) == fmt.Sprintf("%#v", canon(row)):
			counts.Unchanged++
		default:
			for c, col := range t.Columns {
				tab.rows[found][col.Name] = row[c]
			}
			counts.Updated++
		}
	}
	for i, r := range append(slices.Clone(b.Rejects), refused...) {
		fp := r.Fingerprint()
		at := slices.IndexFunc(m.rejects, func(s engine.StoredReject) bool {
			return s.Pipeline == b.Pipeline && s.ResolvedAt.IsZero() && s.Fingerprint() == fp
		})
		if at < 0 {
			m.rejects = append(m.rejects, engine.StoredReject{ID: int64(len(m.rejects) + 1), Pipeline: b.Pipeline, RunID: b.RunID, LastRunID: b.RunID, Created: time.Now(), Reject: r})
			continue
		}
		old := &m.rejects[at]
		old.LastRunID, old.Pos.Page, old.Check, old.Reason, old.Category = b.RunID, r.Pos.Page, r.Check, r.Reason, r.Category
		if i < len(b.Rejects) {
			counts.KnownRejected++
		} else {
			counts.KnownFailed++
			counts.Failed--
		}
	}
	for _, id := range resolve {
		if r := &m.rejects[id-1]; r.Pipeline == b.Pipeline && r.ResolvedAt.IsZero() {
			r.ResolvedAt, r.ResolvedBy = time.Now(), b.RunID
			counts.Resolved++
		}
	}
	if r := b.RunID; r >= 1 && int(r) <= len(m.runs) && m.runs[r-1].Status == engine.StatusRunning {
		m.runs[r-1].Tally = m.runs[r-1].Tally.Add(b.Landed(counts))
		for c, n := range b.Categories(len(refused)) {
			if m.runs[r-1].Categories == nil {
				m.runs[r-1].Categories = map[engine.RejectCategory]int64{}
			}
			m.runs[r-1].Categories[c] += n
		}
		m.runs[r-1].Heartbeat = time.Now()
	}
	if b.State != nil {
		kind, text := b.State.Encode()
		m.state[b.Pipeline] = [2]string{kind, text}
	}
	return counts, nil
}

// nullKey reports whether a key column of row is null: the row is refused.
func nullKey(t engine.Table, row []any) bool {
	for i, c := range t.Columns {
		if row[i] == nil && slices.Contains(t.Key, c.Name) {
			return true
		}
	}
	return false
}

// Rejects lists the stored rejects f selects, oldest first.
func (m *memWarehouse) Rejects(_ context.Context, f engine.RejectFilter) ([]engine.StoredReject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []engine.StoredReject
	for _, r := range m.rejects {
		if (f.Pipeline == "" || r.Pipeline == f.Pipeline) && (f.RunID == 0 || r.RunID == f.RunID || r.LastRunID == f.RunID) &&
			(f.Check == "" || r.Check == f.Check) && (f.Category == "" || r.Category == f.Category) && (!f.Unresolved || r.ResolvedAt.IsZero()) {
			out = append(out, r)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// project returns a stored row's values for t's columns.
func (m *memWarehouse) project(t engine.Table, r map[string]any) []any {
	out := make([]any, len(t.Columns))
	for c, col := range t.Columns {
		out[c] = r[col.Name]
	}
	return out
}

func (m *memWarehouse) Finish(_ context.Context, t engine.Table, ok bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.Mode != engine.ModeReplace {
		return nil
	}
	q := t.QualifiedName()
	if ok {
		m.tables[q] = m.tables[q+"#new"]
	}
	delete(m.tables, q+"#new")
	return nil
}

// rowsOf returns tb's rows ordered by key, else by every column.
func (m *memWarehouse) rowsOf(tb engine.Table) [][]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	tab := m.tables[tb.QualifiedName()]
	if tab == nil {
		return nil
	}
	var out [][]any
	for _, r := range tab.rows {
		out = append(out, m.project(tb, r))
	}
	order := make([]int, 0, len(tb.Columns))
	for _, k := range tb.Key {
		order = append(order, slices.IndexFunc(tb.Columns, func(c engine.Column) bool { return c.Name == k }))
	}
	if len(order) == 0 {
		for i := range tb.Columns {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(out, func(a, b []any) int {
		for _, i := range order {
			if c := compareValues(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	return out
}

func compareValues(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case string:
		return cmp.Compare(x, b.(string))
	case float64:
		return cmp.Compare(x, b.(float64))
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}
