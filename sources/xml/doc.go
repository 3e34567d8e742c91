// Package xml is the "xml" source kind: it streams the records of an XML
// document — one file, every file a glob matches, or a URL — in constant
// memory, however large the document.
//
// records is an XPath selecting each record element (parsed with
// antchfx/xmlquery's stream parser, so only one record's subtree is in
// memory at a time); fields maps each field name to an XPath relative to
// the record. Without fields, a record is its element's children by name
// (nested elements as maps, repeated ones as lists) and its attributes.
// Characters XML 1.0 forbids (a stray control character) are removed and
// counted rather than failing the document; see Cleaner. A document that is
// not well-formed fails the run naming the file. See README.md.
package xml
