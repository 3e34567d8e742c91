package odata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/etl-dev/etl/engine"
	"github.com/etl-dev/etl/sources/rest"
	xmlsrc "github.com/etl-dev/etl/sources/xml"
)

// discard is the logger of a Read without one.
var discard = slog.New(slog.DiscardHandler)

// page is one parsed page of an entity set.
type page struct {
	records []engine.Record
	next    string // the server's next link, as sent; "" for none
	count   int64  // the total the server reported; -1 when it did not
	first   [32]byte
	removed int    // characters XML forbids, removed
	keyEdm  string // the Atom m:type of key_field's property, if any
}

// Read fetches page after page and emits their entities; see
// engine.Source. A page is parsed whole before any of its entities is
// emitted, and the next page is fetched while the last one's are.
func (s *Source) Read(ctx context.Context, opts engine.ReadOptions, emit func(engine.Record) error) error {
	client := s.client.WithLogger(opts.Logger)
	emitErr, ferr := engine.ReadAhead(ctx, func(ctx context.Context, put func([]engine.Record) error) error {
		return s.fetch(ctx, client, opts, func(p page) error { return put(p.records) })
	}, emit)
	if emitErr != nil {
		return emitErr
	}
	if ferr != nil {
		return fmt.Errorf("%s: %w", s.cfg.EntitySet, redacted(client, ferr))
	}
	return nil
}

