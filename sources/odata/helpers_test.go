package odata_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sources/odata"
)

// registry holds the odata source only.
func registry() *engine.Registry {
	r := engine.NewRegistry()
	odata.Register(r)
	return r
}

// wrap puts a source block into a pipeline the loader accepts, in the
// given timezone.
func wrap(source, tz string) string {
	return `pipeline "t" {
  system   = "test"
  entity   = "t"
  timezone = "` + tz + `"
  source "odata" {
` + source + `
  }
  map {
    id = "record.id"
  }
  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
`
}

// load builds the source from the body of a `source "odata" {}` block
// through the engine's loader, with env as the environment.
func load(t testing.TB, source string, env map[string]string) (*odata.Source, hcl.Diagnostics) {
	t.Helper()
	return loadTZ(t, source, "UTC", env)
}

func loadTZ(t testing.TB, source, tz string, env map[string]string) (*odata.Source, hcl.Diagnostics) {
	t.Helper()
	l := engine.NewLoader(registry())
	l.Strict = true
	l.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	p, diags := l.LoadSource("pipeline.hcl", []byte(wrap(source, tz)))
	if diags.HasErrors() {
		return nil, diags
	}
	s, ok := p.Source.(*odata.Source)
	require.True(t, ok)
	return s, diags
}

// mustLoad is load for a block that must be valid.
func mustLoad(t testing.TB, source string, env map[string]string) *odata.Source {
	t.Helper()
	s, diags := load(t, source, env)
	require.False(t, diags.HasErrors(), diags.Error())
	return s
}

// readAll reads every record, or the error that ended the read.
func readAll(t testing.TB, s engine.Source, opts engine.ReadOptions) ([]engine.Record, error) {
	t.Helper()
	var recs []engine.Record
	err := s.Read(context.Background(), opts, func(r engine.Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// An entity the fake service serves.
type entity struct {
	ID         string
	CompanyID  int
	FirstName  string
	Email      string
	Amount     string // Edm.Decimal text
	IsActive   bool
	Notes      string // written raw into the XML: may hold what XML forbids
	LastUpdate time.Time
	NullUpdate bool // lastUpdate is null
}

// fakeOData is a stand-in OData v2/v4 service for one entity set,
// "Contacts". It honours $top, $skip, $filter (comparisons, and, or: see
// parseFilter), $orderby (ascending properties, nulls first or last),
// $inlinecount and, with pageSize, pages by $skiptoken next links; it can
// ignore $top, fail, cut a page short, change its data between requests
// and check MarketSharp's HMAC header.
type fakeOData struct {
	t        testing.TB
	mu       sync.Mutex
	entities []entity

	// generate, when > 0, serves that many entities in place of entities:
	// contact(i) for i in order, made as a page asks for it and written
	// straight to the response, so nothing the fake keeps grows with the
	// feed. Atom only, without truncateAt; for benchmarks.
	generate int

	format     string // "atom" (default), "v2json", "v4json"
	pageSize   int    // server-driven paging: this many a page, with a next link
	clamp      int    // ignore $top beyond this many a page, without a next link
	ignoreSkip bool
	fail503    int // answer this many requests 503 first
	truncateAt int // cut this page (1-based request number) short
	errorBody  string
	errorCode  int

	nullsLast bool // $orderby sorts null values last (default: first, as SQL Server)
	// refuse answers 400 to a $filter holding this text.
	refuse string
	// ignoreFilterAfter, when > 0, answers requests after that many as if
	// they had no $filter.
	ignoreFilterAfter int
	// onServe, when set, runs after each page is served (f.mu held): served
	// is how many pages have been.
	onServe func(f *fakeOData, served int)

	// MarketSharp auth; "" checks nothing.
	companyID, apiKey, secretB64 string
	authStamps                   []int64 // the epoch seconds of each checked header

	requests []*http.Request
	served   int
}

func (f *fakeOData) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Clone(context.Background()))
	if f.companyID != "" {
		if msg := f.checkAuth(r.Header.Get("Authorization")); msg != "" {
			http.Error(w, msg, http.StatusUnauthorized)
			return
		}
	}
	if f.fail503 > 0 {
		f.fail503--
		w.Header().Set("Retry-After", "0")
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	if f.errorBody != "" {
		if strings.HasPrefix(f.errorBody, "{") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "application/xml")
		}
		w.WriteHeader(f.errorCode)
		fmt.Fprint(w, f.errorBody)
		return
	}
	f.served++
	if !strings.HasSuffix(r.URL.Path, "/Contacts") {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if f.generate > 0 {
		f.serveGenerated(w, r, q)
		return
	}
	list := f.entities
	if flt := q.Get("$filter"); flt != "" && (f.ignoreFilterAfter == 0 || f.served <= f.ignoreFilterAfter) {
		if f.refuse != "" && strings.Contains(flt, f.refuse) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8" standalone="yes"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><code></code><message xml:lang="en-US">Operator 'gt' incompatible with operand types 'System.Guid' and 'System.String' at position 38.</message></error>`)
			return
		}
		pred, err := parseFilter(flt)
		if err != nil {
			http.Error(w, "unsupported filter "+flt+": "+err.Error(), http.StatusBadRequest)
			return
		}
		var kept []entity
		for _, e := range list {
			if pred(e) {
				kept = append(kept, e)
			}
		}
		list = kept
	}
	if ob := q.Get("$orderby"); ob != "" {
		cmp, err := orderBy(ob, f.nullsLast)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !slices.IsSortedFunc(list, cmp) {
			slices.SortStableFunc(list, cmp) // in place: a filtered copy, or the fake's own list
		}
	}
	total := len(list)
	start, end, next := f.window(q, len(list))
	page := list[start:end]
	count := -1
	if q.Get("$inlinecount") == "allpages" || q.Get("$count") == "true" {
		count = total
	}
	var body string
	switch f.format {
	case "v2json":
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		body = f.v2JSON(page, next, count, r)
	case "v4json":
		w.Header().Set("Content-Type", "application/json;odata.metadata=minimal")
		body = f.v4JSON(page, next, count, r)
	default:
		w.Header().Set("Content-Type", "application/atom+xml;type=feed;charset=utf-8")
		body = f.atom(page, next, count, r)
	}
	if f.truncateAt > 0 && len(f.requests) == f.truncateAt {
		body = body[:len(body)*2/3]
	}
	fmt.Fprint(w, body)
	if f.onServe != nil {
		f.onServe(f, f.served)
	}
}

