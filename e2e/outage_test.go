package e2e

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hcidp/mockiam"
)

// dbProxy is a TCP proxy in front of PostgreSQL that the test can cut: cut
// closes every open connection and refuses new ones, as a database restart
// does; restore lets connections through again.
type dbProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *dbProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		if !down {
			p.conns[c] = true
		}
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *dbProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[up] = true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

func (p *dbProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *dbProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// A database outage under load is answered 503 with Retry-After, never 500,
// and the replica recovers without a restart once the database is back
// (docs/threat-model.md "Operations"): signed-in SSOs (session load,
// customer, replay cache and audit), console links (binding) and password
// logins (throttle, customer) run in parallel while the connection to
// PostgreSQL is cut for a second and a half.
func TestDatabaseOutageAnswers503AndRecovers(t *testing.T) {
	dsn := postgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newDBProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	addr := freePort(t)
	inst := newInstallation(t, u.String(), addr, "")
	p := serve(t, inst.cfg, addr)
	base := "http://" + addr

	signedIn := newBrowser(t)
	login(t, signedIn, addr)
	// A client that does not follow redirects: every answer is counted.
	client := &http.Client{Jar: signedIn.client.Jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	type phase int
	const (
		before phase = iota
		outage
		after
	)
	var (
		current  atomic.Int32
		mu       sync.Mutex
		statuses = map[phase]map[int]int{before: {}, outage: {}, after: {}}
		noRetry  atomic.Int32
		firstOK  atomic.Int64 // when a request first succeeded after the restore
		restored atomic.Int64
	)
	record := func(resp *http.Response) {
		ph := phase(current.Load())
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			noRetry.Add(1)
		}
		if ph == after && resp.StatusCode < 500 && firstOK.Load() == 0 {
			firstOK.Store(time.Now().UnixNano())
		}
		mu.Lock()
		statuses[ph][resp.StatusCode]++
		mu.Unlock()
	}
	requests := []func() (*http.Response, error){
		func() (*http.Response, error) { // a signed-in SSO
			target, _, err := inst.iam.NewAuthnRequestURL(mockiam.RequestOptions{})
			if err != nil {
				return nil, err
			}
			return client.Get(strings.Replace(target, inst.baseURL, base, 1))
		},
		func() (*http.Response, error) { return client.Get(base + "/console?site=cn") },
		func() (*http.Response, error) { // a password login (no CSRF cookie: 403, or the throttle's 503)
			return client.PostForm(base+"/login", url.Values{"username": {"cust-1"}, "password": {"x"}})
		},
		func() (*http.Response, error) { return client.Get(base + "/readyz") },
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := requests[i%len(requests)]()
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				record(resp)
			}
		})
	}
	time.Sleep(time.Second)
	current.Store(int32(outage))
	proxy.cut()
	time.Sleep(1500 * time.Millisecond)
	proxy.restore()
	restored.Store(time.Now().UnixNano())
	current.Store(int32(after))
	time.Sleep(4 * time.Second)
	close(stop)
	wg.Wait()

	t.Logf("statuses before %v, during the outage %v, after %v", statuses[before], statuses[outage], statuses[after])
	for ph, m := range statuses {
		for st, n := range m {
			if st >= 500 && st != http.StatusServiceUnavailable {
				t.Errorf("phase %d: %d answers of %d", ph, n, st)
			}
		}
	}
	if statuses[outage][http.StatusServiceUnavailable] == 0 {
		t.Error("no 503 while the database was unreachable")
	}
	if statuses[before][http.StatusServiceUnavailable] != 0 {
		t.Errorf("503 before the outage: %v", statuses[before])
	}
	if n := noRetry.Load(); n != 0 {
		t.Errorf("%d answers of 503 without Retry-After", n)
	}
	if firstOK.Load() == 0 {
		t.Fatal("the replica did not recover after the database came back")
	}
	// The last second: everything served again, no restart needed.
	target, _, err := inst.iam.NewAuthnRequestURL(mockiam.RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pg := signedIn.get(strings.Replace(target, inst.baseURL, base, 1)); pg.Status != 200 || !strings.Contains(pg.Body, "SAMLResponse") {
		t.Fatalf("SSO after recovery: %d\n%s", pg.Status, pg.Body)
	}
	if logs := p.Logs(); !strings.Contains(logs, ".unavailable") {
		t.Errorf("no reason code in the log:\n%s", logs)
	}
	t.Logf("first success %v after the restore", time.Duration(firstOK.Load()-restored.Load()))
}
