package odata_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestAtomEveryEdmType reads one Atom page holding every Edm type, null
// and empty properties, a complex value, an entry written with other
// namespace prefixes, a media-link entry and a value that does not parse.
func TestAtomEveryEdmType(t *testing.T) {
	page, err := os.ReadFile("testdata/every_type.xml")
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		_, _ = w.Write(page)
	}))
	defer srv.Close()
	s, diags := loadTZ(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Things"
key = "record.id"`, "America/New_York", nil)
	require.False(t, diags.HasErrors(), diags.Error())
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)

	var progress [2]int64
	recs, err := readAll(t, s, engine.ReadOptions{Location: ny, Progress: func(done, total int64) { progress = [2]int64{done, total} }})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Equal(t, [2]int64{3, 3}, progress, "m:count gives the total")

	got := recs[0]
	require.NoError(t, got.Err)
	assert.Equal(t, engine.Position{Page: "1", Key: "00000000-0000-4000-8000-000000000001"}, got.Pos)
	want := map[string]any{
		"id":            "00000000-0000-4000-8000-000000000001",
		"name":          "Ann & Bob",
		"small":         int64(-12),
		"companyId":     int64(42),
		"big":           int64(9007199254740993),
		"amount":        json.Number("12345678901234567.89"),
		"rate":          0.1,
		"ratio":         "INF",
		"isActive":      true,
		"doNotMail":     false,
		"lastUpdate":    time.Date(2024, 4, 30, 22, 1, 2, 500_000_000, ny),
		"created":       time.Date(2024, 1, 15, 8, 30, 0, 0, ny),
		"seenAt":        time.Date(2024, 4, 30, 20, 1, 2, 123456700, time.UTC),
		"guid":          "6f9619ff-8b86-d011-b42d-00c04fc964ff",
		"blob":          "AAECAwQ=",
		"middleInitial": nil,
		"age":           nil,
		"title":         "",
		"count":         "",
		"address":       map[string]any{"city": "Springfield", "zip": nil},
	}
	for k, w := range want {
		if wt, ok := w.(time.Time); ok {
			gt, ok := got.Fields[k].(time.Time)
			if assert.True(t, ok, "%s is %T", k, got.Fields[k]) {
				assert.True(t, wt.Equal(gt), "%s: want %s, got %s", k, wt, gt)
				if k != "seenAt" {
					assert.Equal(t, "America/New_York", gt.Location().String(), "%s: Edm.DateTime is read in the pipeline's timezone", k)
				}
			}
			continue
		}
		assert.Equal(t, w, got.Fields[k], k)
	}
	assert.Len(t, got.Fields, len(want))

	// Prefixes are not fixed: a:, data:, meta: read the same.
	assert.Equal(t, map[string]any{"id": "00000000-0000-4000-8000-000000000002", "companyId": int64(7), "middleInitial": nil, "amount": json.Number("-0.50")}, recs[1].Fields)
	require.NoError(t, recs[1].Err)

	// A media-link entry's properties sit beside its content; a value that
	// does not parse rejects that entity alone, with its raw XML.
	require.Error(t, recs[2].Err)
	assert.Equal(t, `property companyId: (Edm.Int32) "not-a-number" is not an integer`, recs[2].Err.Error())
	assert.Contains(t, recs[2].Raw, "not-a-number")
	assert.Equal(t, "00000000-0000-4000-8000-000000000003", recs[2].Fields["id"])
}

// TestNextLinkSkiptoken follows the server's relative <link rel="next">
// with $skiptoken, resolved against xml:base, until a page has none.
func TestNextLinkSkiptoken(t *testing.T) {
	f := &fakeOData{t: t, entities: contacts(250), pageSize: 100}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc/"
entity_set = "Contacts"
count = true`, nil)
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, recs, 250)
	for i, r := range recs {
		require.Equal(t, contacts(250)[i].ID, r.Fields["id"])
	}
	assert.Equal(t, "3", recs[249].Pos.Page)
	assert.Equal(t, []string{
		"/Svc.svc/Contacts?$inlinecount=allpages",
		"/Svc.svc/Contacts?$skiptoken=100",
		"/Svc.svc/Contacts?$skiptoken=200",
	}, f.urls())
}

