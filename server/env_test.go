package server

// The hardening test environment: a real Server (New) on a SQLite file
// in t.TempDir(), one trusted SP whose key the tests hold (so they control
// the signed octets exactly), a second key for forgeries, two customers, a
// cookie-keeping client that drives the real http.Handler, and row counts of
// every table a request may write, for "nothing written" assertions.

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/idp"
	"hcidp/internal/testkit"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/saml"
	"hcidp/storage"
	sqlstore "hcidp/storage/sql"
	"hcidp/web"
)

const (
	hxSPEntityID = "https://auth.huaweicloud.com/"
	hxACS        = "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer"
	hxACS2       = "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer2"
	hxPassword   = "correct horse battery staple"
)

// hxKeys are generated once per test binary: the trusted SP's key, a key
// nobody trusts (forgeries) and the password hash of the test customers.
var hxKeys = sync.OnceValue(func() (k struct {
	sp, other *rsa.PrivateKey
	spCert    *x509.Certificate
	hash      string
}) {
	var err error
	if k.sp, k.spCert, err = keys.Generate(2048, "auth.huaweicloud.com (test SP)", 365*24*time.Hour, time.Now()); err != nil {
		panic(err)
	}
	if k.other, _, err = keys.Generate(2048, "attacker", 365*24*time.Hour, time.Now()); err != nil {
		panic(err)
	}
	if k.hash, err = customer.HashPassword(hxPassword); err != nil {
		panic(err)
	}
	return k
})

// hardenEnv is one IdP under test.
type hardenEnv struct {
	t       testing.TB
	srv     *Server
	handler http.Handler
	store   *sqlstore.DB
	db      *sql.DB // a second handle on the same file, for row counts
	dbFile  string
	cfg     Config
	trust   idp.Trust // what the SAML core was given at start
	logs    *testkit.SyncBuffer
	origin  string // scheme://host of base_url
	clock   *testkit.Clock
	opts    Options
}

// ssoURL is the IdP's SingleSignOnService location.
func (e *hardenEnv) ssoURL() string { return e.cfg.IdP.SSOURL }

