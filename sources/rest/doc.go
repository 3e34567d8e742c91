// Package rest is the "rest" source kind: it reads the records of a paged
// JSON API — HubSpot, LeadConduit, Arrivy and the like — described entirely
// in the pipeline file.
//
// A source block names the endpoint (url, method, query, headers, body),
// where the records are in a response (records), and optionally how pages
// follow each other (a paginate block: cursor, next_url, link_header,
// offset, page or after_id), how requests authenticate (an auth block:
// bearer, basic, api_key, headers or oauth2), the request budget
// (rate_limit) and the retry policy (retry). Strings in query, headers, body
// and url may hold {{ expr }} parts evaluated for each request over since
// (the incremental lower bound), cursor, page and offset; that is how a
// request asks only for records newer than the saved cursor. See README.md
// for every attribute.
//
// Records are the elements of the response's record list, decoded with
// numbers as json.Number so ids and amounts keep every digit. Their
// positions carry the page number and, with key set, the record's id.
// Fetching runs one page ahead of the engine, so the next request overlaps
// mapping and loading the last page. Every paging style stops on an
// explicit condition, and a cursor, URL or last id seen twice is an error,
// never a loop. A cursor query sorted by a value (HubSpot's search) can
// restart from the last value read before the server's result cap.
//
// # Reuse by other HTTP sources
//
// The HTTP machinery is exported for other sources (the OData source reuses
// it): declare the blocks in the source's own config struct with the types
// AuthConfig, RateLimitConfig and RetryConfig, build them with their Build
// methods (each returns hcl.Diagnostics on the block's attributes), and pass
// the results to NewClient. Client.Do then sends a Request with the auth
// applied, within the budget and the server's rate-limit headers, retrying
// 429 (honouring Retry-After), 408, 423, 5xx, timeouts and dropped
// connections with exponential backoff and jitter; a 401 under oauth2
// refreshes the token once. Any other status is a *StatusError with the
// status, the URL without secrets and a redacted excerpt of the body.
// Client.SafeURL and Client.Redact render URLs and text without the
// credentials the client knows, the tokens it obtained at run time
// included; a redirect to another host never carries them.
package rest