// fetch requests every page in turn and sends each to out.
//
// It follows the server's next link while there is one. When a page comes
// without one and top is set, it asks for the next page itself: with
// key_field, the entities after the last one read (keyset paging, see
// keyset.go), else the next $skip. The read ends on an empty page, or on a
// page shorter than top that is also shorter than the ones the server has
// been returning (a server that ignores $top and clamps its pages must
// still be read to the end).
func (s *Source) fetch(ctx context.Context, client *rest.Client, opts engine.ReadOptions, out func(page) error) error {
	log := opts.Logger
	if log == nil {
		log = discard
	}
	reqURL, err := s.firstURL(opts.Since)
	if err != nil {
		return fmt.Errorf("build the first request: %w", err)
	}
	var (
		pageNo     = 1
		skip       = 0     // $skip of the last request the source built
		chain      = 0     // entities since that request, its next links followed
		chainLinks = false // the server sent a next link since that request
		largest    = 0     // the largest chain without next links
		read       = int64(0)
		total      = int64(-1)
		removed    = 0
		prevFirst  [32]byte
		seen       = map[string]int{} // next links → the page that sent them
		ks         *keyset            // keyset paging; nil: $skip paging
		keysetReq  = false            // the request continues after an entity read
		warned     = false            // the $skip or key warning was logged
	)
	if s.cfg.KeyField != "" {
		ks = &keyset{s: s}
	}
	defer func() {
		if removed > 0 {
			log.Warn("removed characters that XML forbids from property values", "pipeline", s.pipeline, "entity_set", s.cfg.EntitySet, "removed", removed)
			if opts.Count != nil {
				opts.Count("xml_chars_removed", int64(removed))
			}
		}
	}()
	for {
		where := fmt.Sprintf("page %d (GET %s)", pageNo, client.SafeURL(reqURL))
		pg, err := s.get(ctx, client, reqURL, pageNo, where)
		if err != nil {
			if !keysetReq || !refused(err) {
				return err
			}
			// The filter of a page the service answered with the same
			// options but for the keyset condition: the service cannot
			// compare key_field (or cursor_field) with gt. Page by $skip
			// from here, as without key_field.
			log.Warn("the service refused the keyset $filter; paging with $skip from here, which can miss an entity updated during the run (check key_field and key_type)",
				"pipeline", s.pipeline, "entity_set", s.cfg.EntitySet, "page", pageNo, "error", client.Redact(err.Error()))
			if opts.Count != nil {
				opts.Count("odata_keyset_refused", 1)
			}
			ks, keysetReq, warned = nil, false, true
			skip = int(read)
			if reqURL, err = s.pageURL(opts.Since, "", skip, false); err != nil {
				return err
			}
			continue
		}
		n := len(pg.records)
		removed += pg.removed
		if pg.removed > 0 {
			log.Debug("removed characters that XML forbids", "page", pageNo, "url", client.SafeURL(reqURL), "removed", pg.removed)
		}
		if pg.count >= 0 {
			total = pg.count
		}
		read += int64(n)
		if opts.Progress != nil && total >= 0 {
			opts.Progress(read, max(total, read))
		}
		if !chainLinks && chain == 0 && n > 0 && pageNo > 1 && pg.first == prevFirst && pg.next == "" {
			if keysetReq {
				return fmt.Errorf("%s: the page starts with the same entity as the page before; does the service apply $filter? (a page seen twice would loop)", where)
			}
			return fmt.Errorf("%s: the page starts with the same entity as the page before; does the service take $skip? (a page seen twice would loop)", where)
		}
		if ks != nil {
			ks.observe(pg.records, pg.keyEdm) // before the engine owns them
		}
		if n > 0 {
			prevFirst = pg.first
			if err := out(pg); err != nil {
				return err
			}
		}
		if s.cfg.MaxPages > 0 && pageNo >= s.cfg.MaxPages {
			log.Info("max_pages reached; stopping", "pipeline", s.pipeline, "max_pages", s.cfg.MaxPages)
			return nil
		}
		chain += n
		if pg.next != "" {
			next, err := resolve(reqURL, pg.next)
			if err != nil {
				return fmt.Errorf("%s: next link: %w", where, err)
			}
			if at, dup := seen[next]; dup {
				return fmt.Errorf("%s: the next link %s was already sent by page %d; stopping rather than looping", where, client.SafeURL(next), at)
			}
			seen[next] = pageNo
			reqURL, chainLinks, keysetReq = next, true, false
			pageNo++
			continue
		}
		// No next link: the server is done, unless the source pages itself.
		top := s.cfg.Top
		if top == 0 || chain == 0 {
			return nil
		}
		if chain < top {
			if chainLinks || chain < largest {
				return nil
			}
			// A short page as long as the longest yet: the server may clamp
			// pages below $top, so one more request tells.
		}
		if !chainLinks && chain > largest {
			largest = chain
		}
		skip += chain
		chain, chainLinks = 0, false
		if ks == nil {
			if !warned {
				warned = true
				log.Warn("paging with $skip: an entity updated during the run moves the ones after it one place earlier, and the one at a page boundary is not read; set key_field to page after the last entity read",
					"pipeline", s.pipeline, "entity_set", s.cfg.EntitySet)
			}
			if reqURL, err = s.pageURL(opts.Since, "", skip, false); err != nil {
				return err
			}
			keysetReq = false
			pageNo++
			continue
		}
		// Keyset paging: the entities after the last one read, skipping
		// those read after it that could not be continued after.
		if ks.err != nil {
			return fmt.Errorf("%s: cannot ask for the entities after the last one read: %w", where, ks.err)
		}
		if ks.noKey > 0 && !warned {
			warned = true
			log.Warn("entities without a key_field value were read; the next page skips them by count after the last entity with one",
				"pipeline", s.pipeline, "entity_set", s.cfg.EntitySet, "key_field", s.cfg.KeyField)
		}
		after := ""
		if ks.at != nil {
			after = ks.condition(opts.Since == nil)
		}
		if reqURL, err = s.pageURL(opts.Since, after, ks.after, false); err != nil {
			return err
		}
		keysetReq = after != ""
		pageNo++
	}
}

// refused reports whether the service refused a request as malformed (400)
// or beyond what it implements (501): what an OData service answers to a
// $filter it cannot apply.
func refused(err error) bool {
	var se *rest.StatusError
	return errors.As(err, &se) && (se.Status == http.StatusBadRequest || se.Status == http.StatusNotImplemented)
}