// TestSkipPaging pages with $top/$skip when the server sends no next link:
// a page shorter than $top ends the read, and so does an empty page after
// a full one.
func TestSkipPaging(t *testing.T) {
	cases := []struct {
		name string
		n    int
		want []string
	}{
		{name: "short last page", n: 250, want: []string{
			"/Svc.svc/Contacts?$top=100",
			"/Svc.svc/Contacts?$skip=100&$top=100",
			"/Svc.svc/Contacts?$skip=200&$top=100",
		}},
		{name: "full last page", n: 200, want: []string{
			"/Svc.svc/Contacts?$top=100",
			"/Svc.svc/Contacts?$skip=100&$top=100",
			"/Svc.svc/Contacts?$skip=200&$top=100",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeOData{t: t, entities: contacts(c.n)}
			srv := httptest.NewServer(f)
			defer srv.Close()
			s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
top = 100`, nil)
			recs, err := readAll(t, s, engine.ReadOptions{})
			require.NoError(t, err)
			require.Len(t, recs, c.n)
			assert.Equal(t, c.want, f.urls())
		})
	}
}

// TestServerThatClampsPages reads a server that ignores $top=5000 and
// answers 100 a page with no next link to the end: a 100-entity page is
// not "short" when 100 is all the server ever sends.
func TestServerThatClampsPages(t *testing.T) {
	for _, n := range []int{250, 300, 50} {
		f := &fakeOData{t: t, entities: contacts(n), clamp: 100}
		srv := httptest.NewServer(f)
		s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
top = 5000`, nil)
		recs, err := readAll(t, s, engine.ReadOptions{})
		srv.Close()
		require.NoError(t, err)
		require.Len(t, recs, n, "%d entities", n)
		seen := map[string]bool{}
		for _, r := range recs {
			seen[r.Fields["id"].(string)] = true
		}
		assert.Len(t, seen, n, "no entity twice")
	}
}

// TestServerThatIgnoresSkip stops with an error rather than looping when
// every $skip gives the first page again.
func TestServerThatIgnoresSkip(t *testing.T) {
	f := &fakeOData{t: t, entities: contacts(300), ignoreSkip: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
top = 100`, nil)
	_, err := readAll(t, s, engine.ReadOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "page 2 (GET "+srv.URL+"/Svc.svc/Contacts?$skip=100&$top=100): the page starts with the same entity as the page before")
}

// TestRetryOn503 retries a 503 and reads the page.
func TestRetryOn503(t *testing.T) {
	f := &fakeOData{t: t, entities: contacts(10), fail503: 2}
	srv := httptest.NewServer(f)
	defer srv.Close()
	log, logs := newLogger()
	s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
retry {
  attempts = 3
  backoff  = "10ms"
}`, nil)
	recs, err := readAll(t, s, engine.ReadOptions{Logger: log})
	require.NoError(t, err)
	assert.Len(t, recs, 10)
	assert.Len(t, f.urls(), 3)
	assert.Contains(t, logs.String(), "503 Service Unavailable")

	// Past its attempts, the 503 fails the run naming the page.
	f.fail503 = 5
	_, err = readAll(t, s, engine.ReadOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up after 3 attempts: page 1: GET "+srv.URL+"/Svc.svc/Contacts: 503 Service Unavailable")
}

// TestInvalidXMLCharacters removes a stray control character and a
// character reference XML forbids from the value, counts them and logs the
// count at the end; the rest of the page is read as usual.
func TestInvalidXMLCharacters(t *testing.T) {
	es := contacts(3)
	es[1].Notes = "call\x1a back &#x1A;later&#0;\x00"
	f := &fakeOData{t: t, entities: es}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"`, nil)
	log, logs := newLogger()
	recs, err := readAll(t, s, engine.ReadOptions{Logger: log})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	assert.Equal(t, "call back later", recs[1].Fields["notes"])
	assert.NoError(t, recs[1].Err)
	assert.Contains(t, logs.String(), `msg="removed characters that XML forbids from property values" pipeline=t entity_set=Contacts removed=4`)
}

// TestTruncatedPage fails the run on a page cut short, naming the page and
// its URL, after emitting only the whole pages before it.
func TestTruncatedPage(t *testing.T) {
	f := &fakeOData{t: t, entities: contacts(250), truncateAt: 2}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
top = 100`, nil)
	recs, err := readAll(t, s, engine.ReadOptions{})
	require.Error(t, err)
	assert.Len(t, recs, 100, "nothing of the broken page is emitted")
	assert.Regexp(t, `^Contacts: page 2 \(GET `+srv.URL+`/Svc.svc/Contacts\?\$skip=100&\$top=100\): the page is not well-formed XML after entry \d+ of it: XML syntax error on line \d+: unexpected EOF$`, err.Error())
}

// TestJSONFeeds reads v2 verbose JSON (d.results, __next, __count as a
// string, "\/Date(ms)\/", Int64 and Decimal as strings) and v4 JSON
// (value, @odata.nextLink, @odata.count), paging by the next link.
func TestJSONFeeds(t *testing.T) {
	for _, format := range []string{"v2json", "v4json"} {
		t.Run(format, func(t *testing.T) {
			f := &fakeOData{t: t, entities: contacts(25), pageSize: 10, format: format}
			srv := httptest.NewServer(f)
			defer srv.Close()
			version := "2"
			if format == "v4json" {
				version = "4"
			}
			s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
version = `+version+`
format = "json"
count = true`, nil)
			var totals []int64
			recs, err := readAll(t, s, engine.ReadOptions{Progress: func(done, total int64) { totals = append(totals, done, total) }})
			require.NoError(t, err)
			require.Len(t, recs, 25)
			assert.Equal(t, []int64{10, 25, 20, 25, 25, 25}, totals)
			r := recs[3].Fields
			assert.Equal(t, "00000000-0000-4000-8000-000000000004", r["id"])
			assert.Equal(t, json.Number("42"), r["companyId"])
			assert.Equal(t, true, r["isActive"] == false)
			if format == "v2json" {
				assert.Equal(t, "1000000000003.03", r["amount"], "Decimal stays exact, as the string sent")
				assert.Equal(t, "9007199254740993", r["big"], "Int64 stays exact")
				assert.Equal(t, time.Date(2024, 4, 1, 9, 0, 3, 0, time.UTC), r["lastUpdate"])
				assert.NotContains(t, r, "__metadata")
				assert.NotContains(t, r, "Phones", "unexpanded navigation links are dropped")
				assert.Equal(t, "/Svc.svc/Contacts?$inlinecount=allpages", f.urls()[0])
				assert.Equal(t, "application/json", f.requests[0].Header.Get("Accept"))
				assert.Equal(t, "2.0", f.requests[0].Header.Get("MaxDataServiceVersion"))
			} else {
				assert.Equal(t, json.Number("1000000000003.03"), r["amount"], "a number stays exact")
				assert.Equal(t, "2024-04-01T09:00:03Z", r["lastUpdate"])
				assert.NotContains(t, r, "@odata.etag")
				assert.Equal(t, "/Svc.svc/Contacts?$count=true", f.urls()[0])
				assert.Equal(t, "4.0", f.requests[0].Header.Get("OData-MaxVersion"))
			}
		})
	}
}

