// Package service is `etl serve`: it keeps every pipeline of a folder
// running on its schedule, on one machine or many, through River (a job
// queue in the warehouse database: PostgreSQL with riverpgxv5, or the
// embedded SQLite file with riversqlite, one process only).
//
// It is a face over the engine with no ETL logic of its own. River's
// elected leader fires each pipeline's schedule; each tick is recorded in
// etl_ticks (unique on pipeline and fire time) in the same transaction as
// the one job kind, RunArgs, that runs it. Any process works the jobs: the
// worker calls engine.Pipeline.Run, whose per-pipeline lock fences every
// run — a job that finds the lock held is snoozed, never failed — and whose
// crash guarantees make a rescued job's rerun safe. The sync history stays
// the record of every run; River prunes its finished jobs after a day.
//
// HTTP (one listener): /metrics (Prometheus), /healthz, /readyz, the status
// page at /, and POST /pipelines/NAME/trigger.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/etl-dev/etl/engine"
)

// Config is what `etl serve` was asked to do.
type Config struct {
	Registry *engine.Registry
	// Pipelines are loaded and valid; their names are unique.
	Pipelines []*engine.Pipeline
	// WarehouseURL is where the history, the queue and the data live.
	WarehouseURL string
	// Workers is how many pipeline runs this process works at once.
	Workers int
	// Listen is the HTTP address; beyond loopback Auth must be set.
	Listen string
	Auth   Auth
	// RescueAfter is how long a job may run before River's rescuer makes
	// it available again (its process is presumed dead); 0: the longest
	// pipeline timeout plus a minute. The pipeline lock fences a rescue
	// that comes while the run still goes on.
	RescueAfter time.Duration
	// Snooze is how long a job that found its pipeline running waits
	// before trying again; 0: 2s.
	Snooze time.Duration
	// Grace is how long a shutdown waits for running pipelines to land
	// their current batch before cancelling them; 0: 30s.
	Grace  time.Duration
	Logger *slog.Logger
	// OnListen, when set, is told the HTTP address once listening.
	OnListen func(addr string)
}

// Auth guards the HTTP listener: a bearer token, basic credentials, or
// both (either is accepted). Empty: no auth, allowed on loopback only.
type Auth struct {
	Token          string
	User, Password string
}

func (a Auth) set() bool { return a.Token != "" || a.User != "" }

// ErrUnsafeListen is returned when the listener is not loopback and no auth is set.
var ErrUnsafeListen = errors.New("refusing to listen beyond loopback without auth: set a bearer token or basic credentials (--auth-token-env, --auth-token-file, --basic-auth-env, --basic-auth-file)")

// Server runs pipelines as River jobs and serves HTTP.
type Server struct {
	cfg      Config
	log      *slog.Logger
	byName   map[string]*engine.Pipeline
	names    []string
	wh       engine.Warehouse
	q        queue
	tk       *ticker
	metrics  *metrics
	stopping chan struct{}
	stopOnce sync.Once
	csrfKey  []byte
	hooks    []*route // webhook endpoints (webhook.go)
}

// loopback reports whether addr listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckListen refuses an address beyond loopback without auth.
func CheckListen(addr string, auth Auth) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if auth.set() {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return ErrUnsafeListen
	}
	return nil
}

// New opens the warehouse, applies the engine's and River's migrations
// (idempotent, one process at a time), and prepares the River client, the
// schedules and the HTTP handlers. Run starts them.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := CheckListen(cfg.Listen, cfg.Auth); err != nil {
		return nil, err
	}
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.Snooze <= 0 {
		cfg.Snooze = 2 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.RescueAfter <= 0 {
		longest := time.Duration(0)
		for _, p := range cfg.Pipelines {
			longest = max(longest, p.Serve.Timeout)
		}
		cfg.RescueAfter = longest + time.Minute
	}
	s := &Server{cfg: cfg, log: cfg.Logger, byName: map[string]*engine.Pipeline{}, stopping: make(chan struct{}), csrfKey: randomKey()}
	for _, p := range cfg.Pipelines {
		if p.Serve.Timeout >= cfg.RescueAfter {
			return nil, fmt.Errorf("pipeline %s: timeout %s is not below --rescue-after %s: a run could be rescued while it still runs", p.Name, p.Serve.Timeout, cfg.RescueAfter)
		}
		s.byName[p.Name] = p
		s.names = append(s.names, p.Name)
	}
	sort.Strings(s.names)
	hooks, err := webhookRoutes(cfg.Pipelines)
	if err != nil {
		return nil, err
	}
	s.hooks = hooks
	if !loopback(cfg.Listen) {
		for _, rt := range hooks {
			for _, r := range rt.receivers() {
				if !r.Verifies() {
					return nil, fmt.Errorf("refusing to receive webhooks at %s beyond loopback without a verify expression on every pipeline that receives them", rt.path)
				}
			}
		}
	}
	s.metrics = newMetrics(s)

	wh, err := cfg.Registry.OpenWarehouse(ctx, "warehouse", cfg.WarehouseURL)
	if err != nil {
		return nil, err
	}
	if err := wh.Migrate(ctx); err != nil {
		wh.Close()
		return nil, fmt.Errorf("migrate warehouse: %w", err)
	}
	s.wh = wh
	q, err := openQueue(ctx, cfg.WarehouseURL, QueueOptions{
		Workers: cfg.Workers, RescueAfter: cfg.RescueAfter, Work: &runWorker{s: s},
		Logger: riverLogger(cfg.Logger),
	}, true)
	if err != nil {
		wh.Close()
		return nil, err
	}
	s.q = q
	s.tk = newTicker(q, s.log)
	for _, name := range s.names {
		p := s.byName[name]
		if p.Serve.Enabled && p.Serve.Schedule != nil {
			q.client().PeriodicJobs().Add(s.tk.periodicJob(p))
		}
	}
	return s, nil
}

