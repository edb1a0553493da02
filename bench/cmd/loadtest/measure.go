package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hcidp/bench"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/mockiam"

	_ "modernc.org/sqlite" // the server's database, to copy a session into
)

// levelResult is one concurrency level against one server.
type levelResult struct {
	Concurrency int
	OK, Errors  int
	Seconds     float64
	Rate        float64
	P50, P99    time.Duration
	// ServerCPU is the server's user+system CPU time during the level.
	ServerCPU float64
	RSSKB     int64
	// Verified and Sampled count xmlsec1 checks (ours only).
	Verified, Sampled int
	FirstError        string
}

type report struct {
	Machine, Kernel, GoVersion string
	CPUs                       int
	Pinned                     bool
	IdPBin, BoringIdPBin       string
	SPBits, IdPBits            int
	Ready                      []time.Duration
	Raw, Raw2048, RawBoring    *rawResult
	BoringError                string
	Ours, OursBoring, Crewjam  []levelResult
	RSSIdle, RSSLoaded         int64
	Sessions                   int
	SessionsSeconds            float64
	RSSSessions                int64
	Notes                      []string
	// Database is the server's database kind (sqlite, postgres).
	Database string
	// Flags are the command-line flags of the run, for the report's first line.
	Flags string
}

const (
	xAccountType = "HCIDPBENCH"
	bpID         = "bench-bp-0001"
	customerID   = "bench-customer"
	password     = "bench password 0123456789"
	warmup       = 30
)

