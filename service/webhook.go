package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/etl-dev/etl/engine"
)

// Webhooks: a pipeline whose source is an engine.Receiver (source
// "webhook") has its deliveries stored in the warehouse's inbox, in the
// transaction that enqueues the run that lands them, before the sender gets
// its 2xx; a pipeline's engine.Trigger (trigger "webhook") enqueues a run.
// Either enqueue is a RunArgs job unique on its pipeline and a time bucket
// (batch_wait, or the trigger's debounce), whose run starts once the bucket
// plus storeDeadline has passed: every delivery that joined the bucket's job
// has committed (or given up) by then, so the run sees it.

// storeDeadline bounds a delivery's whole handling (read, verify, store):
// well inside HubSpot's 5 s, and what a run waits past its bucket.
const storeDeadline = 3 * time.Second

// route is one webhook endpoint: at most one source that stores the
// deliveries, and the triggers that a delivery also starts (HubSpot sends
// every subscription of an app to one URL).
type route struct {
	method, path string
	store        *engine.Pipeline // nil: triggers only
	triggers     []routeTrigger
}

// routeTrigger is one pipeline's trigger on a route.
type routeTrigger struct {
	p *engine.Pipeline
	t engine.Trigger
}

// webhookRoutes groups the served pipelines' webhook endpoints by path,
// refusing two sources, or two methods, on one path.
func webhookRoutes(ps []*engine.Pipeline) ([]*route, error) {
	var out []*route
	byPath := map[string]*route{}
	at := func(p *engine.Pipeline, r engine.Receiver) (*route, error) {
		method, path := r.Route()
		rt, ok := byPath[path]
		if !ok {
			rt = &route{method: method, path: path}
			byPath[path] = rt
			out = append(out, rt)
		}
		if rt.method != method {
			return nil, fmt.Errorf("pipeline %s receives %s %s, another pipeline %s %s", p.Name, method, path, rt.method, path)
		}
		return rt, nil
	}
	for _, p := range ps {
		if !p.Serve.Enabled {
			continue
		}
		if r, ok := p.Source.(engine.Receiver); ok {
			rt, err := at(p, r)
			if err != nil {
				return nil, err
			}
			if rt.store != nil {
				return nil, fmt.Errorf("pipelines %s and %s both store the webhook deliveries at %s", rt.store.Name, p.Name, rt.path)
			}
			rt.store = p
		}
		for _, t := range p.Triggers {
			rt, err := at(p, t)
			if err != nil {
				return nil, err
			}
			rt.triggers = append(rt.triggers, routeTrigger{p, t})
		}
	}
	return out, nil
}

// receivers are the route's receivers, the source's first.
func (rt *route) receivers() []engine.Receiver {
	var out []engine.Receiver
	if rt.store != nil {
		out = append(out, rt.store.Source.(engine.Receiver))
	}
	for _, tr := range rt.triggers {
		out = append(out, tr.t)
	}
	return out
}

// webhookMetrics count deliveries by pipeline and outcome: stored,
// duplicate (every record's dedupe key was known), triggered, refused_401,
// refused_413, refused_400, error_503.
func newWebhookMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "etl_webhook_deliveries_total",
		Help: "Webhook deliveries by pipeline and outcome (stored, duplicate, triggered, refused_401, refused_413, refused_400, error_503).",
	}, []string{"pipeline", "outcome"})
}

// mountWebhooks adds each route to mux, outside the listener's own auth:
// senders prove who they are with the route's verify expressions.
func (s *Server) mountWebhooks(mux *http.ServeMux) {
	for _, rt := range s.hooks {
		mux.Handle(rt.method+" "+rt.path, s.webhookHandler(rt))
	}
}

