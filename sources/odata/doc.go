// Package odata is the "odata" source kind: it reads the entities of one
// entity set of an OData service — v2 Atom XML (MarketSharp), v2 verbose
// JSON or v4 JSON — described in the pipeline file.
//
// A source block names the service root and entity set and the query
// options ($select, $filter, $orderby, $expand, $top). Pages follow the
// server's next link (<link rel="next">, __next, @odata.nextLink) and, when
// the server sends none, the source asks for the next page itself until an
// empty page or a page shorter than the ones before: with key_field, for
// the entities after the last one read, by $filter on (cursor_field,
// key_field) (keyset paging: an entity updated during the run cannot make
// it skip another); without, by $skip. With cursor_field, a run asks only
// for entities at or after the saved incremental cursor, sorted by it, so
// the engine saves the cursor with every batch.
//
// Atom properties are typed by m:type (Edm.Int32 becomes an int64,
// Edm.Decimal an exact json.Number, Edm.DateTime a time in the pipeline's
// timezone, …); m:null="true" is nil and an empty element "". Characters
// XML forbids are removed from the value and counted, never fatal; a page
// that is not well-formed fails the run naming the page and its URL, before
// any of its records is emitted. OData error documents are quoted in the
// error.
//
// Requests go through the rest source's client: its auth, rate_limit and
// retry blocks, and headers with {{ expr }} parts evaluated before every
// attempt — which is how MarketSharp's HMAC Authorization header is written
// in HCL with now_unix, hmac_sha256 and base64_*. See README.md.
package odata