// newHardenEnv builds the server for baseURL ("" = http://127.0.0.1:8080).
// edit, when not nil, changes the configuration first.
func newHardenEnv(t testing.TB, baseURL string, edit func(*Config)) *hardenEnv {
	t.Helper()
	if baseURL == "" {
		baseURL = "http://127.0.0.1:8080"
	}
	k := hxKeys()
	dir := t.TempDir()
	cfg := Config{
		IdP: idp.Config{EntityID: baseURL + "/saml/metadata", SSOURL: baseURL + "/saml/sso", BpID: "bp-test",
			ClockSkew: 3 * time.Minute, RequestLifetime: 5 * time.Minute, AssertionLifetime: 5 * time.Minute},
		BaseURL: baseURL, XAccountType: "HCTEST", SessionLifetime: 8 * time.Hour, SessionIdleTimeout: time.Hour,
		BindWindow: time.Hour,
	}
	if edit != nil {
		edit(&cfg)
	}
	dbFile := filepath.Join(dir, "hcidp.db")
	clock := &testkit.Clock{}
	// The store keeps the real clock: tests move the IdP's clock a year on
	// (past an SP certificate) with the customer still signed in.
	st, err := sqlstore.OpenSQLite(context.Background(), dbFile, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := sql.Open("sqlite", dbFile+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })

	idpKey, idpCert := testKeyPair(t)
	signer, err := idp.NewSigner(idpKey, idpCert, cfg.IdP.EntityID, false)
	if err != nil {
		t.Fatal(err)
	}
	acs := metadata.Endpoint{Binding: saml.BindingHTTPPost, Location: hxACS, Index: 0, IsDefault: true}
	meta := &metadata.SP{Site: "cn", EntityID: hxSPEntityID,
		ACS:          []metadata.Endpoint{acs, {Binding: saml.BindingHTTPPost, Location: hxACS2, Index: 1}},
		DefaultACS:   acs,
		SigningCerts: []*x509.Certificate{k.spCert}, AuthnRequestsSigned: true, WantAssertionsSigned: true,
		Signed: true, NotAfter: k.spCert.NotAfter}
	sp, err := idp.NewServiceProvider("cn", meta, "", "")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	trust := idp.Trust{SPs: []*idp.ServiceProvider{sp}, Signer: signer, Cert: idpCert}
	opts := Options{Store: st, Trust: trust,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: clock.Now}
	srv, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, id := range []string{"alice", "bob"} {
		if err := st.CreateCustomer(context.Background(), storage.Customer{XAccountID: id, DisplayName: id,
			PasswordHash: k.hash, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := url.Parse(baseURL)
	return &hardenEnv{t: t, srv: srv, handler: srv.Handler(), store: st, db: raw, dbFile: dbFile, cfg: cfg, trust: trust, logs: logs,
		origin: u.Scheme + "://" + u.Host, clock: clock, opts: opts}
}

// replica is a second Server on the same database, as another replica
// behind the load balancer would be.
func (e *hardenEnv) replica() *hardenEnv {
	e.t.Helper()
	srv, err := New(e.cfg, e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	r := *e
	r.srv, r.handler = srv, srv.Handler()
	return &r
}

// hxTables are the tables a request may write; a refusal changes none.
var hxTables = []string{"replay_cache", "audit_log", "bind_events", "bindings", "sessions", "login_failures", "launch_tokens", "secrets"}

// snapshot is the row count of every table plus a digest of session
// contents (token and data, not the expiry that an idle timeout renews).
type snapshot map[string]int

func (e *hardenEnv) snapshot() snapshot {
	e.t.Helper()
	s := snapshot{}
	for _, tbl := range hxTables {
		var n int
		if err := e.db.QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil {
			e.t.Fatalf("count %s: %v", tbl, err)
		}
		s[tbl] = n
	}
	rows, err := e.db.Query("SELECT token, data FROM sessions ORDER BY token")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	h := crypto.SHA256.New()
	for rows.Next() {
		var tok string
		var data []byte
		if err := rows.Scan(&tok, &data); err != nil {
			e.t.Fatal(err)
		}
		// The session codec writes values in key order: equal sessions are
		// equal bytes.
		fmt.Fprintf(h, "%s\x00%x\x00", tok, data)
	}
	var sum [4]byte
	copy(sum[:], h.Sum(nil))
	s["sessions_digest"] = int(sum[0])<<24 | int(sum[1])<<16 | int(sum[2])<<8 | int(sum[3])
	return s
}

// delta returns after-before per table (the session digest as 0/1 changed).
func (a snapshot) delta(b snapshot) map[string]int {
	d := map[string]int{}
	for k, v := range b {
		if k == "sessions_digest" {
			if v != a[k] {
				d["sessions_changed"] = 1
			}
			continue
		}
		if v != a[k] {
			d[k] = v - a[k]
		}
	}
	return d
}

// hxClient keeps cookies like a browser, for one env.
type hxClient struct {
	e       *hardenEnv
	cookies map[string]*http.Cookie
	// sent are the cookies of the last request.
	sent   map[string]string
	remote string
}

func (e *hardenEnv) client() *hxClient {
	return &hxClient{e: e, cookies: map[string]*http.Cookie{}, remote: "192.0.2.10:40000"}
}

// hxResp is a recorded response with its body as text.
type hxResp struct {
	*http.Response
	Body string
}

// do runs req through the real handler, sending and keeping cookies.
func (c *hxClient) do(req *http.Request) *hxResp {
	c.sent = map[string]string{}
	for _, ck := range c.cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		c.sent[ck.Name] = ck.Value
	}
	req.RemoteAddr = c.remote
	rec := httptest.NewRecorder()
	c.e.handler.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return &hxResp{Response: res, Body: string(body)}
}

// get requests target, a path with query or an absolute URL.
func (c *hxClient) get(target string) *hxResp {
	return c.do(httptest.NewRequest(http.MethodGet, target, nil))
}

// post submits a form with this IdP's Origin.
func (c *hxClient) post(path string, form url.Values) *hxResp {
	req := httptest.NewRequest(http.MethodPost, c.e.origin+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.e.origin)
	return c.do(req)
}

var (
	hxCSRFRE  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	hxFlowRE  = regexp.MustCompile(`name="flow" value="([^"]*)"`)
	hxInputRE = regexp.MustCompile(`<input type="hidden" name="(SAMLResponse|RelayState)" value="([^"]*)">`)
)

// loginForm fetches /login (optionally continuing flow) and returns the form values.
func (c *hxClient) loginForm(flow string) url.Values {
	c.e.t.Helper()
	p := c.get(c.e.origin + "/login?flow=" + url.QueryEscape(flow))
	m := hxCSRFRE.FindStringSubmatch(p.Body)
	if p.StatusCode != 200 || m == nil {
		c.e.t.Fatalf("login form: %d\n%s", p.StatusCode, p.Body)
	}
	f := url.Values{"csrf_token": {html.UnescapeString(m[1])}}
	if fm := hxFlowRE.FindStringSubmatch(p.Body); fm != nil {
		f.Set("flow", html.UnescapeString(fm[1]))
	}
	return f
}

// login signs in as id with password and returns the answer to the POST.
func (c *hxClient) login(id, password string) *hxResp {
	c.e.t.Helper()
	f := c.loginForm("")
	f.Set("username", id)
	f.Set("password", password)
	return c.post("/login", f)
}

// mustLogin signs in as id with the right password.
func (c *hxClient) mustLogin(id string) {
	c.e.t.Helper()
	if r := c.login(id, hxPassword); r.StatusCode != http.StatusSeeOther {
		c.e.t.Fatalf("login as %s: %d\n%s", id, r.StatusCode, r.Body)
	}
}

// postForm returns the SAMLResponse (decoded) and RelayState of an auto-POST page.
func postForm(body string) (samlResponse []byte, relay string, hasRelay bool) {
	for _, m := range hxInputRE.FindAllStringSubmatch(body, -1) {
		v := html.UnescapeString(m[2])
		if m[1] == "SAMLResponse" {
			samlResponse, _ = base64.StdEncoding.DecodeString(v)
		} else {
			relay, hasRelay = v, true
		}
	}
	return
}

// hxDeflate compresses b as raw DEFLATE (RFC 1951), as the redirect binding wants.
func hxDeflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// signQuery signs octets as an SP would: base64 of RSA PKCS#1 v1.5.
func signQuery(t testing.TB, key *rsa.PrivateKey, h crypto.Hash, octets string) string {
	t.Helper()
	hh := h.New()
	hh.Write([]byte(octets))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, hh.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// hxAuthnXML is an AuthnRequest as Huawei IAM sends it.
func hxAuthnXML(id string, instant time.Time, dest string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
		` ID="` + id + `" Version="2.0" IssueInstant="` + instant.UTC().Format("2006-01-02T15:04:05.000Z") + `" Destination="` + dest +
		`" AssertionConsumerServiceURL="` + hxACS + `" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">` +
		`<saml:Issuer>` + hxSPEntityID + `</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/></samlp:AuthnRequest>`
}

// signedSSOQuery returns a correctly signed redirect query for doc.
func (e *hardenEnv) signedSSOQuery(doc, relay string) string {
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(hxDeflate([]byte(doc))))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	q += "&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
	return q + "&Signature=" + url.QueryEscape(signQuery(e.t, hxKeys().sp, crypto.SHA256, q))
}

// testKeyPair is the IdP's throw-away test key pair (testdata/idp.key),
// which the golden files are signed with.
func testKeyPair(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	k, c, err := keys.LoadKeyPair("testdata/idp.key", "testdata/idp.crt")
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

// newTestID returns a fresh SAML ID.
func newTestID() string { return "_" + web.Token(rand.Reader, 16) }
