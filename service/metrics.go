package service

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/etl-dev/etl/engine"
)

// metrics are the Prometheus series of one server process. Counters count
// the runs this process worked; the sync history counts every process's.
type metrics struct {
	reg         *prometheus.Registry
	runs        *prometheus.CounterVec
	records     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	source      *prometheus.CounterVec
	snoozed     *prometheus.CounterVec
	webhooks    *prometheus.CounterVec
	superseded  *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etl_runs_total", Help: "Pipeline runs finished by this process, by pipeline and status (success, partial, failed).",
		}, []string{"pipeline", "status"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etl_records_total", Help: "Records of the runs finished by this process, by pipeline and outcome (created, updated, unchanged, rejected, failed, skipped).",
		}, []string{"pipeline", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "etl_run_duration_seconds", Help: "How long runs took, by pipeline.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600},
		}, []string{"pipeline"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "etl_last_success_timestamp_seconds", Help: "When the pipeline's last successful or partial run finished (Unix time), by any process.",
		}, []string{"pipeline"}),
		source: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etl_source_events_total", Help: "What sources counted besides records (e.g. xml_chars_removed), by pipeline and event.",
		}, []string{"pipeline", "event"}),
		snoozed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etl_jobs_snoozed_total", Help: "Jobs that found their pipeline running (its lock held) and were snoozed, by pipeline.",
		}, []string{"pipeline"}),
		webhooks: newWebhookMetrics(),
		superseded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "etl_ticks_superseded_total", Help: "Ticks dropped because their pipeline was still running and a later tick already waited, by pipeline.",
		}, []string{"pipeline"}),
	}
	m.reg.MustRegister(m.runs, m.records, m.duration, m.lastSuccess, m.source, m.snoozed, m.webhooks, m.superseded,
		&queueCollector{s: s},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, name := range s.names {
		for _, st := range []engine.Status{engine.StatusSuccess, engine.StatusPartial, engine.StatusFailed} {
			m.runs.WithLabelValues(name, string(st))
		}
	}
	return m
}

// observe counts a finished run.
func (m *metrics) observe(p *engine.Pipeline, res *engine.Result) {
	if res == nil || res.RunID == 0 {
		return // never started: nothing in the history either
	}
	m.runs.WithLabelValues(p.Name, string(res.Status)).Inc()
	t := res.Tally
	for outcome, n := range map[string]int64{"created": t.Created, "updated": t.Updated, "unchanged": t.Unchanged,
		"rejected": t.Rejected, "failed": t.Failed, "skipped": t.Skipped} {
		m.records.WithLabelValues(p.Name, outcome).Add(float64(n))
	}
	m.duration.WithLabelValues(p.Name).Observe(res.Duration().Seconds())
	if res.Status == engine.StatusSuccess || res.Status == engine.StatusPartial {
		m.lastSuccess.WithLabelValues(p.Name).Set(float64(res.Finished.Unix()))
	}
	for name, n := range res.Counters {
		m.source.WithLabelValues(p.Name, name).Add(float64(n))
	}
}

// queueCollector reads the queue's depth and the age of its oldest waiting
// job from River's table at each scrape.
type queueCollector struct{ s *Server }

var (
	queueDepthDesc  = prometheus.NewDesc("etl_queue_waiting_jobs", "Jobs ready to run and waiting for a worker.", nil, nil)
	queueOldestDesc = prometheus.NewDesc("etl_queue_oldest_waiting_seconds", "How long the oldest job ready to run has waited (0: none waits).", nil, nil)
	queueUpDesc     = prometheus.NewDesc("etl_warehouse_up", "1 when the warehouse answered this scrape's queue query.", nil, nil)
)

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueOldestDesc
	ch <- queueUpDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	if c.s.q == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n, oldest, err := c.s.q.depth(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(queueUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, max(oldest.Seconds(), 0))
}
