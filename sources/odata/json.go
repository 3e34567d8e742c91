package odata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/etl-dev/etl/engine"
)

// parseJSON reads one JSON page: v2 verbose ({"d":{"results":[…],
// "__count":"2","__next":"…"}}, or v1's {"d":[…]}) or v4 ({"value":[…],
// "@odata.count":2,"@odata.nextLink":"…"}). Numbers stay exact
// (json.Number), as do Int64 and Decimal values sent as strings; v2's
// "\/Date(ms)\/" becomes a time. __metadata, unexpanded navigation links
// ({"__deferred":…}) and v4 annotations (@odata.etag, name@odata.type)
// are dropped.
func (s *Source) parseJSON(body []byte, pageName string) (page, error) {
	pg := page{count: -1}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return pg, fmt.Errorf("the page is not valid JSON: %w at byte %d", err, se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return pg, fmt.Errorf("the page is not valid JSON: it ends inside a value after %d bytes", len(body))
		}
		return pg, fmt.Errorf("the page is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return pg, fmt.Errorf("the page is not valid JSON: unexpected data after the value at byte %d", dec.InputOffset())
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return pg, fmt.Errorf("the page is %s, not an OData JSON object", kind(doc))
	}
	if e, ok := obj["error"]; ok {
		code, msg := jsonErrorParts(e)
		return pg, fmt.Errorf("the service answered with an error: OData error %s: %s", code, msg)
	}
	var list []any
	switch {
	case obj["d"] != nil:
		switch d := obj["d"].(type) {
		case []any:
			list = d
		case map[string]any:
			if r, ok := d["results"].([]any); ok {
				list = r
				if n, ok := d["__next"].(string); ok {
					pg.next = n
				}
				if c, ok := countOf(d["__count"]); ok {
					pg.count = c
				}
			} else {
				list = []any{d} // a single entity
			}
		default:
			return pg, fmt.Errorf(`"d" is %s, not a feed`, kind(d))
		}
	case obj["value"] != nil:
		v, ok := obj["value"].([]any)
		if !ok {
			return pg, fmt.Errorf(`"value" is %s, not an array of entities`, kind(obj["value"]))
		}
		list = v
		for _, k := range []string{"@odata.nextLink", "odata.nextLink"} {
			if n, ok := obj[k].(string); ok {
				pg.next = n
			}
		}
		for _, k := range []string{"@odata.count", "odata.count"} {
			if c, ok := countOf(obj[k]); ok {
				pg.count = c
			}
		}
	default:
		if _, ok := obj["value"]; ok { // "value": null
			return pg, nil
		}
		return pg, errors.New(`the page has neither "d" (OData 2) nor "value" (OData 4)`)
	}
	pg.records = make([]engine.Record, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			b, _ := json.Marshal(e)
			rec := s.record(nil, fmt.Errorf("entity %d of page %s is %s, not an object", i+1, pageName, kind(e)), func() string { return string(b) }, pageName)
			pg.records = append(pg.records, rec)
			continue
		}
		fields := s.jsonEntity(m)
		if i == 0 {
			pg.first = fingerprint(fields)
		}
		pg.records = append(pg.records, s.record(fields, nil, func() string { b, _ := json.Marshal(m); return string(b) }, pageName))
	}
	return pg, nil
}

// jsonEntity cleans one entity in place (see parseJSON) and returns it.
func (s *Source) jsonEntity(m map[string]any) map[string]any {
	for k, v := range m {
		if k == "__metadata" || strings.Contains(k, "@") || strings.HasPrefix(k, "odata.") {
			delete(m, k)
			continue
		}
		if vm, ok := v.(map[string]any); ok {
			if _, deferred := vm["__deferred"]; deferred {
				delete(m, k)
				continue
			}
		}
		m[k] = s.jsonValue(v)
	}
	return m
}

// jsonValue converts "\/Date(ms)\/" strings to times, at any depth, and
// unwraps v2's {"results": […]} expanded collections.
func (s *Source) jsonValue(v any) any {
	switch x := v.(type) {
	case string:
		if t, ok := jsonDate(x, s.loc); ok {
			return t
		}
		return x
	case map[string]any:
		if r, ok := x["results"].([]any); ok && len(x) <= 3 {
			if _, meta := x["__metadata"]; !meta {
				return s.jsonValue(r)
			}
		}
		return s.jsonEntity(x)
	case []any:
		for i := range x {
			x[i] = s.jsonValue(x[i])
		}
		return x
	}
	return v
}

// countOf reads a count: v2 sends a string, v4 a number.
func countOf(v any) (int64, bool) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case json.Number:
		text = x.String()
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(text, 10, 64)
	return n, err == nil && n >= 0
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("a %T", v)
}

// jsonErrorParts reads {"code": …, "message": {"lang", "value"}} (v2) or
// {"code": …, "message": "…"} (v4).
func jsonErrorParts(e any) (code, msg string) {
	m, ok := e.(map[string]any)
	if !ok {
		return "", fmt.Sprint(e)
	}
	code, _ = m["code"].(string)
	switch x := m["message"].(type) {
	case string:
		msg = x
	case map[string]any:
		msg, _ = x["value"].(string)
	}
	if inner, ok := m["innererror"].(map[string]any); ok && msg == "" {
		msg, _ = inner["message"].(string)
	}
	return code, msg
}

// parseServiceError reads an OData error document, XML or JSON, from the
// body of a refused request.
func parseServiceError(body []byte) (code, msg string, ok bool) {
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	if len(b) == 0 {
		return "", "", false
	}
	if b[0] == '{' {
		var doc struct {
			Error any `json:"error"`
		}
		if json.Unmarshal(b, &doc) != nil || doc.Error == nil {
			return "", "", false
		}
		code, msg = jsonErrorParts(doc.Error)
		return code, msg, msg != "" || code != ""
	}
	return xmlServiceError(b)
}
