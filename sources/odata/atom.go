package odata

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/antchfx/xmlquery"

	"github.com/etl-dev/etl/sources/rest"
)

// The namespaces of OData v2 Atom. Prefixes are not fixed: elements and
// attributes are matched by namespace, never by a literal d: or m:.
const (
	nsMetadata = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
	nsXML      = "http://www.w3.org/XML/1998/namespace"
)

// feedXPath selects, as the page streams, each entry, the feed's links and
// count, and an error document or in-stream error.
const feedXPath = `/*[local-name()='error'] | /*/*[local-name()='entry' or local-name()='link' or local-name()='count' or local-name()='error']`

// parseAtom reads one Atom page, an entry at a time (xmlquery's stream
// parser: only one entry's nodes are in memory). base is the page's URL,
// for a relative next link when the feed has no xml:base.
func (s *Source) parseAtom(body []byte, base, pageName string) (page, error) {
	pg := page{count: -1}
	lim := &rest.RecordLimit{R: bytes.NewReader(body), Max: s.maxRecord}
	sp, err := xmlquery.CreateStreamParser(lim, feedXPath)
	if err != nil {
		return pg, err
	}
	for {
		n, err := sp.Read()
		if err == io.EOF {
			return pg, nil
		}
		if lim.Exceeded() {
			return pg, fmt.Errorf("entry %d of the page is larger than max_record_size (%s): stopped at byte %d of the page; raise max_record_size if such entries are expected", len(pg.records)+1, rest.FormatSize(s.maxRecord), lim.Offset())
		}
		lim.Reset()
		if err != nil {
			return pg, fmt.Errorf("the page is not well-formed XML after entry %d of it: %w", len(pg.records), err)
		}
		switch n.Data {
		case "entry":
			fields, keyEdm, perr := s.entry(n)
			if keyEdm != "" {
				pg.keyEdm = keyEdm
			}
			rec := s.record(fields, perr, func() string { return n.OutputXML(true) }, pageName)
			if len(pg.records) == 0 {
				pg.first = fingerprint(fields)
			}
			pg.records = append(pg.records, rec)
		case "link":
			if attr(n, "", "rel") != "next" {
				continue
			}
			href := attr(n, "", "href")
			if href == "" {
				return pg, errors.New(`<link rel="next"> has no href`)
			}
			if b := xmlBase(n.Parent); b != "" {
				if bu, err := url.Parse(b); err == nil && bu.IsAbs() {
					if r, err := url.Parse(href); err == nil {
						href = bu.ResolveReference(r).String()
					}
				}
			}
			pg.next = href
		case "count":
			if n.NamespaceURI != nsMetadata {
				continue
			}
			c, err := strconv.ParseInt(strings.TrimSpace(n.InnerText()), 10, 64)
			if err != nil {
				return pg, fmt.Errorf("m:count %q is not a number", n.InnerText())
			}
			pg.count = c
		case "error":
			code, msg := errorParts(n)
			return pg, fmt.Errorf("the service answered with an error after entry %d: OData error %s: %s", len(pg.records), code, msg)
		}
	}
}

// entry reads an entry's m:properties: in its content, or beside it in a
// media-link entry. keyEdm is the m:type of key_field's property, if any.
func (s *Source) entry(n *xmlquery.Node) (fields map[string]any, keyEdm string, err error) {
	var props *xmlquery.Node
	for c := n.FirstChild; c != nil && props == nil; c = c.NextSibling {
		if c.Type != xmlquery.ElementNode {
			continue
		}
		switch c.Data {
		case "properties":
			props = c
		case "content":
			for cc := c.FirstChild; cc != nil; cc = cc.NextSibling {
				if cc.Type == xmlquery.ElementNode && cc.Data == "properties" {
					props = cc
					break
				}
			}
		}
	}
	fields = map[string]any{}
	if props == nil {
		return fields, "", nil
	}
	var errs []string
	for c := props.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != xmlquery.ElementNode {
			continue
		}
		v, err := s.property(c)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", c.Data, err))
		}
		fields[c.Data] = v
		if c.Data == s.cfg.KeyField {
			keyEdm = attr(c, nsMetadata, "type")
		}
	}
	if len(errs) > 0 {
		return fields, keyEdm, fmt.Errorf("property %s", strings.Join(errs, "; "))
	}
	return fields, keyEdm, nil
}

// property reads one property element: nil when m:null="true", a map for
// a complex value, a list for a collection, else its text by m:type.
func (s *Source) property(n *xmlquery.Node) (any, error) {
	if attr(n, nsMetadata, "null") == "true" {
		return nil, nil
	}
	typ := attr(n, nsMetadata, "type")
	hasChild := false
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == xmlquery.ElementNode {
			hasChild = true
			break
		}
	}
	if hasChild {
		if strings.HasPrefix(typ, "Collection(") {
			var list []any
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == xmlquery.ElementNode {
					v, err := s.property(c)
					if err != nil {
						return nil, err
					}
					list = append(list, v)
				}
			}
			return list, nil
		}
		m := map[string]any{}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == xmlquery.ElementNode {
				v, err := s.property(c)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.Data, err)
				}
				m[c.Data] = v
			}
		}
		return m, nil
	}
	if strings.HasPrefix(typ, "Collection(") {
		return []any{}, nil
	}
	text := n.InnerText()
	v, err := edmValue(text, typ, s.loc)
	if err != nil {
		return nil, fmt.Errorf("(%s) %w", typ, err)
	}
	return v, nil
}

// attr is the value of the attribute local in namespace ns ("" for none).
func attr(n *xmlquery.Node, ns, local string) string {
	for _, a := range n.Attr {
		if a.Name.Local == local && a.NamespaceURI == ns {
			return a.Value
		}
	}
	return ""
}

// xmlBase is the xml:base in effect at n.
func xmlBase(n *xmlquery.Node) string {
	for ; n != nil; n = n.Parent {
		if n.Type == xmlquery.ElementNode {
			if b := attr(n, nsXML, "base"); b != "" {
				return b
			}
		}
	}
	return ""
}

// errorParts reads an OData XML error element's code and message.
func errorParts(n *xmlquery.Node) (code, msg string) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != xmlquery.ElementNode {
			continue
		}
		switch c.Data {
		case "code":
			code = strings.TrimSpace(c.InnerText())
		case "message":
			msg = strings.TrimSpace(c.InnerText())
		}
	}
	return code, msg
}

// xmlServiceError reads an OData XML error document: <error><code/>
// <message/></error> in the metadata namespace.
func xmlServiceError(b []byte) (code, msg string, ok bool) {
	doc, err := xmlquery.Parse(bytes.NewReader(b))
	if err != nil {
		return "", "", false
	}
	root := doc.FirstChild
	for root != nil && root.Type != xmlquery.ElementNode {
		root = root.NextSibling
	}
	if root == nil || root.Data != "error" {
		return "", "", false
	}
	code, msg = errorParts(root)
	return code, msg, code != "" || msg != ""
}
