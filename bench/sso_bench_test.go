package bench

// In-process benchmarks of the SSO path. Run on one core, as the targets are
// stated per core:
//
//	taskset -c 0 go test ./bench -run '^$' -bench . -benchmem
//
// BenchmarkSSO drives the real http.Handler of a demo installation (SQLite,
// a signed-in session, the mock IAM's signed AuthnRequests, one unique
// request per iteration because of the replay cache). The steps inside the
// idp package are in ../idp/bench_test.go.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/demo"
	"hcidp/idp"
	"hcidp/internal/xmlsectest"
	"hcidp/keys"
	"hcidp/mockiam"
	"hcidp/templates"
)

const benchPassword = "correct horse battery"

// benchEnv is a running demo with a signed-in session cookie.
type benchEnv struct {
	env    *demo.Env
	cookie *http.Cookie
	dir    string
}

var (
	envMu sync.Mutex
	envs  = map[int]*benchEnv{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, e := range envs {
		e.env.Close()
		os.RemoveAll(e.dir)
	}
	os.Exit(code)
}

// startEnv starts (once per SP key size) the demo on loopback and signs in
// through the real login form.
func startEnv(b *testing.B, iamBits int) *benchEnv {
	b.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	if e := envs[iamBits]; e != nil {
		return e
	}
	// Logs are formatted as `idp serve` formats them, then discarded.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "hcidp-bench-")
	if err != nil {
		b.Fatal(err)
	}
	env, err := demo.Start(context.Background(), demo.Options{
		DataDir: dir, IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0", IAMKeyBits: iamBits,
		Password: benchPassword, Logger: log,
	})
	if err != nil {
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	cookie, err := SignIn(http.DefaultClient, env.IdPURL, env.Username, benchPassword)
	if err != nil {
		env.Close()
		os.RemoveAll(dir)
		b.Fatal(err)
	}
	e := &benchEnv{env: env, cookie: cookie, dir: dir}
	envs[iamBits] = e
	return e
}

func serve(h http.Handler, u string, cookie *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", u, nil)
	req.Header.Set("Accept-Language", "en")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkSSO is the whole SSO request through the IdP's http.Handler: query
// verify, inflate, parse, replay cache, session, customer, build, sign,
// audit, render. The SP (mock IAM) key size changes the verify cost; Huawei's
// is RSA-4096.
func BenchmarkSSO(b *testing.B) {
	for _, bits := range []int{2048, 4096} {
		b.Run(fmt.Sprintf("SP-RSA%d", bits), func(b *testing.B) {
			e := startEnv(b, bits)
			h := e.env.IdP.Server.Handler()
			// One checked answer first: xmlsec1 verifies it.
			first, err := PresignRequests(e.env.IAM, 1, mockiam.RequestOptions{})
			if err != nil {
				b.Fatal(err)
			}
			rec := serve(h, first[0], e.cookie)
			doc, err := ResponseFromPage(rec.Body.Bytes())
			if rec.Code != 200 || err != nil {
				b.Fatalf("SSO: %d %v\n%s", rec.Code, err, rec.Body)
			}
			xmlsectest.Verify(b, doc, e.env.IdP.Cert)

			urls, err := PresignRequests(e.env.IAM, b.N, mockiam.RequestOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if rec := serve(h, urls[i], e.cookie); rec.Code != 200 {
					b.Fatalf("SSO %d: status %d\n%s", i, rec.Code, rec.Body)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sso/s")
		})
	}
}

// BenchmarkSSOOverhead interleaves, one for one, an SSO through the
// handler (as BenchmarkSSO) and a raw signature with the IdP's own key, and
// reports what the SSO costs beyond its signature and the ratio of the two
// rates. Interleaving exposes both to the same noise of a shared machine,
// which moves back-to-back measurements of the one and the other by ±20 %.
func BenchmarkSSOOverhead(b *testing.B) {
	e := startEnv(b, 2048)
	h := e.env.IdP.Server.Handler()
	key, _, err := keys.LoadKeyPair(e.env.IdP.Config.KeyFile, e.env.IdP.Config.CertFile)
	if err != nil {
		b.Fatal(err)
	}
	key.Precompute()
	d := sha256.Sum256([]byte("hcidp"))
	urls, err := PresignRequests(e.env.IAM, b.N, mockiam.RequestOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var sso, raw time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if rec := serve(h, urls[i], e.cookie); rec.Code != 200 {
			b.Fatalf("SSO %d: status %d\n%s", i, rec.Code, rec.Body)
		}
		t1 := time.Now()
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:]); err != nil {
			b.Fatal(err)
		}
		sso, raw = sso+t1.Sub(t0), raw+time.Since(t1)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(sso)/n/1e3, "µs/sso")
	b.ReportMetric(float64(raw)/n/1e3, "µs/sig")
	b.ReportMetric(float64(sso-raw)/n/1e3, "µs-beyond-sig")
	b.ReportMetric(float64(raw)/float64(sso), "x-raw")
}

var (
	keyOnce  sync.Once
	benchKey *rsa.PrivateKey
)

func idpKey(b *testing.B) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		k.Precompute()
		benchKey = k
	})
	return benchKey
}