// window is the page a request asks for out of a list of n entities, by
// its $skiptoken or $skip and $top, as the fake's options shape it: its
// bounds, and the next link to send, if any.
func (f *fakeOData) window(q url.Values, n int) (start, end int, next string) {
	if tok := q.Get("$skiptoken"); tok != "" {
		v, err := strconv.Atoi(strings.Trim(tok, "'"))
		require.NoError(f.t, err)
		start = v
	} else if sk := q.Get("$skip"); sk != "" && !f.ignoreSkip {
		start, _ = strconv.Atoi(sk)
	}
	size := n
	if tp := q.Get("$top"); tp != "" {
		size, _ = strconv.Atoi(tp)
	}
	if f.clamp > 0 && size > f.clamp {
		size = f.clamp
	}
	if f.pageSize > 0 && size > f.pageSize {
		size = f.pageSize
		if start+size < n {
			next = fmt.Sprintf("Contacts?$skiptoken=%d", start+size)
		}
	}
	end = min(start+size, n)
	start = min(start, end)
	return start, end, next
}

// serveGenerated answers a request for the generated feed (see generate),
// an entry at a time: lastUpdate and id grow with the index, so the
// entities a $filter on them keeps (ge since, or the keyset condition after
// an entity) are a suffix, found by binary search, and already in
// $orderby's order.
func (f *fakeOData) serveGenerated(w http.ResponseWriter, r *http.Request, q url.Values) {
	if (f.format != "" && f.format != "atom") || f.truncateAt > 0 {
		http.Error(w, "the generated feed is Atom only, whole", http.StatusInternalServerError)
		return
	}
	lo := 0
	if flt := q.Get("$filter"); flt != "" {
		pred, err := parseFilter(flt)
		if err != nil {
			http.Error(w, "unsupported filter "+flt+": "+err.Error(), http.StatusBadRequest)
			return
		}
		lo = sort.Search(f.generate, func(i int) bool { return pred(contact(i)) })
	}
	if ob := q.Get("$orderby"); ob != "" && ob != "lastUpdate asc" && ob != "lastUpdate asc,id asc" {
		http.Error(w, "unsupported orderby "+ob, http.StatusBadRequest)
		return
	}
	total := f.generate - lo
	start, end, next := f.window(q, total)
	count := -1
	if q.Get("$inlinecount") == "allpages" {
		count = total
	}
	w.Header().Set("Content-Type", "application/atom+xml;type=feed;charset=utf-8")
	bw := bufio.NewWriterSize(w, 64<<10)
	atomHead(bw, count, r)
	for i := lo + start; i < lo+end; i++ {
		atomEntry(bw, contact(i))
	}
	atomTail(bw, next)
	_ = bw.Flush()
}

