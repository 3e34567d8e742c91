// Command webhookload is the load test of `etl serve`'s webhook intake
// (issue 13): it sends HubSpot-signed deliveries from concurrent senders to a
// real `etl serve` on PostgreSQL, half of them twice (as HubSpot retries),
// SIGKILLs the server once mid-stream and starts it again, and checks that
// every delivery that got a 2xx is in the warehouse exactly once. It prints
// deliveries per second and the p50/p99 time to the 2xx and to the
// warehouse row.
//
//	go run ./bench/webhookload                        # 10,000 deliveries, 16 senders
//	go run ./bench/webhookload -deliveries 2000 -senders 8
//
// It builds etl once, serves the shipped pipelines/hubspot_contact_events.hcl
// (its table made local) in a fresh schema of --pg, and drops the schema at
// the end. A sender whose request fails (the server is down) retries after
// 100 ms until it gets an answer, as a webhook sender does.
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Config is one load test.
type Config struct {
	Deliveries int     // distinct events, one a delivery
	Senders    int     // concurrent senders
	Duplicate  float64 // share of deliveries sent a second time
	KillAt     float64 // share of first sends after which the server is SIGKILLed (0: never)
	PG         string  // the PostgreSQL server
	Log        io.Writer
}

// Result is what a load test measured.
type Result struct {
	Sent, Acked       int // requests sent (with retries after a refused connection), and 2xx answers
	Distinct          int // distinct events acknowledged
	Rows              int // rows in the warehouse at the end
	Missing, Extra    int // acknowledged events without a row; rows of events never acknowledged
	Duplicated        int // events with more than one row
	Elapsed           time.Duration
	AckP50, AckP99    time.Duration
	RowP50, RowP99    time.Duration
	Killed, Restarted time.Time
}

const secret = "load-test-client-secret-0001"

func main() {
	cfg := Config{Log: os.Stdout}
	flag.IntVar(&cfg.Deliveries, "deliveries", 10000, "distinct deliveries (one event each)")
	flag.IntVar(&cfg.Senders, "senders", 16, "concurrent senders")
	flag.Float64Var(&cfg.Duplicate, "duplicate", 0.5, "share of deliveries sent twice")
	flag.Float64Var(&cfg.KillAt, "kill-at", 0.5, "SIGKILL the server after this share of first sends (0: never)")
	flag.StringVar(&cfg.PG, "pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL server")
	flag.Parse()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhookload:", err)
		os.Exit(1)
	}
	if res.Missing+res.Duplicated+res.Extra > 0 {
		os.Exit(1)
	}
}

