package idp

// The SAML core on its own, with fake seams: an Authenticator that says
// who is signed in, an in-memory Ledger, a map Directory. The web server's
// tests (package server) drive the same core through HTTP and a database.

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/saml"
)

const (
	coreSP  = "https://auth.huaweicloud.com/"
	coreACS = "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer"
	coreSSO = "https://idp.partner.example/saml/sso"
)

var coreSPKey = sync.OnceValue(func() (k struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}) {
	var err error
	if k.key, k.cert, err = keys.Generate(2048, "auth.huaweicloud.com (test SP)", 365*24*time.Hour, time.Now()); err != nil {
		panic(err)
	}
	return k
})

type fakeAuth struct{ who string }

func (a *fakeAuth) SignedIn(*http.Request) (string, time.Time) {
	return a.who, time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
}

type memLedger struct {
	mu      sync.Mutex
	seen    map[string]bool
	records []Record
	fail    error
}

func (l *memLedger) Remember(_ context.Context, e ReplayEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	if l.seen[e.Issuer+" "+e.ID] {
		return ErrReplayed
	}
	l.seen[e.Issuer+" "+e.ID] = true
	return nil
}

func (l *memLedger) Record(ctx context.Context, e *ReplayEntry, rec Record) error {
	if e != nil {
		if err := l.Remember(ctx, *e); err != nil {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, rec)
	return nil
}

type mapDirectory map[string]Subject

func (d mapDirectory) Subject(_ context.Context, id string) (Subject, error) {
	if s, ok := d[id]; ok {
		return s, nil
	}
	return Subject{}, ErrNoSubject
}

type coreEnv struct {
	idp    *IdP
	auth   *fakeAuth
	ledger *memLedger
	now    time.Time
}

func newCoreEnv(t testing.TB) *coreEnv {
	t.Helper()
	k := coreSPKey()
	acs := metadata.Endpoint{Binding: saml.BindingHTTPPost, Location: coreACS, IsDefault: true}
	meta := &metadata.SP{Site: "cn", EntityID: coreSP, ACS: []metadata.Endpoint{acs}, DefaultACS: acs,
		SigningCerts: []*x509.Certificate{k.cert}, NotAfter: k.cert.NotAfter}
	sp, err := NewServiceProvider("cn", meta, "", "")
	if err != nil {
		t.Fatal(err)
	}
	idpKey, idpCert := testKeyPair(t)
	signer, err := NewSigner(idpKey, idpCert, "https://idp.partner.example/saml/metadata", false)
	if err != nil {
		t.Fatal(err)
	}
	e := &coreEnv{auth: &fakeAuth{}, ledger: &memLedger{seen: map[string]bool{}}, now: time.Now().UTC()}
	e.idp, err = New(Config{EntityID: "https://idp.partner.example/saml/metadata", SSOURL: coreSSO, BpID: "bp-1",
		ClockSkew: 3 * time.Minute, RequestLifetime: 5 * time.Minute, AssertionLifetime: 5 * time.Minute},
		Trust{SPs: []*ServiceProvider{sp}, Signer: signer, Cert: idpCert},
		Options{Auth: e.auth, Ledger: e.ledger, Directory: mapDirectory{"alice": {XAccountID: "alice", Email: "alice@example.com"}},
			Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// request returns a GET of a correctly signed AuthnRequest with id.
func (e *coreEnv) request(t testing.TB, id, extraAttrs string) *http.Request {
	t.Helper()
	doc := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + e.now.Format("2006-01-02T15:04:05.000Z") + `" Destination="` + coreSSO + `"` + extraAttrs +
		`><saml:Issuer>` + coreSP + `</saml:Issuer></samlp:AuthnRequest>`
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write([]byte(doc))
	w.Close()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(buf.Bytes())) + "&RelayState=rs&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
	d := crypto.SHA256.New()
	d.Write([]byte(q))
	sig, err := rsa.SignPKCS1v15(rand.Reader, coreSPKey().key, crypto.SHA256, d.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return httptest.NewRequest("GET", "/saml/sso?"+q+"&Signature="+url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil)
}

// ServeSSO asks the Authenticator who is signed in and never builds a
// login URL: nobody signed in is a SignIn outcome, with the request
// remembered; a signed-in customer gets a Post whose audit record and
// replay entry went to the Ledger together; a replay is refused.
func TestServeSSOSequence(t *testing.T) {
	e := newCoreEnv(t)
	o := e.idp.ServeSSO(e.request(t, "_r1", ""))
	if o.SignIn == nil || o.SignIn.ID != "_r1" || *o.SignIn.RelayState != "rs" || !e.ledger.seen[coreSP+" _r1"] || len(e.ledger.records) != 0 {
		t.Fatalf("not signed in: %+v, ledger %+v", o, e.ledger)
	}
	if o := e.idp.ServeSSO(e.request(t, "_r1", "")); o.Refusal == nil || o.Refusal.Reason != "request.replayed" {
		t.Fatalf("replay while waiting for a sign-in: %+v", o)
	}
	// The web layer signs alice in and answers.
	o = e.idp.Answer(httptest.NewRequest("POST", "/login", nil), o.SignIn, "alice", e.now, &ReplayEntry{Issuer: "flow", ID: "f1"})
	if o.Post == nil || o.Post.Kind != "issued" || o.Post.ACS != coreACS || !bytes.Contains(o.Post.Response, []byte(">alice<")) {
		t.Fatalf("answer after sign-in: %+v", o)
	}
	if len(e.ledger.records) != 1 || e.ledger.records[0].RequestID != "_r1" || e.ledger.records[0].Kind != "response" {
		t.Fatalf("audit records %+v", e.ledger.records)
	}
	e.auth.who = "alice"
	o = e.idp.ServeSSO(e.request(t, "_r2", ""))
	if o.Post == nil || o.Post.Kind != "issued" || !e.ledger.seen[coreSP+" _r2"] || len(e.ledger.records) != 2 {
		t.Fatalf("signed in: %+v", o)
	}
	if o := e.idp.ServeSSO(e.request(t, "_r2", "")); o.Refusal == nil || o.Refusal.Reason != "request.replayed" || len(e.ledger.records) != 2 {
		t.Fatalf("replay of an answered request: %+v", o)
	}
}

// The seams' failures: a ledger fault is Unavailable (503, nothing sent), an
// unknown or disabled customer is refused and ends the session, IsPassive
// without a sign-in is a signed error Response.
func TestServeSSOSeamFailures(t *testing.T) {
	e := newCoreEnv(t)
	e.auth.who = "mallory"
	if o := e.idp.ServeSSO(e.request(t, "_f1", "")); o.Refusal == nil || o.Refusal.Reason != "customer.disabled" || !o.EndSession {
		t.Fatalf("unknown customer: %+v", o)
	}
	e.auth.who = ""
	o := e.idp.ServeSSO(e.request(t, "_f2", ` IsPassive="true"`))
	if o.Post == nil || o.Post.Kind != "error_response" || o.Post.Status != "NoPassive" || bytes.Contains(o.Post.Response, []byte("<saml:Assertion")) {
		t.Fatalf("IsPassive: %+v", o)
	}
	e.ledger.fail = errors.New("database down")
	o = e.idp.ServeSSO(e.request(t, "_f3", ""))
	if o.Unavailable == nil || o.What != "replay_cache" || o.SignIn != nil {
		t.Fatalf("ledger down: %+v", o)
	}
	e.auth.who = "alice"
	if o := e.idp.ServeSSO(e.request(t, "_f4", "")); o.Unavailable == nil || o.What != "audit" || o.Post != nil {
		t.Fatalf("ledger down, signed in: %+v", o)
	}
}

// A request signed by one configured SP that names another as its Issuer
// is refused: the key that verifies must be the Issuer's
// (docs/threat-model.md "Order of checks at the SSO endpoint" 4).
func TestServeSSOIssuerMustBeTheSigner(t *testing.T) {
	e := newCoreEnv(t)
	otherKey, otherCert, err := keys.Generate(2048, "auth-intl.huaweicloud.com (test SP)", 365*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	acs := metadata.Endpoint{Binding: saml.BindingHTTPPost, Location: "https://auth-intl.huaweicloud.com/acs", IsDefault: true}
	intl, err := NewServiceProvider("intl", &metadata.SP{Site: "intl", EntityID: "https://auth-intl.huaweicloud.com/",
		ACS: []metadata.Endpoint{acs}, DefaultACS: acs, SigningCerts: []*x509.Certificate{otherCert}, NotAfter: otherCert.NotAfter}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tr := e.idp.trust()
	if err := e.idp.Reload(Trust{SPs: []*ServiceProvider{tr.sps[0], intl}, Signer: tr.signer, Cert: tr.certs[0]}); err != nil {
		t.Fatal(err)
	}
	// The cn Issuer, signed with intl's key.
	r := e.request(t, "_mix1", "")
	q := r.URL.Query()
	octets := "SAMLRequest=" + url.QueryEscape(q.Get("SAMLRequest")) + "&RelayState=rs&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
	d := crypto.SHA256.New()
	d.Write([]byte(octets))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, otherKey, crypto.SHA256, d.Sum(nil))
	r = httptest.NewRequest("GET", "/saml/sso?"+octets+"&Signature="+url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), nil)
	e.auth.who = "alice"
	o := e.idp.ServeSSO(r)
	if o.Refusal == nil || o.Refusal.Reason != "signature.issuer_mismatch" || o.Refusal.Status != 403 || len(e.ledger.records) != 0 {
		t.Fatalf("signed by intl, Issuer cn: %+v", o)
	}
}

// An optional attribute whose stored value breaks its rule is left out of
// the Assertion and logged, never sent malformed (docs/profile.md §3).
func TestInvalidOptionalAttributeIsOmitted(t *testing.T) {
	e := newCoreEnv(t)
	var logs bytes.Buffer
	e.idp.log = slog.New(slog.NewTextHandler(&logs, nil))
	e.idp.dir = mapDirectory{"alice": {XAccountID: "alice", Email: "not an address", Name: "9starts-with-digit", Mobile: "+86 138"}}
	e.auth.who = "alice"
	o := e.idp.ServeSSO(e.request(t, "_attr1", ""))
	if o.Post == nil {
		t.Fatalf("outcome %+v", o)
	}
	doc := string(o.Post.Response)
	if strings.Contains(doc, `Name="email"`) || strings.Contains(doc, `Name="name"`) || !strings.Contains(doc, `Name="mobile"`) {
		t.Errorf("the Response carries broken attributes or lost a valid one:\n%s", doc)
	}
	if !strings.Contains(logs.String(), "attribute omitted") || !strings.Contains(logs.String(), "attribute=email") {
		t.Errorf("not logged:\n%s", logs.String())
	}
}