// get fetches and parses one page.
func (s *Source) get(ctx context.Context, client *rest.Client, u string, pageNo int, where string) (page, error) {
	req := &rest.Request{Method: http.MethodGet, URL: u, Header: s.requestHeaders(), Label: "page " + strconv.Itoa(pageNo)}
	if s.headers != nil {
		env := map[string]any{"secrets": s.secrets, "page": pageNo}
		req.Headers = func() (http.Header, error) {
			m, err := s.headers.Strings(env)
			if err != nil {
				return nil, err
			}
			h := http.Header{}
			for k, v := range m {
				h.Set(k, v)
			}
			return h, nil
		}
	}
	resp, err := client.Do(ctx, req)
	if err != nil {
		return page{}, withServiceError(err)
	}
	pageName := strconv.Itoa(pageNo)
	if isJSON(resp.Header.Get("Content-Type"), resp.Body) {
		pg, err := s.parseJSON(resp.Body, pageName)
		if err != nil {
			return page{}, fmt.Errorf("%s: %w", where, err)
		}
		return pg, nil
	}
	body, removed := xmlsrc.Clean(resp.Body)
	pg, err := s.parseAtom(body, u, pageName)
	if err != nil {
		return page{}, fmt.Errorf("%s: %w", where, err)
	}
	pg.removed = removed
	return pg, nil
}

// isJSON tells a JSON response from an XML one: by its Content-Type, else
// by its first character.
func isJSON(ct string, body []byte) bool {
	ct = strings.ToLower(ct)
	switch {
	case strings.Contains(ct, "json"):
		return true
	case strings.Contains(ct, "xml"):
		return false
	}
	b := bytes.TrimLeft(body, " \t\r\n\ufeff")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// record finishes an entity's record: its position and key.
func (s *Source) record(fields map[string]any, perr error, raw func() string, pageName string) engine.Record {
	rec := engine.Record{Fields: fields, Pos: engine.Position{Page: pageName}}
	if perr != nil {
		rec.Err = perr
		rec.Raw = raw()
	}
	if s.key != nil {
		k, err := s.key.Eval(map[string]any{"record": fields})
		switch {
		case err != nil && rec.Err == nil:
			rec.Err = fmt.Errorf("key: %w", err)
			rec.Raw = raw()
		case err == nil && k != nil:
			rec.Pos.Key = fmt.Sprint(k)
		}
	}
	return rec
}

// fingerprint identifies a page by its first entity.
func fingerprint(fields map[string]any) [32]byte {
	b, _ := json.Marshal(fields)
	return sha256.Sum256(b)
}

// resolve resolves a next link against the URL of the page that sent it
// (or the feed's xml:base, already applied by the parser).
func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", err
	}
	u := b.ResolveReference(r)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q is not an http(s) URL", ref)
	}
	return u.String(), nil
}

// redacted passes err's message through the client's Redact, keeping the
// chain for errors.As.
func redacted(c *rest.Client, err error) error {
	msg := err.Error()
	if red := c.Redact(msg); red != msg {
		return &messageError{msg: red, err: err}
	}
	return err
}

// messageError is err with another message.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }

// withServiceError puts the OData error document a refused request
// answered with (its code and message) into the error, in place of the raw
// excerpt of the body.
func withServiceError(err error) error {
	var se *rest.StatusError
	if !errors.As(err, &se) {
		return err
	}
	code, msg, ok := parseServiceError([]byte(se.Body))
	if !ok {
		return err
	}
	text := "OData error"
	if code != "" {
		text += " " + code
	}
	text += ": " + msg
	full := err.Error()
	if se.Excerpt != "" && strings.Contains(full, ": "+se.Excerpt) {
		full = strings.Replace(full, ": "+se.Excerpt, ": "+text, 1)
	} else {
		full += ": " + text
	}
	return &messageError{msg: full, err: err}
}