// checkAuth verifies companyId:apiKey:epoch:base64(HMAC-SHA256(secret,
// companyId+apiKey+epoch)) with a few minutes of clock skew.
func (f *fakeOData) checkAuth(h string) string {
	parts := strings.Split(h, ":")
	if len(parts) != 4 {
		return "want 4 parts in Authorization"
	}
	if parts[0] != f.companyID || parts[1] != f.apiKey {
		return "unknown company or key"
	}
	ts, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "bad timestamp"
	}
	if d := time.Since(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "stale timestamp"
	}
	key, err := base64.StdEncoding.DecodeString(f.secretB64)
	require.NoError(f.t, err)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + parts[1] + parts[2]))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); parts[3] != want {
		return "bad signature"
	}
	f.authStamps = append(f.authStamps, ts)
	return ""
}

func (f *fakeOData) atom(page []entity, next string, count int, r *http.Request) string {
	var b strings.Builder
	atomHead(&b, count, r)
	for _, e := range page {
		atomEntry(&b, e)
	}
	atomTail(&b, next)
	return b.String()
}

// atomHead writes an Atom feed's start, with its m:count when count >= 0.
func atomHead(w io.Writer, count int, r *http.Request) {
	io.WriteString(w, `<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<feed xml:base="http://`+r.Host+`/Svc.svc/" xmlns="http://www.w3.org/2005/Atom" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
  <title type="text">Contacts</title>
  <updated>`+time.Now().UTC().Format(time.RFC3339Nano)+`</updated>
`)
	if count >= 0 {
		fmt.Fprintf(w, "  <m:count>%d</m:count>\n", count)
	}
}

// atomEntry writes one entry.
func atomEntry(w io.Writer, e entity) {
	lastUpdate := `<d:lastUpdate m:type="Edm.DateTime">` + e.LastUpdate.Format("2006-01-02T15:04:05.9999999") + `</d:lastUpdate>`
	if e.NullUpdate {
		lastUpdate = `<d:lastUpdate m:type="Edm.DateTime" m:null="true" />`
	}
	fmt.Fprintf(w, `  <entry><id>http://fake/Svc.svc/Contacts('%s')</id><content type="application/xml"><m:properties>
    <d:id>%s</d:id>
    <d:companyId m:type="Edm.Int32">%d</d:companyId>
    <d:firstName>%s</d:firstName>
    <d:email1>%s</d:email1>
    <d:amount m:type="Edm.Decimal">%s</d:amount>
    <d:isActive m:type="Edm.Boolean">%t</d:isActive>
    <d:notes>%s</d:notes>
    %s
  </m:properties></content></entry>
`, e.ID, e.ID, e.CompanyID, e.FirstName, e.Email, e.Amount, e.IsActive, e.Notes, lastUpdate)
}

// atomTail writes the feed's next link, if any, and its end.
func atomTail(w io.Writer, next string) {
	if next != "" {
		// Relative: resolved against xml:base.
		fmt.Fprintf(w, "  <link rel=\"next\" href=\"%s\" />\n", escapeXML(next))
	}
	io.WriteString(w, "</feed>\n")
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;").Replace(s)
}