// TestServiceErrors quotes OData error documents, XML and JSON, in the
// error, whether the service refuses the request or answers 200 with one.
func TestServiceErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{
			name:   "xml 400",
			status: 400,
			body:   `<?xml version="1.0" encoding="utf-8" standalone="yes"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><code>BadRequest</code><message xml:lang="en-US">No property 'lastUpdat' exists in type 'Contact'.</message></error>`,
			want:   `page 1: GET SRV/Svc.svc/Contacts: 400 Bad Request: OData error BadRequest: No property 'lastUpdat' exists in type 'Contact'.`,
		},
		{
			name:   "json v2 404",
			status: 404,
			body:   `{"error":{"code":"","message":{"lang":"en-US","value":"Resource not found for the segment 'Contacts'."}}}`,
			want:   `page 1: GET SRV/Svc.svc/Contacts: 404 Not Found: OData error: Resource not found for the segment 'Contacts'.`,
		},
		{
			name:   "json v4 200",
			status: 200,
			body:   `{"error":{"code":"Throttled","message":"Slow down"}}`,
			want:   `page 1 (GET SRV/Svc.svc/Contacts): the service answered with an error: OData error Throttled: Slow down`,
		},
		{
			name:   "xml in-stream",
			status: 200,
			body:   `<feed xmlns="http://www.w3.org/2005/Atom" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><m:error><m:code>500</m:code><m:message>Timeout expired</m:message></m:error></feed>`,
			want:   `page 1 (GET SRV/Svc.svc/Contacts): the service answered with an error after entry 0: OData error 500: Timeout expired`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeOData{t: t, errorBody: c.body, errorCode: c.status}
			srv := httptest.NewServer(f)
			defer srv.Close()
			s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"`, nil)
			_, err := readAll(t, s, engine.ReadOptions{})
			require.Error(t, err)
			assert.Equal(t, "Contacts: "+strings.ReplaceAll(c.want, "SRV", srv.URL), err.Error())
		})
	}
}

