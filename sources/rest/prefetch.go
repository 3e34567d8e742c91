package rest

import (
	"context"
	"sync"
)

// maxInFlight caps the requests a source keeps in flight when pages can be
// requested ahead (see prefetcher).
const maxInFlight = 8

// prefetcher keeps the requests of the next pages in flight while a page is
// being read, where the next request does not depend on the last answer:
// paginate "page" or "offset" with a declared limit (page n+1, or offset +
// limit, as long as every page is full) and a declared rate_limit, whose
// budget the requests then share (the client's throttle spaces them). At
// most the smaller of maxInFlight and the budget's requests are in flight;
// never past the declared total, nor max_pages. Pages are still read in
// order: a page that ends the read (short, empty, the total reached, stop)
// leaves the requests after it unread, and they are cancelled. A page whose
// request was not the one predicted (a short page read on) is sent again.
type prefetcher struct {
	s      *Source
	client *Client
	window int

	parent context.Context // the read's
	ctx    context.Context // the requests sent ahead: cancelled by drop and close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	queue  []*inflight // the pages after the one being read, in order
	total  int64       // the declared total once a response gave it; -1 before
}

// inflight is one request sent ahead.
type inflight struct {
	st   reqState
	done chan struct{}
	resp *Response
	err  error
}

// newPrefetcher returns the source's prefetcher for one read, nil when its
// pages cannot be requested ahead.
func (s *Source) newPrefetcher(ctx context.Context, client *Client) *prefetcher {
	p := s.pager
	if s.inFlight < 2 || p == nil || (p.style != "page" && p.style != "offset") || p.limit < 1 {
		return nil
	}
	pf := &prefetcher{s: s, client: client, window: s.inFlight, total: -1, parent: ctx}
	pf.ctx, pf.cancel = context.WithCancel(ctx)
	return pf
}

// do returns client's response to req, the request of the page st,
// sending the requests of the pages after it ahead (a nil prefetcher sends
// req alone).
func (pf *prefetcher) do(ctx context.Context, client *Client, st reqState, req *Request) (*Response, error) {
	if pf == nil {
		return client.Do(ctx, req)
	}
	var head *inflight
	if len(pf.queue) > 0 && samePage(pf.queue[0].st, st) {
		head, pf.queue = pf.queue[0], pf.queue[1:]
	} else {
		pf.drop()
		head = pf.send(st, req)
	}
	pf.fill(st)
	select {
	case <-head.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return head.resp, head.err
}

// samePage reports whether a and b request the same page.
func samePage(a, b reqState) bool {
	return a.page == b.page && a.offset == b.offset && a.url == "" && b.url == "" && a.cursor == nil && b.cursor == nil
}

// fill sends the requests of the pages after st until window requests are
// in flight.
func (pf *prefetcher) fill(st reqState) {
	p := pf.s.pager
	for len(pf.queue) < pf.window-1 {
		k := len(pf.queue) + 1
		next := st
		next.page += k
		next.offset += k * p.limit
		if p.maxPages > 0 && next.page > p.maxPages {
			return
		}
		if pf.total >= 0 && int64((next.page-1)*p.limit) >= pf.total {
			return
		}
		req, err := pf.s.request(&next)
		if err != nil {
			return // the read builds it again, and says why
		}
		pf.queue = append(pf.queue, pf.send(next, req))
	}
}

// send sends req in the background.
func (pf *prefetcher) send(st reqState, req *Request) *inflight {
	f := &inflight{st: st, done: make(chan struct{})}
	pf.wg.Go(func() {
		defer close(f.done)
		f.resp, f.err = pf.client.Do(pf.ctx, req)
	})
	return f
}

// drop cancels the requests sent ahead: the read went another way.
func (pf *prefetcher) drop() {
	if len(pf.queue) == 0 {
		return
	}
	pf.cancel()
	pf.wg.Wait()
	pf.queue = nil
	pf.ctx, pf.cancel = context.WithCancel(pf.parent)
}

// close cancels what is still in flight and waits for it.
func (pf *prefetcher) close() {
	if pf == nil {
		return
	}
	pf.cancel()
	pf.wg.Wait()
}