// riverLogger passes River's warnings and errors on; its info lines (a
// periodic constructor that inserts nothing itself, each tick) are noise here.
func riverLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}
func (f levelFilter) WithGroup(g string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(g), f.min}
}

// Run works jobs and serves HTTP until ctx ends, then shuts down: it stops
// taking jobs, lets running pipelines land their current batch and stop
// (their cursor saved; the job is retried at once by another process, or
// by this one's next start), waits up to Grace for them, cancels what is
// left, and returns.
func (s *Server) Run(ctx context.Context) error {
	defer s.wh.Close()
	defer s.q.close()
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve(ln) }()
	if s.cfg.OnListen != nil {
		s.cfg.OnListen(ln.Addr().String())
	}
	s.log.Info("serving", "listen", ln.Addr().String(), "pipelines", len(s.names), "workers", s.cfg.Workers,
		"warehouse", s.wh.Describe(), "client_id", s.q.client().ID())

	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	go s.tk.run(runCtx)
	if err := s.q.client().Start(runCtx); err != nil {
		srv.Close()
		return fmt.Errorf("start River: %w", err)
	}
	// Deliveries stored before a crash, whose run never came: land them.
	for _, rt := range s.hooks {
		if rt.store != nil {
			if _, _, err := s.q.enqueueAfter(ctx, rt.store.Name, "webhook", time.Now(), rt.store.Serve.MaxAttempts); err != nil {
				s.log.Warn("enqueue a run for stored webhook deliveries", "pipeline", rt.store.Name, "error", err)
			}
		}
	}

	select {
	case <-ctx.Done():
	case err = <-httpErr:
		err = fmt.Errorf("http: %w", err)
	}
	s.log.Info("shutting down: no new jobs; running pipelines land their current batch", "grace", s.cfg.Grace.String())
	s.stopOnce.Do(func() { close(s.stopping) })
	stopCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Grace)
	defer cancel()
	if serr := s.q.client().Stop(stopCtx); serr != nil {
		s.log.Warn("pipelines still running after the grace period; cancelling them", "error", serr)
		hard, cancelHard := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.q.client().StopAndCancel(hard)
		cancelHard()
	}
	cancelRun()
	shut, cancelShut := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShut()
	_ = srv.Shutdown(shut)
	s.log.Info("stopped")
	return err
}

// Trigger enqueues an immediate run of the named pipeline.
func (s *Server) Trigger(ctx context.Context, name string) (jobID int64, duplicate bool, err error) {
	p, ok := s.byName[name]
	if !ok {
		return 0, false, fmt.Errorf("no pipeline named %q", name)
	}
	if !p.Serve.Enabled {
		return 0, false, fmt.Errorf("pipeline %s is disabled (enabled = false)", name)
	}
	return s.q.trigger(ctx, name, p.Serve.MaxAttempts)
}

// TriggerJob enqueues an immediate run of pipeline p in the warehouse at
// url, with no server in this process (etl trigger): any etl serve on that
// warehouse works it.
func TriggerJob(ctx context.Context, url string, p *engine.Pipeline) (jobID int64, duplicate bool, err error) {
	if !p.Serve.Enabled {
		return 0, false, fmt.Errorf("pipeline %s is disabled (enabled = false)", p.Name)
	}
	q, err := openQueue(ctx, url, QueueOptions{}, true)
	if err != nil {
		return 0, false, err
	}
	defer q.close()
	return q.trigger(ctx, p.Name, p.Serve.MaxAttempts)
}
