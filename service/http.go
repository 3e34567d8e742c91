package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/etl-dev/etl/engine"
)

//go:embed status.html
var templates embed.FS

var statusTemplate = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"since": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return time.Since(t).Round(time.Second).String() + " ago"
	},
	"until": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return "in " + time.Until(t).Round(time.Second).String()
	},
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"duration": func(r engine.Run) string {
		if r.Finished.IsZero() {
			return "running " + time.Since(r.Started).Round(time.Second).String()
		}
		return r.Finished.Sub(r.Started).Round(time.Millisecond).String()
	},
}).ParseFS(templates, "status.html"))

// Handler is the server's HTTP interface: /metrics, /healthz, /readyz, the
// status page at / and POST /pipelines/NAME/trigger, behind auth when set.
// /healthz and /readyz answer without auth (they tell nothing but up or
// down), so probes need no credentials.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	guarded := s.authenticate(http.NewCrossOriginProtection().Handler(mux))
	outer := http.NewServeMux()
	outer.HandleFunc("GET /healthz", s.healthz)
	outer.HandleFunc("GET /readyz", s.readyz)
	s.mountWebhooks(outer)
	outer.Handle("/", guarded)
	return outer
}

// Routes adds the guarded routes to mux; a new endpoint goes here.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", s.statusPage)
	mux.HandleFunc("POST /pipelines/{name}/trigger", s.triggerHandler)
}

func (s *Server) authenticate(next http.Handler) http.Handler {
	a := s.cfg.Auth
	if !a.set() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if a.Token != "" {
			if tok, ok := strings.CutPrefix(h, "Bearer "); ok && equal(tok, a.Token) {
				next.ServeHTTP(w, r)
				return
			}
		}
		if a.User != "" {
			if u, p, ok := r.BasicAuth(); ok && equal(u, a.User) && equal(p, a.Password) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="etl serve", charset="UTF-8"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="etl serve"`)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when the warehouse answers and the engine's and
// River's tables are there.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	for _, q := range []string{`SELECT count(*) FROM etl_ticks WHERE 1 = 0`, `SELECT count(*) FROM river_job WHERE 1 = 0`} {
		var n int
		if err := s.q.db().QueryRowContext(ctx, q).Scan(&n); err != nil {
			http.Error(w, "not ready: the warehouse does not answer or is not migrated", http.StatusServiceUnavailable)
			s.log.Warn("readyz", "error", err)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}

func (s *Server) csrfToken(pipeline string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("trigger:" + pipeline))
	return hex.EncodeToString(m.Sum(nil))
}

func randomKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// triggerHandler enqueues a run. A browser form must carry the page's CSRF
// token (and CrossOriginProtection refuses cross-site posts); a client
// that posts no form (curl -X POST, with the bearer token) needs none.
func (s *Server) triggerHandler(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ct := r.Header.Get("Content-Type")
	isForm := ct != "" && !strings.HasPrefix(ct, "application/json")
	if isForm {
		if err := r.ParseForm(); err != nil || !equal(r.PostForm.Get("csrf"), s.csrfToken(name)) {
			http.Error(w, "forbidden: missing or wrong CSRF token; reload the status page", http.StatusForbidden)
			return
		}
	}
	id, dup, err := s.Trigger(r.Context(), name)
	if err != nil {
		code := http.StatusInternalServerError
		if _, ok := s.byName[name]; !ok {
			code = http.StatusNotFound
		} else if !s.byName[name].Serve.Enabled {
			code = http.StatusConflict
		}
		http.Error(w, err.Error(), code)
		return
	}
	if isForm {
		http.Redirect(w, r, "/?triggered="+name, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"pipeline": name, "job_id": id, "already_queued": dup})
}

type pipelineView struct {
	P       *engine.Pipeline
	Next    time.Time
	Runs    []engine.Run
	Rejects []rejectView
	CSRF    string
}

type rejectView struct {
	RunID  int64
	Check  string
	Reason string
	Where  string
}

type statusView struct {
	Now       time.Time
	Warehouse string
	Pipelines []pipelineView
	Triggered string
	Error     string
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	v := statusView{Now: time.Now(), Warehouse: s.wh.Describe(), Triggered: r.URL.Query().Get("triggered")}
	for _, name := range s.names {
		p := s.byName[name]
		pv := pipelineView{P: p, CSRF: s.csrfToken(name)}
		if p.Serve.Enabled && p.Serve.Schedule != nil {
			pv.Next = p.Serve.Schedule.Next(v.Now)
		}
		runs, err := s.wh.Runs(ctx, engine.HistoryFilter{Pipeline: name, Limit: 5})
		if err != nil {
			v.Error = "history: " + err.Error()
		}
		pv.Runs = runs
		pv.Rejects, err = s.recentRejects(ctx, p, 5)
		if err != nil {
			v.Error = "rejects: " + err.Error()
		}
		v.Pipelines = append(v.Pipelines, pv)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusTemplate.Execute(w, v); err != nil {
		s.log.Warn("status page", "error", err)
	}
}

// quoted finds the quoted values a reason may hold (`phone: "12345" has 5 digits`).
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// recentRejects reads the pipeline's latest rejects. With mask set, the
// quoted values in each reason are masked too: a reason may repeat the
// value of a masked field, and the page cannot tell which field it was.
func (s *Server) recentRejects(ctx context.Context, p *engine.Pipeline, n int) ([]rejectView, error) {
	rows, err := s.q.db().QueryContext(ctx, `SELECT run_id, check_name, reason, file, line, page, source_key
		FROM etl_rejects WHERE pipeline = $1 ORDER BY id DESC LIMIT $2`, p.Name, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rejectView
	for rows.Next() {
		var rv rejectView
		var file, page, key string
		var line int
		if err := rows.Scan(&rv.RunID, &rv.Check, &rv.Reason, &file, &line, &page, &key); err != nil {
			return nil, err
		}
		if len(p.Mask) > 0 {
			rv.Reason = quoted.ReplaceAllString(rv.Reason, `"[masked]"`)
		}
		rv.Reason = p.Redact(rv.Reason)
		var where []string
		if file != "" {
			where = append(where, fmt.Sprintf("%s:%d", file, line))
		}
		if page != "" {
			where = append(where, "page "+page)
		}
		if key != "" && len(p.Mask) == 0 {
			where = append(where, "key "+key)
		}
		rv.Where = strings.Join(where, ", ")
		out = append(out, rv)
	}
	return out, rows.Err()
}