// TestIncrementalRequest asks for entities at or after the saved cursor,
// sorted by it, written as the service's literal in the pipeline's
// timezone; the source then delivers in cursor order.
func TestIncrementalRequest(t *testing.T) {
	since := time.Date(2024, 4, 30, 22, 1, 2, 500_000_000, time.UTC)
	cases := []struct {
		name, block, tz, want string
	}{
		{name: "v2 datetime", block: `cursor_field = "lastUpdate"`, tz: "UTC",
			want: `GET https://h/Svc.svc/Contacts?$filter=lastUpdate%20ge%20datetime'2024-04-30T22:01:02.5'&$orderby=lastUpdate%20asc&$top=5000`},
		{name: "v2 datetime in the pipeline's timezone", block: `cursor_field = "lastUpdate"`, tz: "America/Chicago",
			want: `GET https://h/Svc.svc/Contacts?$filter=lastUpdate%20ge%20datetime'2024-04-30T17:01:02.5'&$orderby=lastUpdate%20asc&$top=5000`},
		{name: "with a filter", block: "cursor_field = \"lastUpdate\"\nfilter = \"isActive eq true\"\norderby = \"lastUpdate asc,id\"", tz: "UTC",
			want: `GET https://h/Svc.svc/Contacts?$filter=(isActive%20eq%20true)%20and%20lastUpdate%20ge%20datetime'2024-04-30T22:01:02.5'&$orderby=lastUpdate%20asc,id&$top=5000`},
		{name: "v2 datetimeoffset", block: "cursor_field = \"modified\"\ncursor_type = \"datetimeoffset\"", tz: "UTC",
			want: `GET https://h/Svc.svc/Contacts?$filter=modified%20ge%20datetimeoffset'2024-04-30T22:01:02.5Z'&$orderby=modified%20asc&$top=5000`},
		{name: "v4", block: "cursor_field = \"modified\"\nversion = 4", tz: "UTC",
			want: `GET https://h/Svc.svc/Contacts?$filter=modified%20ge%202024-04-30T22:01:02.5Z&$orderby=modified%20asc&$top=5000`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, diags := loadTZ(t, "url = \"https://h/Svc.svc\"\nentity_set = \"Contacts\"\ntop = 5000\n"+c.block, c.tz, nil)
			require.False(t, diags.HasErrors(), diags.Error())
			assert.Equal(t, c.want, s.PlanRead(engine.ReadOptions{Since: since}))
			assert.True(t, s.CursorOrdered())
		})
	}
	s := mustLoad(t, "url = \"https://h/Svc.svc\"\nentity_set = \"Contacts\"\ncursor_field = \"lastUpdate\"", nil)
	assert.Equal(t, `GET https://h/Svc.svc/Contacts?$orderby=lastUpdate%20asc`, s.PlanRead(engine.ReadOptions{}), "a full load is sorted too")
	assert.Equal(t, "odata https://h/Svc.svc/Contacts", s.Describe())
	s = mustLoad(t, "url = \"https://h/Svc.svc\"\nentity_set = \"Contacts\"", nil)
	assert.False(t, s.CursorOrdered())
}

