package faults

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// proxy is a TCP proxy on loopback between etl and a database server: the
// test cuts it to make the server go away for etl alone, without touching
// the server other tests share.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	pairs map[*pair]struct{}
}

// pair is one proxied connection: etl's side and the server's side.
type pair struct{ client, server net.Conn }

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, pairs: map[*pair]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

// Addr is the host:port etl connects to.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close() // the server is gone: every connection attempt fails
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{client: c, server: s}
		p.mu.Lock()
		p.pairs[pr] = struct{}{}
		p.mu.Unlock()
		go p.pipe(pr, s, c)
		go p.pipe(pr, c, s)
	}
}

func (p *proxy) pipe(pr *pair, dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	pr.client.Close()
	pr.server.Close()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// Cut closes every connection and refuses new ones until Restore.
func (p *proxy) Cut() {
	p.mu.Lock()
	p.down = true
	pairs := p.pairs
	p.pairs = map[*pair]struct{}{}
	p.mu.Unlock()
	for pr := range pairs {
		pr.client.Close()
		pr.server.Close()
	}
}

// Restore accepts connections again.
func (p *proxy) Restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// CutWhere closes the connections whose server-side local port match
// reports true (PostgreSQL's pg_stat_activity.client_port, MariaDB's
// processlist host), and returns how many it closed.
func (p *proxy) CutWhere(match func(port int) bool) int {
	p.mu.Lock()
	var cut []*pair
	for pr := range p.pairs {
		if match(pr.server.LocalAddr().(*net.TCPAddr).Port) {
			cut = append(cut, pr)
			delete(p.pairs, pr)
		}
	}
	p.mu.Unlock()
	for _, pr := range cut {
		pr.client.Close()
		pr.server.Close()
	}
	return len(cut)
}

// Conns is how many connections are open through the proxy.
func (p *proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// serverPorts lists the local ports of the proxy's connections to the
// server, as the server sees its clients' ports.
func (p *proxy) serverPorts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for pr := range p.pairs {
		out = append(out, fmt.Sprint(pr.server.LocalAddr().(*net.TCPAddr).Port))
	}
	return out
}
