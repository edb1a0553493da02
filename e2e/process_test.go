package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/mockiam"
	"hcidp/storage"
)

var (
	buildOnce sync.Once
	idpBin    string
	buildErr  error
)

// binary builds cmd/idp once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hcidp-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		idpBin = filepath.Join(dir, "idp")
		out, err := exec.Command("go", "build", "-o", idpBin, "hcidp/cmd/idp").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return idpBin
}

// freePort reserves a loopback port.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// process is a running `idp serve`.
type process struct {
	cmd  *exec.Cmd
	addr string
	logs *strings.Builder
	mu   *sync.Mutex
}

// serve starts `idp serve --config cfg` listening on addr and waits for /healthz.
func serve(t *testing.T, cfg, addr string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), append(env, "HCIDP_LISTEN="+addr)...)
	stderr, _ := cmd.StderrPipe()
	p := &process{cmd: cmd, addr: addr, logs: &strings.Builder{}, mu: &sync.Mutex{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("logs of idp serve on %s:\n%s", addr, p.Logs())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("idp serve on %s did not become ready:\n%s", addr, p.Logs())
	return nil
}

func (p *process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// postgresDSN returns a DSN for a fresh schema, or skips when no PostgreSQL
// is configured (scripts/test.sh sets HCIDP_TEST_POSTGRES_DSN when a server exists).
func postgresDSN(t *testing.T) string {
	dsn := os.Getenv("HCIDP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("HCIDP_TEST_POSTGRES_DSN not set: PostgreSQL tests skipped (scripts/test.sh sets it when PostgreSQL is installed)")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("HCIDP_TEST_POSTGRES_DSN is set but PostgreSQL is unreachable: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hcidp_e2e_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// installation is a configuration directory shared by one or more
// processes, with a mock IAM (served in-process) trusted as site cn.
type installation struct {
	dir, cfg, baseURL string
	iam               *mockiam.Server
	iamURL            string
	iamCert           *x509.Certificate
}

func newInstallation(t *testing.T, database, baseAddr, extra string) *installation {
	t.Helper()
	dir := t.TempDir()
	key, cert, err := keys.Generate(2048, "hcidp e2e", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteFiles(dir, key, cert, false); err != nil {
		t.Fatal(err)
	}
	iamKey, iamCert, err := keys.Generate(2048, "mock iam", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	iamLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := &installation{dir: dir, baseURL: "http://" + baseAddr, iamURL: "http://" + iamLn.Addr().String(), iamCert: iamCert}
	in.iam, err = mockiam.New(mockiam.Config{Site: "cn", BaseURL: in.iamURL, XAccountType: "E2E", BpID: "bp-e2e",
		Key: iamKey, Cert: iamCert, IdPEntityID: in.baseURL + "/saml/metadata", IdPSSOURL: in.baseURL + "/saml/sso",
		IdPCerts: []*x509.Certificate{cert}, BindCallbackURL: in.baseURL + "/saml/bind"})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: in.iam.Handler()}
	go srv.Serve(iamLn)
	t.Cleanup(func() { srv.Close() })
	os.WriteFile(filepath.Join(dir, "sp.xml"), in.iam.Metadata(), 0o644)
	in.cfg = filepath.Join(dir, "idp.yaml")
	cfg := fmt.Sprintf(`base_url: %s
key_file: idp.key
cert_file: idp.crt
bp_id: bp-e2e
x_account_type: E2E
database: %q
service_providers:
  - site: cn
    metadata_file: sp.xml
    signing_key_pins: [%q]
    auth_url: %s
    console_url: %s/console
%s`, in.baseURL, database, metadata.KeyPin(iamCert), in.iamURL, in.iamURL, extra)
	if err := os.WriteFile(in.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary(t), "users", "add", "--config", in.cfg, "--xaccount-id", "cust-1", "--password", "correct horse battery").CombinedOutput()
	if err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	return in
}

// login signs cust-1 in on the process at addr with browser b.
func login(t *testing.T, b *browser, addr string) {
	t.Helper()
	passwordLogin(t, b, "http://"+addr, "cust-1", "correct horse battery")
}

// TestTwoReplicasActAsOne runs two `idp serve` processes on one PostgreSQL
// database behind one public base URL: a session made on A is valid on B, an
// AuthnRequest answered by A is refused by B, a binding recorded through A is
// seen by B.
func TestTwoReplicasActAsOne(t *testing.T) {
	dsn := postgresDSN(t)
	addrA, addrB := freePort(t), freePort(t)
	inst := newInstallation(t, dsn, addrA, "")
	a := serve(t, inst.cfg, addrA)
	serve(t, inst.cfg, addrB)

	b := newBrowser(t)
	login(t, b, a.addr)
	// The session made on A is valid on B: B builds the console link without asking for a password.
	resp := b.noRedirect("http://" + addrB + "/console?site=cn")
	if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, inst.iamURL+"/authui/saml/login") {
		t.Fatalf("B with A's session: %d %s", resp.StatusCode, loc)
	}

	// An AuthnRequest answered by A is refused by B (shared replay cache).
	u, _, err := inst.iam.NewAuthnRequestURL(mockiam.RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onA := b.get(strings.Replace(u, inst.baseURL, "http://"+addrA, 1))
	if onA.Status != 200 || !strings.Contains(onA.Body, "SAMLResponse") {
		t.Fatalf("A: %d\n%s", onA.Status, onA.Body)
	}
	onB := b.get(strings.Replace(u, inst.baseURL, "http://"+addrB, 1))
	if onB.Status != 400 || !strings.Contains(onB.Body, "request.replayed") {
		t.Fatalf("B answered a request A had answered: %d\n%s", onB.Status, onB.Body)
	}

	// A binding recorded through A is seen by B.
	ack := b.submit(onA, onA.form(t, "/authui/saml/SAMLAssertionConsumer"))
	bindPage := ack
	if !strings.Contains(bindPage.Body, "Create and bind") {
		t.Fatalf("mock IAM should offer to bind: %s", bindPage.Body)
	}
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	// The mock's notification goes to the public base URL, which is A.
	b.submit(notify, notify.form(t, "/saml/bind"))
	resp = b.noRedirect("http://" + addrB + "/console?site=cn")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("isFirstLogin") != "false" {
		t.Fatalf("B does not see the binding recorded through A: %s", loc)
	}

	// A sign-out on A takes effect on B within a second. B has just read
	// the session for a page that writes nothing (its home page), so it
	// holds it in its read cache, which keeps it at most
	// storage.ReadCacheTTL.
	// The old cookie is sent again after the sign-out, as a copy of it
	// would be: the browser itself forgets it.
	u0, _ := url.Parse("http://" + addrB)
	var cookie *http.Cookie
	for _, c := range b.client.Jar.Cookies(u0) {
		if c.Name == "hcidp_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	signedInOnB := func() bool {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addrB+"/", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `id="sign-out"`)
	}
	if !signedInOnB() {
		t.Fatal("B's home page does not show the session made on A")
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addrA+"/logout", nil)
	req.Header.Set("Origin", inst.baseURL)
	out, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.StatusCode != 200 {
		t.Fatalf("sign-out on A: %d", out.StatusCode)
	}
	time.Sleep(storage.ReadCacheTTL + 100*time.Millisecond)
	if signedInOnB() {
		t.Fatal("B still honours, a second later, the session signed out on A")
	}
}

// TestSIGTERMDrainsAndExits: the process exits cleanly on SIGTERM.
func TestSIGTERMDrainsAndExits(t *testing.T) {
	addr := freePort(t)
	inst := newInstallation(t, "sqlite:"+filepath.Join(t.TempDir(), "idp.db"), addr, "")
	p := serve(t, inst.cfg, addr)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Logs())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("idp serve did not exit within 10 s of SIGTERM")
	}
	if !strings.Contains(p.Logs(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", p.Logs())
	}
}

// TestSIGHUPReloadsSPMetadata: new SP metadata takes effect on SIGHUP;
// broken metadata, and metadata signed with a key that is not pinned, are
// refused and the running configuration kept; `idp sp fetch --accept-key`
// installs the new metadata and pins its key, and the next SIGHUP takes both.
func TestSIGHUPReloadsSPMetadata(t *testing.T) {
	addr := freePort(t)
	inst := newInstallation(t, "sqlite:"+filepath.Join(t.TempDir(), "idp.db"), addr, "")
	p := serve(t, inst.cfg, addr)
	b := newBrowser(t)
	login(t, b, addr)

	// Another mock IAM with a new key replaces the metadata file.
	other := newInstallation(t, "sqlite:"+filepath.Join(t.TempDir(), "other.db"), addr, "")
	u, _, _ := other.iam.NewAuthnRequestURL(mockiam.RequestOptions{})
	if got := b.get(u); got.Status != 403 {
		t.Fatalf("request signed by the not-yet-trusted key: %d", got.Status)
	}
	// Broken metadata first: refused, old trust kept.
	os.WriteFile(filepath.Join(inst.dir, "sp.xml"), []byte("<broken"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLogCount(t, p, "reload failed", 1)
	u1, _, _ := inst.iam.NewAuthnRequestURL(mockiam.RequestOptions{})
	if got := b.get(u1); got.Status != 200 {
		t.Fatalf("after a failed reload the old metadata should still be trusted: %d", got.Status)
	}
	// Metadata signed with a key that is not pinned: refused too.
	os.WriteFile(filepath.Join(inst.dir, "sp.xml"), other.iam.Metadata(), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLogCount(t, p, "reload failed", 2)
	if !strings.Contains(p.Logs(), "not pinned") {
		t.Fatalf("the refused reload does not say the key is not pinned:\n%s", p.Logs())
	}
	u2, _, _ := other.iam.NewAuthnRequestURL(mockiam.RequestOptions{})
	if got := b.get(u2); got.Status != 403 {
		t.Fatalf("a request signed with the unpinned key: %d", got.Status)
	}
	// The operator accepts the new key.
	pin := metadata.KeyPin(other.iamCert)
	out, err := exec.Command(binary(t), "sp", "fetch", "--site", "cn", "--url", other.iamURL+mockiam.PathMetadata,
		"--config", inst.cfg, "--accept-key", pin).CombinedOutput()
	if err != nil {
		t.Fatalf("sp fetch --accept-key: %v\n%s", err, out)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "reloaded SP metadata")
	u3, _, _ := other.iam.NewAuthnRequestURL(mockiam.RequestOptions{})
	if got := b.get(u3); got.Status != 200 {
		t.Fatalf("after sp fetch --accept-key and SIGHUP the new SP key should be trusted: %d\n%s", got.Status, got.Body)
	}
}

// waitLogCount waits until text occurs n times in the process's logs.
func waitLogCount(t *testing.T, p *process, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(p.Logs(), text) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%q does not occur %d times in the logs:\n%s", text, n, p.Logs())
}

func waitLog(t *testing.T, p *process, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Logs(), text) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in the logs:\n%s", text, p.Logs())
}
