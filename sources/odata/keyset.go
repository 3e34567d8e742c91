package odata

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/etl-dev/etl/engine"
)

// Keyset paging: with key_field, a page the source asks for itself (the
// server sent no next link) is not "$skip the entities read so far" but
// "the entities after the last one read", in the order the requests ask
// for ($orderby=<cursor_field> asc,<key_field> asc):
//
//	(lastUpdate gt X) or (lastUpdate eq X and id gt K)
//
// where X and K are that entity's values, written as OData literals. An
// entity updated during the run moves to the end of the order; with $skip
// every entity after it would shift one place earlier and the one at the
// page boundary would be skipped, while the keyset condition does not
// depend on positions.
//
// Entities whose cursor_field is null: OData servers sort nulls first
// (SQL Server, the OData 4 spec), some last, and a comparison with null is
// false. The source learns the server's order from what it reads: while it
// has seen no null followed by a value, a full load's condition after a
// value also takes "or <cursor_field> eq null" (nulls sorted last, or none);
// after a null it is "(<cursor_field> eq null and <key_field> gt K) or
// <cursor_field> ne null" (nulls first), or only the part in parentheses
// once nulls came after values. An incremental run's "ge since" never
// matches a null, so it adds nothing for them.

// anchor is the entity a keyset page continues after: its cursor_field
// and key_field values as OData literals.
type anchor struct {
	cursor string // "" when null (or without cursor_field)
	null   bool   // the cursor_field value is null
	key    string
}

// keyset is the paging state of one Read with key_field.
type keyset struct {
	s  *Source
	at *anchor // nil until a page has an entity to continue after
	// after counts the entities read after at that could not be one (a
	// record the source could not parse, a null key): the next page skips
	// them with $skip. Without an anchor it is every entity read.
	after int
	// What the read has shown of where the server sorts null cursors.
	sawNull, sawValue     bool
	nullsFirst, nullsLast bool
	// err is why the last page gave no anchor it should have; reported only
	// when a next page is needed.
	err error
	// noKey counts the clean entities without a key_field value, passed
	// over as anchors.
	noKey int
}

// observe moves the state past a page's records, in the order read: before
// they are emitted, as the engine owns them after that. keyEdm is the
// key property's Atom m:type, if any.
func (k *keyset) observe(recs []engine.Record, keyEdm string) {
	cf := k.s.cfg.CursorField
	if cf != "" && !k.nullsFirst && !k.nullsLast {
		for i := range recs {
			if recs[i].Err != nil {
				continue
			}
			if lookup(recs[i].Map(), cf) == nil {
				if k.sawValue {
					k.nullsLast = true
					break
				}
				k.sawNull = true
			} else {
				if k.sawNull {
					k.nullsFirst = true
					break
				}
				k.sawValue = true
			}
		}
	}
	k.err = nil
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Err != nil {
			continue
		}
		a, err := k.s.anchorOf(recs[i].Map(), keyEdm)
		if err != nil {
			k.err = fmt.Errorf("entity %d of the page: %w", i+1, err)
			return
		}
		if a == nil {
			k.noKey++
			continue
		}
		k.at, k.after = a, len(recs)-1-i
		return
	}
	k.after += len(recs)
}

// condition is the $filter condition of the entities after the anchor;
// full tells a full load (no incremental condition) from an incremental
// run.
func (k *keyset) condition(full bool) string {
	key, cf, a := k.s.cfg.KeyField, k.s.cfg.CursorField, k.at
	if cf == "" {
		return key + " gt " + a.key
	}
	if a.null {
		c := cf + " eq null and " + key + " gt " + a.key
		if k.nullsLast {
			return c
		}
		return "(" + c + ") or " + cf + " ne null"
	}
	c := "(" + cf + " gt " + a.cursor + ") or (" + cf + " eq " + a.cursor + " and " + key + " gt " + a.key + ")"
	if full && !k.nullsFirst {
		c += " or " + cf + " eq null"
	}
	return c
}

// anchorOf reads an entity's cursor_field and key_field as literals; nil
// when its key is null or missing (it cannot be continued after).
func (s *Source) anchorOf(fields map[string]any, keyEdm string) (*anchor, error) {
	kv := lookup(fields, s.cfg.KeyField)
	if kv == nil {
		return nil, nil
	}
	key, err := s.keyLiteral(kv, keyEdm)
	if err != nil {
		return nil, fmt.Errorf("key_field %s: %w", s.cfg.KeyField, err)
	}
	a := &anchor{key: key}
	if s.cfg.CursorField == "" {
		return a, nil
	}
	cv := lookup(fields, s.cfg.CursorField)
	if cv == nil {
		a.null = true
		return a, nil
	}
	if a.cursor, err = s.cursorLiteral(cv); err != nil {
		return nil, fmt.Errorf("cursor_field %s: %w", s.cfg.CursorField, err)
	}
	return a, nil
}

// cursorLiteral writes an entity's cursor_field value as the literal the
// incremental condition uses for the saved cursor. A date-time the JSON
// formats leave as text (v4's "2024-04-30T22:01:02.5Z", or any with
// cursor_type datetime or datetimeoffset) is read as a time first.
func (s *Source) cursorLiteral(v any) (string, error) {
	if text, ok := v.(string); ok {
		switch kind := s.cfg.CursorType; {
		case kind == "datetime" || kind == "datetimeoffset":
			if t, err := parseDateTime(text, s.loc); err == nil {
				v = t
			}
		case kind == "" && s.cfg.Version == 4:
			if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(text)); err == nil {
				v = t
			}
		}
	}
	return s.literal(v)
}

var (
	guidRE   = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)

// keyLiteral writes a key_field value as an OData literal: by key_type,
// else by the value — a number bare, text quoted (a quote in it doubled),
// or guid'…' (v4: bare) when the Atom m:type says Edm.Guid.
func (s *Source) keyLiteral(v any, edm string) (string, error) {
	var text string
	kind := s.cfg.KeyType
	switch x := v.(type) {
	case string:
		text = x
		if kind == "" {
			kind = "string"
			if edm == "Edm.Guid" {
				kind = "guid"
			}
		}
	case int64:
		text = strconv.FormatInt(x, 10)
	case int:
		text = strconv.Itoa(x)
	case json.Number:
		text = x.String()
	case float64:
		text = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return "", fmt.Errorf("%v is a %T; a key is a string, a guid or a number", v, v)
	}
	if kind == "" {
		kind = "number"
	}
	switch kind {
	case "number":
		if !numberRE.MatchString(text) {
			return "", fmt.Errorf("%q is not a number (key_type = \"number\")", text)
		}
		return text, nil
	case "guid":
		if !guidRE.MatchString(text) {
			return "", fmt.Errorf("%q is not a guid", text)
		}
		if s.cfg.Version == 4 {
			return text, nil
		}
		return "guid'" + text + "'", nil
	}
	return quote(text), nil
}

// lookup is the value of a property, "Address/City" for a nested one; nil
// when it is null or missing.
func lookup(fields map[string]any, path string) any {
	var v any = fields
	for name := range strings.SplitSeq(path, "/") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[name]
	}
	return v
}
