package odata_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// TestJSONPageShapes reads JSON pages of every shape a service may send:
// what is a feed gives records (a v1 list, a single entity, nested and
// expanded values), what is not fails naming what it is.
func TestJSONPageShapes(t *testing.T) {
	tests := []struct {
		name, body string
		want       []map[string]any // records' fields; nil entry: a record error
		wantErr    string           // the read's error
		recErr     string           // the first record error
	}{
		{name: "not an object", body: `[1,2]`, wantErr: "the page is an array, not an OData JSON object"},
		{name: "d not a feed", body: `{"d": "x"}`, wantErr: `"d" is a string, not a feed`},
		{name: "value not an array", body: `{"value": 5}`, wantErr: `"value" is a number, not an array of entities`},
		{name: "value null", body: `{"value": null}`},
		{name: "neither", body: `{"x": true}`, wantErr: `the page has neither "d" (OData 2) nor "value" (OData 4)`},
		{name: "data after the value", body: `{"value": []} {}`, wantErr: "the page is not valid JSON: unexpected data after the value at byte"},
		{name: "cut short", body: `{"value": [{"id": "a"`, wantErr: "the page is not valid JSON: it ends inside a value after 21 bytes"},
		{name: "syntax", body: `{"value": [tru]}`, wantErr: "the page is not valid JSON: invalid character ']' in literal true (expecting 'e') at byte 15"},
		{name: "an entity that is not an object", body: `{"value": [1, {"id": "a"}]}`,
			want: []map[string]any{nil, {"id": "a"}}, recErr: "entity 1 of page 1 is a number, not an object"},
		{name: "v1 list", body: `{"d": [{"id": "a"}, {"id": "b"}]}`, want: []map[string]any{{"id": "a"}, {"id": "b"}}},
		{name: "single entity", body: `{"d": {"id": "one", "ok": true, "none": null}}`, want: []map[string]any{{"id": "one", "ok": true, "none": nil}}},
		{name: "nested and expanded", body: `{"d": {"results": [{"id": "a", "__metadata": {"uri": "x"}, "nav": {"__deferred": {"uri": "y"}},
			"when": "\/Date(1700000000000)\/", "tags": ["x", "\/Date(0)\/"], "addr": {"city": "c", "odata.type": "t"},
			"lines": {"results": [{"n": 1}]}}], "__count": "1"}}`,
			want: []map[string]any{{"id": "a", "when": time.UnixMilli(1700000000000).UTC(), "tags": []any{"x", time.UnixMilli(0).UTC()},
				"addr": map[string]any{"city": "c"}, "lines": []any{map[string]any{"n": json.Number("1")}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(body))
			}))
			defer srv.Close()
			s := mustLoad(t, `url = "`+srv.URL+`/Svc.svc"
entity_set = "Contacts"
format = "json"`, nil)
			recs, err := readAll(t, s, engine.ReadOptions{})
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, recs, len(tt.want))
			for i, want := range tt.want {
				if want == nil {
					require.Error(t, recs[i].Err)
					assert.Contains(t, recs[i].Err.Error(), tt.recErr)
					continue
				}
				assert.NoError(t, recs[i].Err)
				assert.Equal(t, want, recs[i].Fields)
			}
		})
	}
}