// Run runs one load test and prints its figures.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "webhookload")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "etl")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "etl")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v: %s", err, out)
	}
	dir, err := pipelineDir(root, tmp)
	if err != nil {
		return nil, err
	}
	whURL, drop, err := freshSchema(ctx, cfg.PG)
	if err != nil {
		return nil, err
	}
	defer drop()
	// A free port may be taken by another process before etl serve binds
	// it: try another.
	srv := &server{bin: bin, dir: dir, wh: whURL, log: filepath.Join(tmp, "serve.log")}
	for try := 0; ; try++ {
		if srv.addr, err = freePort(); err != nil {
			return nil, err
		}
		if err = srv.start(); err == nil {
			break
		}
		if try == 4 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
	defer srv.stop()

	endpoint := "http://" + srv.addr + "/webhooks/hubspot"
	res := &Result{}
	sentAt := make([]time.Time, cfg.Deliveries+1)
	acked := make([]atomic.Bool, cfg.Deliveries+1)
	var ackTimes []time.Duration
	var mu sync.Mutex
	var sent, ackN, firsts, dups atomic.Int64
	killAt := int64(float64(cfg.Deliveries) * cfg.KillAt)
	var killOnce sync.Once
	client := &http.Client{Timeout: 10 * time.Second}

	send := func(id int) {
		body := fmt.Sprintf(`[{"eventId":%d,"subscriptionId":77,"portalId":62515,"appId":1,"occurredAt":%d,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":%d,"changeSource":"CRM","propertyName":"email","propertyValue":"c%d@example.com"}]`,
			id, 1712000000000+int64(id), 1000+id%500, id)
		giveUp := time.Now().Add(2 * time.Minute)
		for time.Now().Before(giveUp) {
			req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			sign(req, body)
			start := time.Now()
			sent.Add(1)
			resp, err := client.Do(req)
			if err != nil {
				time.Sleep(100 * time.Millisecond) // the server is down: retry, as a sender does
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if resp.StatusCode/100 == 2 {
				ackN.Add(1)
				if !acked[id].Swap(true) {
					mu.Lock()
					sentAt[id] = start
					ackTimes = append(ackTimes, time.Since(start))
					mu.Unlock()
				}
			}
			return
		}
	}

	// Row times: a poller notes when each event's row first appears.
	rowSeen := make([]time.Time, cfg.Deliveries+1)
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan error, 1)
	go func() {
		pollDone <- pollRows(pollCtx, whURL, func(ids []int64, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if id > 0 && int(id) < len(rowSeen) && rowSeen[id].IsZero() {
					rowSeen[id] = at
				}
			}
		})
	}()

	jobs := make(chan int)
	var wg sync.WaitGroup
	for range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				send(id)
				if float64((id*7919)%1000)/1000 < cfg.Duplicate {
					dups.Add(1)
					send(id) // the sender's retry of a delivered event
				}
				if n := firsts.Add(1); killAt > 0 && n == killAt {
					killOnce.Do(func() {
						res.Killed = time.Now()
						srv.kill()
						for try := 0; try < 20; try++ { // the port was just released
							err := srv.start()
							if err == nil {
								break
							}
							fmt.Fprintln(cfg.Log, "restart:", err)
							time.Sleep(250 * time.Millisecond)
						}
						res.Restarted = time.Now()
					})
				}
			}
		}()
	}
	begin := time.Now()
	for id := 1; id <= cfg.Deliveries; id++ {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(begin)

	// Wait for every acknowledged event to land (at most a minute).
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		missing := 0
		for id := 1; id <= cfg.Deliveries; id++ {
			if acked[id].Load() && rowSeen[id].IsZero() {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	stopPoll()
	if err := <-pollDone; err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}

	counts, err := rowCounts(ctx, whURL)
	if err != nil {
		return nil, err
	}
	var rowTimes []time.Duration
	mu.Lock()
	defer mu.Unlock()
	for id := 1; id <= cfg.Deliveries; id++ {
		n := counts[int64(id)]
		res.Rows += n
		switch {
		case acked[id].Load():
			res.Distinct++
			if n == 0 {
				res.Missing++
			} else {
				rowTimes = append(rowTimes, rowSeen[id].Sub(sentAt[id]))
			}
		case n > 0:
			res.Extra++ // landed although never acknowledged: allowed (the 2xx was lost), counted
		}
		if n > 1 {
			res.Duplicated++
		}
	}
	res.Sent, res.Acked = int(sent.Load()), int(ackN.Load())
	res.AckP50, res.AckP99 = pct(ackTimes, 50), pct(ackTimes, 99)
	res.RowP50, res.RowP99 = pct(rowTimes, 50), pct(rowTimes, 99)

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(cfg.Log, "webhookload: %d deliveries (%d sent twice) from %d senders, %d CPUs, load average %s\n",
		cfg.Deliveries, dups.Load(), cfg.Senders, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Fprintf(cfg.Log, "  requests %d, 2xx %d in %s: %.0f deliveries/s acknowledged\n",
		res.Sent, res.Acked, res.Elapsed.Round(time.Millisecond), float64(res.Acked)/res.Elapsed.Seconds())
	fmt.Fprintf(cfg.Log, "  time to the 2xx: p50 %s, p99 %s; to the warehouse row: p50 %s, p99 %s\n",
		res.AckP50.Round(time.Millisecond), res.AckP99.Round(time.Millisecond), res.RowP50.Round(time.Millisecond), res.RowP99.Round(time.Millisecond))
	if !res.Killed.IsZero() {
		fmt.Fprintf(cfg.Log, "  SIGKILLed after %d first sends; listening again %s later\n", killAt, res.Restarted.Sub(res.Killed).Round(time.Millisecond))
	}
	verdict := "exact"
	if res.Missing+res.Duplicated > 0 {
		verdict = "NOT EXACT"
	}
	fmt.Fprintf(cfg.Log, "  %s: %d distinct events acknowledged, %d rows; missing %d, duplicated %d, landed without a 2xx %d\n",
		verdict, res.Distinct, res.Rows, res.Missing, res.Duplicated, res.Extra)
	return res, nil
}

func sign(req *http.Request, body string) {
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(req.Method + req.URL.String() + body + ts))
	req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	req.Header.Set("X-HubSpot-Signature-v3", base64.StdEncoding.EncodeToString(m.Sum(nil)))
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// server is one `etl serve` process, started again after a kill on the
// same port.
type server struct {
	bin, dir, wh, addr, log string
	cmd                     *exec.Cmd
}

func (s *server) start() error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, "serve", s.dir, "--listen", s.addr, "--warehouse", s.wh, "--workers", "2")
	cmd.Env = append(os.Environ(), "HUBSPOT_CLIENT_SECRET="+secret, "HUBSPOT_TOKEN=unused")
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	off, _ := logf.Seek(0, io.SeekEnd)
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			b, _ := os.ReadFile(s.log)
			return fmt.Errorf("etl serve ended before listening: %s", b[min(off, int64(len(b))):])
		}
		return nil
	case <-time.After(60 * time.Second):
		return errors.New("etl serve did not listen within 60 s")
	}
}

