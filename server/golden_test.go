package server

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/idp"
	"hcidp/internal/golden"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/mockiam"
	"hcidp/storage"
	sqlstore "hcidp/storage/sql"
)

// detRand is a deterministic byte stream (SHA-256 in counter mode) standing
// in for crypto/rand in golden tests.
type detRand struct {
	ctr uint64
	buf []byte
}

func (d *detRand) Read(p []byte) (int, error) {
	for i := range p {
		if len(d.buf) == 0 {
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], d.ctr)
			d.ctr++
			sum := sha256.Sum256(c[:])
			d.buf = sum[:]
		}
		p[i], d.buf = d.buf[0], d.buf[1:]
	}
	return len(p), nil
}

// TestSSOGolden runs one whole SSO through the HTTP handler with an injected
// clock and random source and compares the Response and the auto-POST page
// with testdata. Run with -update after an intended change.
func TestSSOGolden(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key, cert := testKeyPair(t)
	iamKey, iamCert, err := keys.Generate(2048, "mock iam", 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	const base, iamBase = "https://idp.partner.example", "https://auth.huaweicloud.com"
	iam, err := mockiam.New(mockiam.Config{Site: "cn", BaseURL: iamBase, XAccountType: "ZXT", BpID: "bp-4711",
		Key: iamKey, Cert: iamCert, IdPEntityID: base + "/saml/metadata", IdPSSOURL: base + "/saml/sso",
		IdPCerts: []*x509.Certificate{cert}, BindCallbackURL: base + "/saml/bind", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.LoadSP("cn", iam.Metadata(), metadata.LoadOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := idp.NewServiceProvider("cn", meta, "", "")
	cfg := Config{IdP: idp.Config{EntityID: base + "/saml/metadata", SSOURL: base + "/saml/sso", BpID: "bp-4711",
		ClockSkew: 3 * time.Minute, RequestLifetime: 5 * time.Minute, AssertionLifetime: 5 * time.Minute},
		BaseURL: base, XAccountType: "ZXT", SessionLifetime: 8 * time.Hour, SessionIdleTimeout: time.Hour, BindWindow: time.Hour}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "idp.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := customer.Add(ctx, st, storage.Customer{XAccountID: "cust-0001", Email: "zhang.san@example.com",
		Name: "zhang_san", Mobile: "+86-13800000000"}, "correct horse battery", now); err != nil {
		t.Fatal(err)
	}
	signer, _ := idp.NewSigner(key, cert, cfg.IdP.EntityID, false)
	srv, err := New(cfg, Options{Store: st, Trust: idp.Trust{SPs: []*idp.ServiceProvider{sp}, Signer: signer, Cert: cert},
		Logger: slog.New(slog.DiscardHandler), Now: clock, Rand: &detRand{}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	cookies := map[string]*http.Cookie{} // a browser's cookie jar, by name
	do := func(req *http.Request) *httptest.ResponseRecorder {
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(cookies, c.Name)
			} else {
				cookies[c.Name] = c
			}
		}
		return rec
	}
	u, _, err := iam.NewAuthnRequestURL(mockiam.RequestOptions{ID: "_0123456789abcdef0123456789abcdef", RelayState: "rs-<42>"})
	if err != nil {
		t.Fatal(err)
	}
	ssoURL, _ := url.Parse(u)
	rec := do(httptest.NewRequest("GET", "/saml/sso?"+ssoURL.RawQuery, nil))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("SSO without a session: %d %s", rec.Code, rec.Body)
	}
	loginURL := rec.Header().Get("Location")
	rec = do(httptest.NewRequest("GET", loginURL, nil))
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	flow := regexp.MustCompile(`name="flow" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}, "flow": {html.UnescapeString(flow[1])},
		"username": {"cust-0001"}, "password": {"correct horse battery"}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	rec = do(req)
	if rec.Code != 200 {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	page := rec.Body.String()
	m := regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no SAMLResponse:\n%s", page)
	}
	doc, _ := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	golden.Check(t, "sso-response.golden.xml", doc)
	golden.Check(t, "sso-post.golden.html", []byte(page))
}