// webhookHandler verifies a delivery with every receiver of the route (each
// must accept it), stores the source's records with the run that lands
// them, enqueues each trigger's run, and only then answers 2xx. A refusal
// stores nothing; a failure to store or enqueue is a 503, which senders
// retry (never a 4xx, which some treat as final).
func (s *Server) webhookHandler(rt *route) http.Handler {
	rcvs := rt.receivers()
	first := rcvs[0]
	// The metrics' pipeline label: the storing pipeline, else the first triggered.
	var name string
	if rt.store != nil {
		name = rt.store.Name
	} else {
		name = rt.triggers[0].p.Name
	}
	redact := func(text string) string {
		if rt.store != nil {
			text = rt.store.Redact(text)
		}
		for _, tr := range rt.triggers {
			text = tr.p.Redact(text)
		}
		return text
	}
	limit := first.MaxBody()
	for _, r := range rcvs[1:] {
		limit = min(limit, r.MaxBody())
	}
	log := s.log.With("webhook", rt.path)
	answer := func(w http.ResponseWriter, status int, reason string, stored int, outcome string) {
		s.metrics.webhooks.WithLabelValues(name, outcome).Inc()
		ct, body := first.Respond(status, reason, stored)
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), storeDeadline)
		defer cancel()
		// The body too must come within the deadline: a sender that trickles
		// it is cut off (a 400), not answered after HubSpot's 5 s.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(storeDeadline))
		body, err := readBody(w, r, limit)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				log.Warn("webhook delivery refused", "status", 413, "reason", "body over max_body", "max_body", limit, "remote", r.RemoteAddr)
				answer(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over max_body (%d bytes)", limit), 0, "refused_413")
				return
			}
			log.Warn("webhook delivery refused", "status", 400, "reason", "body unreadable", "remote", r.RemoteAddr)
			answer(w, http.StatusBadRequest, "body unreadable", 0, "refused_400")
			return
		}
		d := engine.Delivery{Method: r.Method, URL: requestURL(r), Header: r.Header, Body: body}
		var recs []engine.DeliveredRecord
		for i, rcv := range rcvs {
			got, err := rcv.Receive(d)
			if err != nil {
				var ref *engine.Refusal
				if !errors.As(err, &ref) {
					ref = &engine.Refusal{Status: http.StatusBadRequest, Reason: "refused"}
				}
				// Never the body: it may hold personal data or the signature.
				// An expression's message may quote a value of the body, so
				// the log keeps only what failed, the sender gets it whole.
				reason := redact(ref.Reason)
				logged, _, _ := strings.Cut(reason, ": ")
				log.Warn("webhook delivery refused", "status", ref.Status, "reason", logged, "remote", r.RemoteAddr)
				answer(w, ref.Status, reason, 0, fmt.Sprintf("refused_%d", ref.Status))
				return
			}
			if i == 0 && rt.store != nil {
				recs = got
			}
		}
		stored := 0
		if rt.store != nil {
			p := rt.store
			stored, err = s.q.accept(ctx, p.Name, recs, bucketEnd(time.Now(), first.BatchWait()), p.Serve.MaxAttempts)
			if err != nil {
				log.Error("webhook delivery not stored", "error", redact(err.Error()), "records", len(recs))
				answer(w, http.StatusServiceUnavailable, "could not store the delivery; retry", 0, "error_503")
				return
			}
		}
		for _, tr := range rt.triggers {
			p := tr.p
			if _, _, err := s.q.enqueueAfter(ctx, p.Name, "webhook", bucketEnd(time.Now(), tr.t.Debounce()), p.Serve.MaxAttempts); err != nil {
				// Stored already when a source shares the route: the
				// sender's retry is acknowledged as a duplicate and
				// enqueues again.
				log.Error("webhook trigger not enqueued", "pipeline", p.Name, "error", redact(err.Error()))
				answer(w, http.StatusServiceUnavailable, "could not enqueue the run; retry", stored, "error_503")
				return
			}
		}
		// Committed: from here nothing may fail the answer.
		switch {
		case rt.store == nil:
			answer(w, http.StatusAccepted, "", 0, "triggered")
		case stored == 0 && len(recs) > 0:
			answer(w, http.StatusOK, "", 0, "duplicate")
		default:
			answer(w, http.StatusOK, "", stored, "stored")
		}
	})
}

// readBody reads at most limit bytes of r's body; more is an
// *http.MaxBytesError.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

// requestURL is the URL the sender called: X-Forwarded-Proto and
// X-Forwarded-Host are honoured, for a server behind a TLS-terminating
// proxy (a forged value only makes a signature check fail).
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if v := r.Header.Get("X-Forwarded-Proto"); v == "https" || v == "http" {
		scheme = v
	}
	host := r.Host
	if v := r.Header.Get("X-Forwarded-Host"); v != "" {
		host = v
	}
	return scheme + "://" + host + r.URL.RequestURI()
}

// bucketEnd is the end of the bucket of width w that t falls in.
func bucketEnd(t time.Time, w time.Duration) time.Time {
	if w < time.Second {
		w = time.Second
	}
	return t.Truncate(w).Add(w)
}

// waitNotBefore holds a webhook job until its bucket has closed and every
// delivery that joined it has committed.
func waitNotBefore(ctx context.Context, notBefore time.Time) error {
	d := time.Until(notBefore.Add(storeDeadline))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// afterWebhookRun enqueues another run when deliveries are still pending
// (one that committed past its job's start), and forgets processed
// deliveries older than the dedupe window.
func (s *Server) afterWebhookRun(ctx context.Context, p *engine.Pipeline) {
	rcv, ok := p.Source.(engine.Receiver)
	if !ok {
		return
	}
	if ib, ok := s.wh.(engine.InboxStore); ok {
		pending, err := ib.Inbox(p.Name).Pending(ctx, 0, 1)
		if err != nil {
			s.log.Warn("read the webhook inbox", "pipeline", p.Name, "error", p.Redact(err.Error()))
		} else if len(pending) > 0 {
			if _, _, err := s.q.enqueueAfter(ctx, p.Name, "webhook", bucketEnd(time.Now(), rcv.BatchWait()), p.Serve.MaxAttempts); err != nil {
				s.log.Warn("enqueue the next webhook run", "pipeline", p.Name, "error", p.Redact(err.Error()))
			}
		}
	}
	if n, err := s.q.pruneInbox(ctx, p.Name, time.Now().Add(-rcv.DedupeWindow())); err != nil {
		s.log.Warn("prune the webhook inbox", "pipeline", p.Name, "error", p.Redact(err.Error()))
	} else if n > 0 {
		s.log.Info("pruned processed webhook deliveries past the dedupe window", "pipeline", p.Name, "rows", n)
	}
}

// webhookJobOpts are the insert options of a webhook run job: unique on
// its args (pipeline, trigger, bucket), so a bucket's deliveries share it.
func webhookJobOpts(maxAttempts int) *river.InsertOpts {
	return &river.InsertOpts{Queue: queueName, MaxAttempts: maxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}