func (s *server) kill() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

func (s *server) stop() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			s.kill()
		}
	}
}

// pollRows notes, every 100 ms, the events whose rows have appeared.
func pollRows(ctx context.Context, whURL string, note func(ids []int64, at time.Time)) error {
	conn, err := pgx.Connect(ctx, whURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		rows, err := conn.Query(ctx, `SELECT event_id FROM hubspot_contact_events`)
		if err == nil { // the table appears with the first run
			at := time.Now()
			var ids []int64
			for rows.Next() {
				var id int64
				if rows.Scan(&id) == nil {
					ids = append(ids, id)
				}
			}
			rows.Close()
			note(ids, at)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func rowCounts(ctx context.Context, whURL string) (map[int64]int, error) {
	conn, err := pgx.Connect(ctx, whURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT event_id, count(*) FROM hubspot_contact_events GROUP BY event_id`)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// pipelineDir copies the shipped HubSpot event pipeline and its connection,
// the table made local to the schema.
func pipelineDir(root, tmp string) (string, error) {
	dir := filepath.Join(tmp, "pipelines")
	if err := os.MkdirAll(filepath.Join(dir, "connections"), 0o755); err != nil {
		return "", err
	}
	conn, err := os.ReadFile(filepath.Join(root, "pipelines", "connections", "hubspot.hcl"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "connections", "hubspot.hcl"), conn, 0o644); err != nil {
		return "", err
	}
	src, err := os.ReadFile(filepath.Join(root, "pipelines", "hubspot_contact_events.hcl"))
	if err != nil {
		return "", err
	}
	text := strings.Replace(string(src), `table = "hubspot.contact_events"`, `table = "hubspot_contact_events"`, 1)
	return dir, os.WriteFile(filepath.Join(dir, "hubspot_contact_events.hcl"), []byte(text), 0o644)
}

// freshSchema creates a schema of its own on pg and returns a URL that
// selects it, and a function that drops it.
func freshSchema(ctx context.Context, pg string) (string, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "webhookload_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(pg)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		c, err := pgx.Connect(context.Background(), pg)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	return u.String(), drop, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the repository")
		}
		dir = parent
	}
}