func (f *fakeOData) v2JSON(page []entity, next string, count int, r *http.Request) string {
	results := make([]map[string]any, 0, len(page))
	for _, e := range page {
		results = append(results, map[string]any{
			"__metadata": map[string]any{"uri": "http://fake/Contacts('" + e.ID + "')", "type": "Svc.Contact"},
			"id":         e.ID,
			"companyId":  e.CompanyID,
			"firstName":  e.FirstName,
			"email1":     e.Email,
			"amount":     e.Amount, // Edm.Decimal: a string in verbose JSON
			"big":        "9007199254740993",
			"isActive":   e.IsActive,
			"notes":      e.Notes,
			"lastUpdate": jsonOrNull(!e.NullUpdate, fmt.Sprintf(`/Date(%d)/`, e.LastUpdate.UnixMilli())),
			"Phones":     map[string]any{"__deferred": map[string]any{"uri": "http://fake/Contacts('" + e.ID + "')/Phones"}},
		})
	}
	d := map[string]any{"results": results}
	if next != "" {
		d["__next"] = "http://" + r.Host + "/Svc.svc/" + next
	}
	if count >= 0 {
		d["__count"] = strconv.Itoa(count)
	}
	b, err := json.Marshal(map[string]any{"d": d})
	require.NoError(f.t, err)
	// encoding/json writes "/Date(…)/" as is; OData escapes the slashes.
	return strings.ReplaceAll(string(b), `"/Date(`, `"\/Date(`)
}

func (f *fakeOData) v4JSON(page []entity, next string, count int, r *http.Request) string {
	value := make([]map[string]any, 0, len(page))
	for _, e := range page {
		value = append(value, map[string]any{
			"@odata.etag": "W/\"1\"",
			"id":          e.ID,
			"companyId":   e.CompanyID,
			"firstName":   e.FirstName,
			"email1":      e.Email,
			"amount":      json.RawMessage(e.Amount),
			"isActive":    e.IsActive,
			"notes":       e.Notes,
			"lastUpdate":  jsonOrNull(!e.NullUpdate, e.LastUpdate.UTC().Format(time.RFC3339Nano)),
		})
	}
	doc := map[string]any{"@odata.context": "http://fake/$metadata#Contacts", "value": value}
	if next != "" {
		u := &url.URL{Scheme: "http", Host: r.Host, Path: "/Svc.svc/Contacts", RawQuery: strings.TrimPrefix(next, "Contacts?")}
		doc["@odata.nextLink"] = u.String()
	}
	if count >= 0 {
		doc["@odata.count"] = count
	}
	b, err := json.Marshal(doc)
	require.NoError(f.t, err)
	return string(b)
}

// jsonOrNull is v when ok, else nil (null).
func jsonOrNull(ok bool, v any) any {
	if ok {
		return v
	}
	return nil
}

// contacts makes n entities, lastUpdate one second apart from base.
func contacts(n int) []entity {
	out := make([]entity, n)
	for i := range out {
		out[i] = contact(i)
	}
	return out
}

// contact is the entity at index i of contacts(n), for any n: made from i
// alone, so a feed can be generated entity by entity.
func contact(i int) entity {
	base := time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC)
	return entity{
		ID:         fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1),
		CompanyID:  42,
		FirstName:  fmt.Sprintf("Ann %d", i+1),
		Email:      fmt.Sprintf("ann%d@example.com", i+1),
		Amount:     fmt.Sprintf("%d.%02d", 1000000000000+i, i%100),
		IsActive:   i%2 == 0,
		LastUpdate: base.Add(time.Duration(i) * time.Second),
	}
}

func (f *fakeOData) urls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.requests))
	for i, r := range f.requests {
		out[i] = r.URL.RequestURI()
	}
	return out
}

// staticPage serves one file as an Atom page.
func staticPage(t testing.TB, path string) http.Handler {
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		_, _ = w.Write(page)
	})
}