// TestPerRequestHeaders evaluates header expressions before every attempt,
// a retry included, with the secrets kept out of errors.
func TestPerRequestHeaders(t *testing.T) {
	var n atomic.Int32
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("X-Sig"))
		if n.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "no: "+r.Header.Get("X-Sig"), http.StatusForbidden)
	}))
	defer srv.Close()
	s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
secrets = { key = env("KEY") }
headers = {
  X-Sig = "{{ secrets.key + '-' + string(page) + '-' + sha256(string(now())) }}"
}
retry {
  backoff = "1ms"
}`, map[string]string{"KEY": "s3cr3t-key"})
	_, err := readAll(t, s, engine.ReadOptions{})
	require.Error(t, err)
	require.Len(t, seen, 2)
	assert.True(t, strings.HasPrefix(seen[0], "s3cr3t-key-1-"))
	assert.NotEqual(t, seen[0], seen[1], "evaluated again for the retry")
	assert.NotContains(t, err.Error(), "s3cr3t-key")
	assert.Contains(t, err.Error(), "403 Forbidden: no: [redacted]")
}

// TestConfigErrors reports bad attributes as diagnostics on their line.
func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, block, summary string
	}{
		{"relative url", `url = "Svc.svc"` + "\nentity_set = \"C\"", "Invalid service root"},
		{"bad version", "url = \"https://h/s\"\nentity_set = \"C\"\nversion = 3", "Invalid version"},
		{"atom in v4", "url = \"https://h/s\"\nentity_set = \"C\"\nversion = 4\nformat = \"atom\"", "Atom in OData 4"},
		{"orderby not by cursor", "url = \"https://h/s\"\nentity_set = \"C\"\ncursor_field = \"lastUpdate\"\norderby = \"id\"", "Not ordered by the cursor"},
		{"bad cursor_type", "url = \"https://h/s\"\nentity_set = \"C\"\ncursor_field = \"x\"\ncursor_type = \"date\"", "Invalid cursor_type"},
		{"unknown function in a header", "url = \"https://h/s\"\nentity_set = \"C\"\nheaders = { A = \"{{ nope() }}\" }", ""},
		{"bad entity set", "url = \"https://h/s\"\nentity_set = \"C('x')\"", "Invalid entity_set"},
		{"broken key expression", "url = \"https://h/s\"\nentity_set = \"C\"\nkey = \"record.Id +\"", "Syntax error in expression"},
		{"broken header expression", "url = \"https://h/s\"\nentity_set = \"C\"\nheaders = { A = \"{{ now_unix( }}\" }", "Syntax error in expression"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, c.block, nil)
			require.True(t, diags.HasErrors())
			if c.summary != "" {
				assert.Equal(t, c.summary, diags[0].Summary, diags.Error())
			}
			require.NotNil(t, diags[0].Subject, "diagnostics point at the attribute")
			assert.Equal(t, "pipeline.hcl", diags[0].Subject.Filename)
		})
	}
}