// BenchmarkRawRSASign2048 is the reference: one RSA-2048 PKCS#1 v1.5
// SHA-256 signature, what every SSO must cost at least.
func BenchmarkRawRSASign2048(b *testing.B) {
	key := idpKey(b)
	d := sha256.Sum256([]byte("hcidp"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
}

func sampleParams(now time.Time) *idp.ResponseParams {
	return &idp.ResponseParams{
		ResponseID: "_d794dc393ae6724e236003bf0b917cf0", AssertionID: "_2320c40ac7b5e857b2d0d4ea0c8758c3",
		IssueInstant: now, Destination: "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer",
		InResponseTo: "_dck4mm08qmdhc8k4nuir07hghetdqqg8umg5", SPEntityID: "https://auth.huaweicloud.com/",
		NameID: "_5f1c0a7e2b9d4c3a8e6f0b1d2c3a4e5f", SessionIndex: "_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
		AuthnInstant: now.Add(-time.Minute), NotBefore: now.Add(-3 * time.Minute), NotOnOrAfter: now.Add(5 * time.Minute),
		Attributes: []idp.Attribute{{Name: "xUserId", Value: "cust-0001"}, {Name: "xAccountId", Value: "cust-0001"},
			{Name: "bpId", Value: "bp-4711"}, {Name: "email", Value: "demo.customer@example.com"},
			{Name: "name", Value: "demo_customer"}, {Name: "mobile", Value: "+86-13800000000"}},
	}
}

// BenchmarkSignerResponse is build + canonicalize + sign of the Response
// (idp.Signer): the raw signature plus what the writer adds.
func BenchmarkSignerResponse(b *testing.B) {
	key, cert, err := keys.Generate(2048, "bench", time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	s, err := idp.NewSigner(key, cert, "https://idp.partner.example/saml/metadata", false)
	if err != nil {
		b.Fatal(err)
	}
	p := sampleParams(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Response(p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resp/s")
}

// BenchmarkRenderPostForm is the HTTP-POST binding page: post.html split at
// start-up, the ~7 KB base64 value spliced in.
func BenchmarkRenderPostForm(b *testing.B) {
	r, err := templates.New("")
	if err != nil {
		b.Fatal(err)
	}
	resp := make([]byte, 5200)
	rand.Read(resp)
	d := templates.PostData{Page: templates.Page{Lang: "en", L: templates.Messages("en"), Nonce: "bm9uY2Vub25jZW5vbmNl"},
		ACS: "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer", SAMLResponse: base64.StdEncoding.EncodeToString(resp),
		RelayState: "rs_0123456789abcdef0123456789abcdef", HasRelay: true}
	b.ReportAllocs()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		r.WritePost(&buf, d)
	}
}

// BenchmarkCrewjamServeSSO is crewjam/saml v0.5.1's IdP answering the same
// kind of AuthnRequest with a stubbed session (it verifies no request
// signature, keeps no replay cache, and signs both Assertion and Response).
func BenchmarkCrewjamServeSSO(b *testing.B) {
	e := startEnv(b, 2048)
	key, cert, err := keys.LoadKeyPair(e.env.IdP.Config.KeyFile, e.env.IdP.Config.CertFile)
	if err != nil {
		b.Fatal(err)
	}
	const ssoURL = "http://127.0.0.1:1/saml/sso" // never dialled: the handler is called directly
	cidp, err := CrewjamIdP(key, cert, ssoURL, e.env.IAM.UnsignedMetadata())
	if err != nil {
		b.Fatal(err)
	}
	h := http.HandlerFunc(cidp.ServeSSO)
	first, err := PresignRequests(e.env.IAM, 1, mockiam.RequestOptions{Destination: ssoURL})
	if err != nil {
		b.Fatal(err)
	}
	if rec := serve(h, first[0], nil); rec.Code != 200 || !strings.Contains(rec.Body.String(), "SAMLResponse") {
		b.Fatalf("crewjam ServeSSO: %d\n%s", rec.Code, rec.Body)
	}
	urls, err := PresignRequests(e.env.IAM, b.N, mockiam.RequestOptions{Destination: ssoURL})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := serve(h, urls[i], nil); rec.Code != 200 {
			b.Fatalf("crewjam ServeSSO %d: %d", i, rec.Code)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sso/s")
}