func measure(ctx context.Context, dir string, o options) (*report, error) {
	rep := &report{SPBits: o.spBits, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	rep.Machine, rep.Kernel = machine()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}

	// 1. Binaries, built before this process pins itself to one core.
	if o.idpBin == "" || o.boring {
		root, err := repoRoot()
		if err != nil {
			return nil, err
		}
		if o.idpBin == "" {
			o.idpBin = filepath.Join(dir, "idp")
			o.log.Info("building idp", "out", o.idpBin)
			if err := goBuild(ctx, root, o.idpBin, "./cmd/idp"); err != nil {
				return nil, err
			}
		}
		if o.boring {
			o.log.Info("building the boringcrypto raw-RSA helper")
			if err := goBuild(ctx, filepath.Join(root, "bench"), filepath.Join(dir, "loadtest-boring"), "./cmd/loadtest",
				"GOEXPERIMENT=boringcrypto", "CGO_ENABLED=1"); err != nil {
				rep.BoringError = err.Error()
				o.boring = false
			}
		}
	}
	rep.IdPBin, rep.BoringIdPBin = o.idpBin, o.boringIdPBin

	// 2. Keys, the mock IAM (in-process, not serving) and its SP metadata.
	gen := []string{"keys", "generate", "--out", dir, "--cn", "hcidp bench"}
	if o.idpBits != 0 {
		gen = append(gen, "--bits", strconv.Itoa(o.idpBits))
	}
	if out, err := exec.CommandContext(ctx, o.idpBin, gen...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("idp keys generate: %v\n%s", err, out)
	}
	keyFile, certFile := filepath.Join(dir, "idp.key"), filepath.Join(dir, "idp.crt")
	idpKey, idpCert, err := keys.LoadKeyPair(keyFile, certFile)
	if err != nil {
		return nil, err
	}
	rep.IdPBits = idpKey.N.BitLen()
	iamKey, iamCert, err := keys.Generate(o.spBits, "auth.huaweicloud.com (mock)", 24*time.Hour, time.Now())
	if err != nil {
		return nil, err
	}
	idpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	crewAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	base := "http://" + idpAddr
	const iamBase = "http://127.0.0.1:9" // never served: requests are pre-signed in-process
	iam, err := mockiam.New(mockiam.Config{Site: "cn", BaseURL: iamBase, XAccountType: xAccountType, BpID: bpID,
		Key: iamKey, Cert: iamCert, IdPEntityID: base + "/saml/metadata", IdPSSOURL: base + "/saml/sso",
		IdPCerts: []*x509.Certificate{idpCert}, BindCallbackURL: base + "/saml/bind",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	spFile, spUnsigned := filepath.Join(dir, "sp-metadata.xml"), filepath.Join(dir, "sp-metadata-unsigned.xml")
	if err := os.WriteFile(spFile, iam.Metadata(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(spUnsigned, iam.UnsignedMetadata(), 0o644); err != nil {
		return nil, err
	}
	database := o.database
	if database == "" {
		database = "sqlite:hcidp.db"
	}
	rep.Database = strings.SplitN(database, ":", 2)[0]
	cfgFile := filepath.Join(dir, "idp.yaml")
	cfg := fmt.Sprintf(`listen: %q
base_url: %q
key_file: idp.key
cert_file: idp.crt
bp_id: %q
x_account_type: %q
database: %q
service_providers:
  - site: cn
    metadata_file: sp-metadata.xml
    require_signed_metadata: true
    signing_key_pins: [%q]
    auth_url: %q
    console_url: %q
`, idpAddr, base, bpID, xAccountType, database, metadata.KeyPin(iamCert), iamBase, iamBase+"/console")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	add := exec.CommandContext(ctx, o.idpBin, "users", "add", "--config", cfgFile, "--xaccount-id", customerID,
		"--password-stdin", "--email", "bench.customer@example.com", "--name", "bench_customer",
		"--mobile", "+86-13800000000", "--display-name", "Bench Customer")
	add.Stdin = strings.NewReader(password + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("idp users add: %v\n%s", err, out)
	}

	// 3. Pre-signed requests, on every core while nothing is measured.
	perRun := len(o.levels) * (o.requests + warmup)
	o.log.Info("pre-signing AuthnRequests", "count", perRun)
	ours, err := bench.PresignRequests(iam, perRun, mockiam.RequestOptions{})
	if err != nil {
		return nil, err
	}
	var oursBoring, crew []string
	if o.boringIdPBin != "" {
		if oursBoring, err = bench.PresignRequests(iam, perRun, mockiam.RequestOptions{}); err != nil {
			return nil, err
		}
	}
	if o.crewjam {
		if crew, err = bench.PresignRequests(iam, perRun, mockiam.RequestOptions{Destination: "http://" + crewAddr + "/saml/sso"}); err != nil {
			return nil, err
		}
	}

	// 4. The load generator runs on core 1 from here on.
	if tasksetPath == "" {
		rep.Notes = append(rep.Notes, "taskset is missing: the server and the load generator ran unpinned")
	} else if err := pinSelf(1); err != nil {
		rep.Notes = append(rep.Notes, "could not pin the load generator to core 1: "+err.Error())
	} else {
		rep.Pinned = true
	}

	// 5. Cold starts, timed to the first 200 from /healthz; the last one stays up.
	var srv *server
	for i := 0; i < max(1, o.readyRuns); i++ {
		if srv != nil {
			srv.stop()
		}
		cmd := pinned(0, o.idpBin, "serve", "--config", cfgFile)
		if o.cpuProfile != "" && i == max(1, o.readyRuns)-1 {
			p, err := filepath.Abs(o.cpuProfile)
			if err != nil {
				return nil, err
			}
			cmd = pinned(0, self, "serve-profiled", "--config", cfgFile, "--cpuprofile", p)
			rep.Notes = append(rep.Notes, "the load levels ran against `loadtest serve-profiled` (app.New + Serve, as `idp serve`) writing a CPU profile")
		}
		srv, err = startServer(cmd, base, filepath.Join(dir, fmt.Sprintf("serve-%d.log", i)))
		if err != nil {
			return nil, err
		}
		rep.Ready = append(rep.Ready, srv.ready)
	}
	var sessionCookie *http.Cookie
	loadIdP := func(srv *server, urls []string) ([]levelResult, error) {
		cookie, err := bench.SignIn(&http.Client{Timeout: 10 * time.Second}, base, customerID, password)
		if err != nil {
			return nil, err
		}
		if sessionCookie == nil {
			sessionCookie = cookie
		}
		var res []levelResult
		for i, c := range o.levels {
			chunk := urls[i*(o.requests+warmup) : (i+1)*(o.requests+warmup)]
			lr, samples := runLevel(chunk, c, cookie, o.duration, srv.pid, o.samples)
			for _, body := range samples {
				lr.Sampled++
				if err := xmlsecVerify(dir, body, idpCert); err != nil {
					if lr.FirstError == "" {
						lr.FirstError = "xmlsec1: " + err.Error()
					}
					continue
				}
				lr.Verified++
			}
			res = append(res, lr)
			o.log.Info("level done", "concurrency", c, "rate", lr.Rate, "p50", lr.P50, "p99", lr.P99, "errors", lr.Errors)
		}
		return res, nil
	}
	rep.RSSIdle = rssKB(srv.pid)
	if rep.Ours, err = loadIdP(srv, ours); err != nil {
		srv.stop()
		return nil, err
	}
	rep.RSSLoaded = rssKB(srv.pid)

	// 6. Live sessions, each read once by the server.
	if o.sessions > 0 && rep.Database == "sqlite" {
		n, secs, err := createSessions(base, filepath.Join(dir, "hcidp.db"), sessionCookie, o.sessions)
		rep.Sessions, rep.SessionsSeconds = n, secs
		if err != nil {
			rep.Notes = append(rep.Notes, "creating sessions: "+err.Error())
		}
		runtime.GC()
		time.Sleep(500 * time.Millisecond)
		rep.RSSSessions = rssKB(srv.pid)
	}
	srv.stop()

	// 7. The same idp built with boringcrypto, when given.
	if o.boringIdPBin != "" {
		bsrv, err := startServer(pinned(0, o.boringIdPBin, "serve", "--config", cfgFile), base, filepath.Join(dir, "serve-boring.log"))
		if err != nil {
			return nil, err
		}
		rep.OursBoring, err = loadIdP(bsrv, oursBoring)
		bsrv.stop()
		if err != nil {
			return nil, err
		}
	}

	// 8. crewjam/saml's IdP on core 0, same kind of requests, stubbed session.
	if o.crewjam {
		csrv, err := startServer(pinned(0, self, "crewjam-server", "--listen", crewAddr, "--key", keyFile, "--cert", certFile,
			"--sp-metadata", spUnsigned), "http://"+crewAddr, filepath.Join(dir, "crewjam.log"))
		if err != nil {
			return nil, err
		}
		for i, c := range o.levels {
			chunk := crew[i*(o.requests+warmup) : (i+1)*(o.requests+warmup)]
			lr, _ := runLevel(chunk, c, nil, o.duration, csrv.pid, 0)
			rep.Crewjam = append(rep.Crewjam, lr)
			o.log.Info("crewjam level done", "concurrency", c, "rate", lr.Rate)
		}
		csrv.stop()
	}

	// 9. The physical limit: raw signatures with the same key on core 0,
	// and with an RSA-2048 key when the IdP's is another size (the targets
	// are stated at 2048 bits).
	raw, err := rawRSA(self, keyFile, certFile, 0, o.rawDuration)
	if err != nil {
		return nil, err
	}
	rep.Raw, rep.Raw2048 = &raw, &raw
	if rep.IdPBits != 2048 {
		r2, err := rawRSA(self, "", "", 2048, o.rawDuration)
		if err != nil {
			return nil, err
		}
		rep.Raw2048 = &r2
	}
	if o.boring {
		rb, err := rawRSA(filepath.Join(dir, "loadtest-boring"), keyFile, certFile, 0, o.rawDuration)
		if err != nil {
			rep.BoringError = err.Error()
		} else {
			rep.RawBoring = &rb
			if !rb.Boring {
				rep.Notes = append(rep.Notes, "the boringcrypto helper reports BoringCrypto disabled")
			}
		}
	}
	return rep, nil
}

// server is a child process serving HTTP on loopback.
type server struct {
	cmd   *exec.Cmd
	pid   int
	ready time.Duration
	log   *os.File
	done  chan struct{}
}

func startServer(cmd *exec.Cmd, base, logFile string) (*server, error) {
	f, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	c := &http.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	exited := make(chan struct{})
	s := &server{cmd: cmd, pid: cmd.Process.Pid, log: f, done: exited}
	go func() { cmd.Wait(); close(exited) }()
	for time.Since(start) < 15*time.Second {
		select {
		case <-exited:
			f.Close()
			out, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("%s exited before it was ready:\n%s", strings.Join(cmd.Args, " "), out)
		default:
		}
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				s.ready = time.Since(start)
				return s, nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	f.Close()
	return nil, fmt.Errorf("%s not ready after 15 s (see %s)", strings.Join(cmd.Args, " "), logFile)
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// runLevel fires urls (the first `warmup` unmeasured) at concurrency c until
// they run out or d has passed. It keeps about `samples` auto-POST bodies.
func runLevel(urls []string, c int, cookie *http.Cookie, d time.Duration, pid, samples int) (levelResult, [][]byte) {
	tr := &http.Transport{MaxIdleConnsPerHost: c, DisableCompression: true, ForceAttemptHTTP2: false}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var (
		next     atomic.Int64
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, len(urls))
		errs     int
		firstErr string
		kept     [][]byte
	)
	fire := func(u string) (time.Duration, []byte, error) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Accept-Language", "en")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		el := time.Since(t0)
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`name="SAMLResponse"`)) {
			return 0, nil, fmt.Errorf("status %d, not an auto-POST page: %.200s", resp.StatusCode, body)
		}
		return el, body, nil
	}
	worker := func(limit int64, deadline time.Time, record bool, every int64) {
		for {
			i := next.Add(1) - 1
			if i >= limit || time.Now().After(deadline) {
				return
			}
			el, body, err := fire(urls[i])
			if !record {
				continue
			}
			mu.Lock()
			if err != nil {
				errs++
				if firstErr == "" {
					firstErr = err.Error()
				}
			} else {
				lat = append(lat, el)
				if every > 0 && i%every == 0 && len(kept) < samples {
					kept = append(kept, body)
				}
			}
			mu.Unlock()
		}
	}
	run := func(limit int64, deadline time.Time, record bool, every int64) {
		var wg sync.WaitGroup
		for w := 0; w < c; w++ {
			wg.Add(1)
			go func() { defer wg.Done(); worker(limit, deadline, record, every) }()
		}
		wg.Wait()
	}
	run(warmup, time.Now().Add(d), false, 0)
	next.Store(warmup)
	every := int64(0)
	if samples > 0 {
		every = int64(max(1, (len(urls)-warmup)/(samples*4)))
	}
	cpu0 := cpuSeconds(pid)
	start := time.Now()
	run(int64(len(urls)), start.Add(d), true, every)
	el := time.Since(start).Seconds()
	cpu := cpuSeconds(pid) - cpu0
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	lr := levelResult{Concurrency: c, OK: len(lat), Errors: errs, Seconds: el, Rate: float64(len(lat)) / el,
		ServerCPU: cpu, RSSKB: rssKB(pid), FirstError: firstErr}
	if len(lat) > 0 {
		lr.P50 = lat[len(lat)*50/100]
		lr.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return lr, kept
}

// createSessions makes n more signed-in sessions and has the server read
// each once, so that every one is in its read cache: a real sign-in costs
// an argon2id hash, so the session of the one sign-in (cookie) is copied in
// the database under n new tokens, as n sign-ins would have stored it.
func createSessions(base, dbFile string, cookie *http.Cookie, n int) (int, float64, error) {
	db, err := sql.Open("sqlite", "file:"+dbFile+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	var data []byte
	var expiry any
	if err := db.QueryRow(`SELECT data, expiry FROM sessions WHERE token = ?`, cookie.Value).Scan(&data, &expiry); err != nil {
		return 0, 0, fmt.Errorf("the signed-in session: %w", err)
	}
	tokens := make([]string, n)
	tx, err := db.Begin()
	if err != nil {
		return 0, 0, err
	}
	for i := range tokens {
		b := make([]byte, 32)
		rand.Read(b)
		tokens[i] = base64.RawURLEncoding.EncodeToString(b)
		if _, err := tx.Exec(`INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)`, tokens[i], data, expiry); err != nil {
			tx.Rollback()
			return 0, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}

	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, ok atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
				req.AddCookie(&http.Cookie{Name: cookie.Name, Value: tokens[i]})
				resp, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && bytes.Contains(body, []byte(`id="sign-out"`)) {
					ok.Add(1)
				} else {
					firstErr.CompareAndSwap(nil, fmt.Sprintf("GET / with a copied session: %d, signed in: %v", resp.StatusCode,
						bytes.Contains(body, []byte(`id="sign-out"`))))
				}
			}
		})
	}
	wg.Wait()
	if e, _ := firstErr.Load().(string); e != "" {
		err = errors.New(e)
	}
	return int(ok.Load()), time.Since(start).Seconds(), err
}

// xmlsecVerify checks the Assertion signature of an auto-POST page's
// Response with xmlsec1 against the IdP certificate.
func xmlsecVerify(dir string, page []byte, cert *x509.Certificate) error {
	doc, err := bench.ResponseFromPage(page)
	if err != nil {
		return err
	}
	certFile := filepath.Join(dir, "xmlsec-cert.pem")
	if _, err := os.Stat(certFile); err != nil {
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
			return err
		}
	}
	f := filepath.Join(dir, "xmlsec-doc.xml")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		return err
	}
	out, err := exec.Command("xmlsec1", "--verify",
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
		"--pubkey-cert-pem", certFile, f).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// pinSelf restricts every thread of this process (and so the threads it
// starts later) to one CPU and sizes GOMAXPROCS to match.
func pinSelf(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
	}
	runtime.GOMAXPROCS(1)
	return nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// rssKB reads VmRSS of pid in kB (0 if unknown).
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuSeconds is utime+stime of pid from /proc/PID/stat (USER_HZ = 100).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

func machine() (cpu, kernel string) {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return cpu, kernel
}
