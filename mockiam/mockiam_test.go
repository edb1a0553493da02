package mockiam_test

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"hcidp/check"
	"hcidp/check/checktest"
	"hcidp/mockiam"
	"hcidp/saml"
)

const (
	testIdPEntity = "https://idp.partner.example"
	testIdPSSO    = "http://127.0.0.1:9/saml/sso"
	testBindURL   = "http://127.0.0.1:9/saml/bind"
	testXAT       = "ZXT"
	testBpID      = "bp-0001"
)

var (
	keysOnce        sync.Once
	spKey, idpKey   *rsa.PrivateKey
	spCert, idpCert *x509.Certificate
	otherKey        *rsa.PrivateKey
)

func keys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		now := time.Now()
		var err error
		if spKey, spCert, err = checktest.NewKeyPair(2048, "auth.huaweicloud.com", now); err != nil {
			panic(err)
		}
		if idpKey, idpCert, err = checktest.NewKeyPair(2048, "idp.partner.example", now); err != nil {
			panic(err)
		}
		if otherKey, _, err = checktest.NewKeyPair(2048, "attacker.example", now); err != nil {
			panic(err)
		}
	})
}

type fixture struct {
	srv    *mockiam.Server
	ts     *httptest.Server
	client *http.Client // does not follow redirects; keeps cookies
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith lets edit change the configuration first.
func newFixtureWith(t *testing.T, edit func(*mockiam.Config)) *fixture {
	t.Helper()
	keys(t)
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	cfg := mockiam.Config{
		Site:            "cn",
		BaseURL:         base,
		XAccountType:    testXAT,
		BpID:            testBpID,
		Key:             spKey,
		Cert:            spCert,
		IdPEntityID:     testIdPEntity,
		IdPSSOURL:       testIdPSSO,
		IdPCerts:        []*x509.Certificate{idpCert},
		BindCallbackURL: testBindURL,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := mockiam.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, ts: ts, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (f *fixture) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := f.client.Get(f.ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (f *fixture) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := f.client.PostForm(f.ts.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// rawParams splits a raw query into its still-encoded values.
func rawParams(t *testing.T, rawQuery string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if _, dup := out[k]; dup {
			t.Fatalf("parameter %s twice", k)
		}
		out[k] = v
	}
	return out
}

func verifyOctets(t *testing.T, cert *x509.Certificate, octets, sigParam string) error {
	t.Helper()
	sigB64, err := url.QueryUnescape(sigParam)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(octets))
	return rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig)
}

func xmlsec1(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("xmlsec1 is required in CI: %v", err)
		}
		t.Skip("xmlsec1 not installed; skipping the independent signature check")
	}
	return p
}

func TestMetadataIsSignedAndShapedLikeHuawei(t *testing.T) {
	f := newFixture(t)
	resp, body := f.get(t, mockiam.PathMetadata)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !bytes.Equal([]byte(body), f.srv.Metadata()) {
		t.Error("served metadata differs from Metadata()")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if root.Tag != "EntityDescriptor" || root.SelectAttrValue("entityID", "") != f.ts.URL+"/" || root.SelectAttrValue("ID", "") == "" {
		t.Fatalf("bad EntityDescriptor: %s", body)
	}
	if first := root.ChildElements()[0]; first.Tag != "Signature" {
		t.Errorf("first child is %s, want Signature", first.Tag)
	}
	for path, want := range map[string]string{
		"./Signature/SignedInfo/CanonicalizationMethod": check.AlgExcC14N,
		"./Signature/SignedInfo/SignatureMethod":        check.AlgRSASHA256,
	} {
		if el := root.FindElement(path); el == nil || el.SelectAttrValue("Algorithm", "") != want {
			t.Errorf("%s: want Algorithm %s", path, want)
		}
	}
	sp := root.SelectElement("SPSSODescriptor")
	if sp == nil || sp.SelectAttrValue("AuthnRequestsSigned", "") != "true" || sp.SelectAttrValue("WantAssertionsSigned", "") != "true" {
		t.Fatalf("bad SPSSODescriptor")
	}
	uses := map[string]bool{}
	for _, kd := range sp.SelectElements("KeyDescriptor") {
		uses[kd.SelectAttrValue("use", "")] = true
	}
	if !uses["signing"] || !uses["encryption"] {
		t.Errorf("KeyDescriptor uses = %v, want signing and encryption", uses)
	}
	if len(sp.SelectElements("SingleLogoutService")) == 0 || sp.SelectElement("NameIDFormat").Text() != "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" {
		t.Error("missing SingleLogoutService or transient NameIDFormat")
	}
	acs := sp.SelectElement("AssertionConsumerService")
	if acs == nil || acs.SelectAttrValue("Location", "") != f.ts.URL+mockiam.PathACS ||
		acs.SelectAttrValue("Binding", "") != "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ||
		acs.SelectAttrValue("index", "") != "0" || acs.SelectAttrValue("isDefault", "") != "true" {
		t.Error("bad AssertionConsumerService")
	}

	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{spCert}})
	if _, err := vc.Validate(root); err != nil {
		t.Errorf("goxmldsig rejects the metadata signature: %v", err)
	}

	bin := xmlsec1(t)
	dir := t.TempDir()
	certPath, mdPath := filepath.Join(dir, "sp.pem"), filepath.Join(dir, "md.xml")
	must(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: spCert.Raw}), 0o600))
	must(t, os.WriteFile(mdPath, []byte(body), 0o600))
	out, err := exec.Command(bin, "--verify", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
		"--pubkey-cert-pem", certPath, mdPath).CombinedOutput()
	if err != nil {
		t.Errorf("xmlsec1 rejects the metadata: %v\n%s", err, out)
	}

	_, unsigned := f.get(t, mockiam.PathMetadata+"?unsigned=true")
	if strings.Contains(unsigned, "Signature") || !strings.Contains(unsigned, "SPSSODescriptor") {
		t.Errorf("unsigned metadata wrong: %s", unsigned)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoginRedirectCarriesVerifiableSignature(t *testing.T) {
	f := newFixture(t)
	start := time.Now().UTC().Add(-time.Second)
	resp, _ := f.get(t, mockiam.PathLogin+"?xAccountType="+testXAT+"&isFirstLogin=true&service="+url.QueryEscape("https://console.huaweicloud.com/iam/"))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testIdPSSO {
		t.Errorf("redirect to %s, want %s", got, testIdPSSO)
	}
	if !strings.HasPrefix(loc.RawQuery, "SAMLRequest=") {
		t.Errorf("query does not start with SAMLRequest: %s", loc.RawQuery)
	}
	p := rawParams(t, loc.RawQuery)
	for _, k := range []string{"SAMLRequest", "RelayState", "SigAlg", "Signature"} {
		if p[k] == "" {
			t.Fatalf("missing %s", k)
		}
	}
	if alg, _ := url.QueryUnescape(p["SigAlg"]); alg != saml.AlgRSASHA256 {
		t.Errorf("SigAlg %s", alg)
	}
	octets := "SAMLRequest=" + p["SAMLRequest"] + "&RelayState=" + p["RelayState"] + "&SigAlg=" + p["SigAlg"]
	if err := verifyOctets(t, spCert, octets, p["Signature"]); err != nil {
		t.Errorf("redirect signature does not verify over the raw octets: %v", err)
	}

	b64, _ := url.QueryUnescape(p["SAMLRequest"])
	deflated, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	xmlBytes, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatalf("SAMLRequest is not raw DEFLATE: %v", err)
	}
	doc := etree.NewDocument()
	must(t, doc.ReadFromBytes(xmlBytes))
	req := doc.Root()
	if req.Tag != "AuthnRequest" || req.NamespaceURI() != check.NSProtocol {
		t.Fatalf("root %s", req.FullTag())
	}
	want := map[string]string{
		"Version":                     "2.0",
		"Destination":                 testIdPSSO,
		"AssertionConsumerServiceURL": f.ts.URL + mockiam.PathACS,
		"ProtocolBinding":             "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
	}
	for k, v := range want {
		if got := req.SelectAttrValue(k, ""); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if id := req.SelectAttrValue("ID", ""); !regexp.MustCompile(`^_[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("ID %q", id)
	}
	instant := req.SelectAttrValue("IssueInstant", "")
	ti, err := time.Parse(time.RFC3339Nano, instant)
	if err != nil || !strings.HasSuffix(instant, "Z") || len(instant) != len("2006-01-02T15:04:05.000Z") || ti.Before(start) {
		t.Errorf("IssueInstant %q", instant)
	}
	if iss := req.SelectElement("Issuer"); iss == nil || iss.Text() != f.srv.EntityID() {
		t.Errorf("Issuer wrong")
	}
	if pol := req.SelectElement("NameIDPolicy"); pol == nil || pol.SelectAttrValue("Format", "") != check.NameIDTransient || pol.SelectAttrValue("AllowCreate", "") != "true" {
		t.Errorf("NameIDPolicy wrong")
	}
}

func TestLoginRefusesWrongXAccountType(t *testing.T) {
	f := newFixture(t)
	resp, body := f.get(t, mockiam.PathLogin+"?xAccountType=OTHER&service=x")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "OTHER") || !strings.Contains(body, testXAT) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, "Mock Huawei Cloud IAM (cn)") {
		t.Error("page does not say it is the mock")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9") {
		t.Errorf("CSP %q", csp)
	}
}

// login starts a login and returns the RelayState and request ID.
func (f *fixture) login(t *testing.T, opts mockiam.RequestOptions) (relay, id string) {
	t.Helper()
	u, id, err := f.srv.NewAuthnRequestURL(opts)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(u)
	return loc.Query().Get("RelayState"), id
}

func (f *fixture) response(t *testing.T, id string, mutate func(*checktest.Options)) string {
	t.Helper()
	o := checktest.Options{
		Key:          idpKey,
		Cert:         idpCert,
		IdPEntityID:  testIdPEntity,
		Destination:  f.srv.ACSURL(),
		Audience:     f.srv.EntityID(),
		InResponseTo: id,
		Attributes:   checktest.DefaultAttributes("cust-0042", testBpID),
	}
	if mutate != nil {
		mutate(&o)
	}
	doc, err := checktest.Response(o)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(doc)
}

func TestACSAcceptsOnceAndRefusesReplay(t *testing.T) {
	f := newFixture(t)
	relay, id := f.login(t, mockiam.RequestOptions{})
	samlResponse := f.response(t, id, func(o *checktest.Options) { o.ResponseID = "_replayme" })
	form := url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relay}}

	resp, body := f.post(t, mockiam.PathACS, form)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Create and bind") || !strings.Contains(body, "cust-0042") {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if r := f.srv.LastResult(); r == nil || !r.OK || r.Attributes["xAccountId"] != "cust-0042" {
		t.Fatalf("LastResult %+v", r)
	}
	_, lastJSON := f.get(t, mockiam.PathLast)
	var last struct {
		Accepted    bool              `json:"accepted"`
		Attributes  map[string]string `json:"attributes"`
		ResponseXML string            `json:"responseXml"`
	}
	must(t, json.Unmarshal([]byte(lastJSON), &last))
	if !last.Accepted || last.Attributes["bpId"] != testBpID || !strings.Contains(last.ResponseXML, "_replayme") {
		t.Errorf("last outcome %s", lastJSON)
	}

	// The same POST again: the RelayState is consumed.
	resp, body = f.post(t, mockiam.PathACS, form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Unknown RelayState") {
		t.Fatalf("replay: status %d, body %s", resp.StatusCode, body)
	}

	// A fresh login state for the same request ID: the Response ID was used.
	relay2, _ := f.login(t, mockiam.RequestOptions{ID: id})
	resp, body = f.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relay2}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "replay.response_id") {
		t.Fatalf("replayed Response ID: status %d, body %s", resp.StatusCode, body)
	}

	// A new Response ID answering the same request: InResponseTo was used.
	relay3, _ := f.login(t, mockiam.RequestOptions{ID: id})
	resp, body = f.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {f.response(t, id, nil)}, "RelayState": {relay3}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "replay.in_response_to") {
		t.Fatalf("replayed InResponseTo: status %d, body %s", resp.StatusCode, body)
	}
}

func TestACSShowsFindings(t *testing.T) {
	f := newFixture(t)
	relay, id := f.login(t, mockiam.RequestOptions{})
	bad := f.response(t, id, func(o *checktest.Options) {
		o.Audience = "https://auth.huaweicloud.com/"
		o.Attributes[0].Value = "someone-else"
	})
	resp, body := f.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {bad}, "RelayState": {relay}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"conditions.audience", "attr.xUserId.mismatch", "https://auth.huaweicloud.com/", "SAML Response refused"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if r := f.srv.LastResult(); r == nil || r.OK || !r.Has("conditions.audience") {
		t.Errorf("LastResult %+v", r)
	}
	_, lastJSON := f.get(t, mockiam.PathLast)
	if !strings.Contains(lastJSON, `"accepted": false`) || !strings.Contains(lastJSON, "attr.xUserId.mismatch") {
		t.Errorf("last %s", lastJSON)
	}
	if len(f.srv.Bindings()) != 0 {
		t.Error("a refused Response created a binding")
	}
}

func TestACSRefusesUnknownRelayStateAndForgedSignature(t *testing.T) {
	f := newFixture(t)
	_, id := f.login(t, mockiam.RequestOptions{})
	resp, _ := f.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {f.response(t, id, nil)}, "RelayState": {"never-issued"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown RelayState: status %d", resp.StatusCode)
	}
	relay, id := f.login(t, mockiam.RequestOptions{})
	forged := f.response(t, id, func(o *checktest.Options) { o.Key = otherKey })
	resp, body := f.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {forged}, "RelayState": {relay}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "signature.invalid") {
		t.Errorf("forged: status %d body %s", resp.StatusCode, body)
	}
	resp, _ = f.get(t, mockiam.PathACS)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET ACS: status %d, want 405", resp.StatusCode)
	}
}

var (
	hiddenRE = regexp.MustCompile(`name="(pending|csrf)" value="([0-9a-f]+)"`)
	notifyRE = regexp.MustCompile(`<input type="hidden" name="(bindRequest|SigAlg|Signature)" value="([^"]*)">`)
	nonceRE  = regexp.MustCompile(`<script nonce="([0-9a-f]+)">document.getElementById\("notify"\).submit\(\);</script>`)
)

// bindPage logs in cust-0042 (unbound) and returns the "Create and bind"
// form's fields.
func (f *fixture) bindPage(t *testing.T) url.Values {
	t.Helper()
	relay, id := f.login(t, mockiam.RequestOptions{})
	_, page := f.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {f.response(t, id, nil)}, "RelayState": {relay}})
	fields := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		fields.Set(m[1], m[2])
	}
	if fields.Get("pending") == "" || fields.Get("csrf") == "" {
		t.Fatalf("bind page lacks the hidden fields:\n%s", page)
	}
	return fields
}

// notification reads the auto-submitting notification page: its form
// action and fields (HTML-unescaped).
func notification(t *testing.T, resp *http.Response, page string) (action string, n url.Values) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("notification page: status %d\n%s", resp.StatusCode, page)
	}
	m := regexp.MustCompile(`<form method="post" action="([^"]*)" id="notify">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no notification form:\n%s", page)
	}
	n = url.Values{}
	for _, f := range notifyRE.FindAllStringSubmatch(page, -1) {
		n.Set(f[1], html.UnescapeString(f[2]))
	}
	return html.UnescapeString(m[1]), n
}

// decodeBindDocument decodes a bindRequest value strictly.
func decodeBindDocument(t *testing.T, b64 string) (mockiam.BindDocument, []byte) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	must(t, err)
	var doc mockiam.BindDocument
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	must(t, dec.Decode(&doc))
	return doc, raw
}

// TestBindNotifiesByAutoSubmittingFormPost: "Create and bind" answers with
// the documented notification: a page whose form POSTs bindRequest, SigAlg
// and Signature to the Notification URL, submitted by a nonce'd script or
// by its visible button, signed over the bindRequest value (convention a).
func TestBindNotifiesByAutoSubmittingFormPost(t *testing.T) {
	f := newFixture(t)
	fields := f.bindPage(t)

	// A wrong token is refused and consumes nothing.
	resp, _ := f.post(t, mockiam.PathBind, url.Values{"pending": {fields.Get("pending")}, "csrf": {strings.Repeat("0", 32)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bad csrf: status %d", resp.StatusCode)
	}

	resp, page := f.post(t, mockiam.PathBind, fields)
	action, n := notification(t, resp, page)
	if action != testBindURL {
		t.Errorf("form action %s, want the Notification URL %s", action, testBindURL)
	}
	if !strings.Contains(page, `<button type="submit">`) {
		t.Error("no visible submit button for browsers without JavaScript")
	}
	m := nonceRE.FindStringSubmatch(page)
	csp := resp.Header.Get("Content-Security-Policy")
	if m == nil || !strings.Contains(csp, "script-src 'nonce-"+m[1]+"'") || !strings.Contains(csp, "form-action 'self' http://127.0.0.1:9;") {
		t.Errorf("auto-submit script and CSP do not match: %q", csp)
	}
	if n.Get("SigAlg") != saml.AlgRSASHA256 {
		t.Errorf("SigAlg %q", n.Get("SigAlg"))
	}
	if err := verifyOctets(t, spCert, n.Get("bindRequest"), url.QueryEscape(n.Get("Signature"))); err != nil {
		t.Errorf("Signature does not verify over the bindRequest value: %v", err)
	}
	doc, raw := decodeBindDocument(t, n.Get("bindRequest"))
	if !regexp.MustCompile(`^\{"domainName":"hw[0-9a-z]{8}","domainId":"[0-9a-f]{32}","xUserId":"cust-0042","bindAction":"0"\}$`).Match(raw) {
		t.Errorf("bind document %s, want the documented fields in order", raw)
	}
	if n := len(doc.DomainName); n < check.MinNameLen || n > check.MaxNameLen || !check.NameRE.MatchString(doc.DomainName) {
		t.Errorf("domainName %q breaks the name rule", doc.DomainName)
	}
	if f.srv.Bindings()["cust-0042"] != doc.DomainID {
		t.Errorf("Bindings() = %v", f.srv.Bindings())
	}

	// The same form again is refused (single use).
	if resp, _ := f.post(t, mockiam.PathBind, fields); resp.StatusCode != http.StatusForbidden {
		t.Errorf("second bind: status %d", resp.StatusCode)
	}

	// The browser now has a console session, which offers "Unbind".
	resp, body := f.get(t, mockiam.PathConsole)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "signed in as <code>cust-0042</code>") || !strings.Contains(body, doc.DomainName) ||
		!strings.Contains(body, `action="`+mockiam.PathUnbind+`"`) {
		t.Errorf("console: status %d body %s", resp.StatusCode, body)
	}
}

// TestBindNotificationOptions: the tests' options, convention (b) and GET.
func TestBindNotificationOptions(t *testing.T) {
	t.Run("query convention by POST", func(t *testing.T) {
		f := newFixtureWith(t, func(c *mockiam.Config) { c.BindConvention = mockiam.ConventionQuery })
		resp, page := f.post(t, mockiam.PathBind, f.bindPage(t))
		_, n := notification(t, resp, page)
		// What the browser will send: the form-encoded values.
		octets := "bindRequest=" + url.QueryEscape(n.Get("bindRequest")) + "&SigAlg=" + url.QueryEscape(n.Get("SigAlg"))
		if err := verifyOctets(t, spCert, octets, url.QueryEscape(n.Get("Signature"))); err != nil {
			t.Errorf("Signature does not verify over %s: %v", octets, err)
		}
	})
	t.Run("GET redirect", func(t *testing.T) {
		f := newFixtureWith(t, func(c *mockiam.Config) { c.BindByGET = true })
		resp, _ := f.post(t, mockiam.PathBind, f.bindPage(t))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("bind: status %d, want a redirect", resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		must(t, err)
		if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testBindURL {
			t.Errorf("redirect to %s, want %s", got, testBindURL)
		}
		p := rawParams(t, loc.RawQuery)
		if !strings.HasPrefix(loc.RawQuery, "bindRequest="+p["bindRequest"]+"&SigAlg="+p["SigAlg"]+"&Signature=") {
			t.Errorf("query not in bindRequest, SigAlg, Signature order: %s", loc.RawQuery)
		}
		if err := verifyOctets(t, spCert, loc.Query().Get("bindRequest"), p["Signature"]); err != nil {
			t.Errorf("Signature does not verify over the bindRequest value: %v", err)
		}
		if doc, _ := decodeBindDocument(t, loc.Query().Get("bindRequest")); doc.BindAction != mockiam.BindActionBind || doc.XUserID != "cust-0042" {
			t.Errorf("document %+v", doc)
		}
	})
	t.Run("unknown convention", func(t *testing.T) {
		keys(t)
		if _, err := mockiam.New(mockiam.Config{Site: "cn", BaseURL: "http://127.0.0.1:1", XAccountType: "ZXT", Key: spKey, Cert: spCert,
			BindConvention: "json"}); err == nil {
			t.Error("an unknown convention was accepted")
		}
	})
}

// TestUnbindFromTheConsole: the console's "Unbind" removes the binding,
// ends the console session and notifies the IdP with bindAction "1" for
// the same account.
func TestUnbindFromTheConsole(t *testing.T) {
	f := newFixture(t)
	resp, page := f.post(t, mockiam.PathBind, f.bindPage(t))
	_, n := notification(t, resp, page)
	bound, _ := decodeBindDocument(t, n.Get("bindRequest"))
	_, console := f.get(t, mockiam.PathConsole)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(console)
	if m == nil {
		t.Fatalf("no unbind form:\n%s", console)
	}
	if resp, _ := f.post(t, mockiam.PathUnbind, url.Values{"csrf": {strings.Repeat("0", 32)}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unbind with a wrong token: %d", resp.StatusCode)
	}
	if len(f.srv.Bindings()) != 1 {
		t.Fatal("a refused unbind removed the binding")
	}
	resp, page = f.post(t, mockiam.PathUnbind, url.Values{"csrf": {m[1]}})
	action, n := notification(t, resp, page)
	if action != testBindURL {
		t.Errorf("form action %s", action)
	}
	doc, _ := decodeBindDocument(t, n.Get("bindRequest"))
	if doc.BindAction != mockiam.BindActionUnbind || doc.DomainID != bound.DomainID || doc.DomainName != bound.DomainName || doc.XUserID != "cust-0042" {
		t.Errorf("unbind document %+v, bound %+v", doc, bound)
	}
	if err := verifyOctets(t, spCert, n.Get("bindRequest"), url.QueryEscape(n.Get("Signature"))); err != nil {
		t.Errorf("unbind signature: %v", err)
	}
	if len(f.srv.Bindings()) != 0 {
		t.Errorf("Bindings() after unbind = %v", f.srv.Bindings())
	}
	if resp, _ := f.get(t, mockiam.PathConsole); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("console after unbind: %d, want the session ended", resp.StatusCode)
	}
	// The next login offers to bind again.
	f.bindPage(t)
}

// TestBindingsSurviveRestart: with a StateFile, a new mock on the same
// file knows the bindings (the demo restarted on its data directory).
func TestBindingsSurviveRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "mock-iam-state.json")
	f := newFixtureWith(t, func(c *mockiam.Config) { c.StateFile = state })
	f.post(t, mockiam.PathBind, f.bindPage(t))
	must(t, f.srv.MarkBound("cust-0099", "0123456789abcdef0123456789abcdef", "hwexample9"))
	want := f.srv.Bindings()
	if len(want) != 2 {
		t.Fatalf("Bindings() = %v", want)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	again := newFixtureWith(t, func(c *mockiam.Config) { c.StateFile = state })
	if got := again.srv.Bindings(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after a restart Bindings() = %v, want %v", got, want)
	}
	// Bound, so the next login goes straight to the console.
	relay, id := again.login(t, mockiam.RequestOptions{})
	resp, _ := again.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {again.response(t, id, nil)}, "RelayState": {relay}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != mockiam.PathConsole {
		t.Errorf("login after restart: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A broken state file is an error at start, not an empty mock.
	must(t, os.WriteFile(state, []byte("{broken"), 0o600))
	keys(t)
	if _, err := mockiam.New(mockiam.Config{Site: "cn", BaseURL: "http://127.0.0.1:1", XAccountType: "ZXT", Key: spKey, Cert: spCert, StateFile: state}); err == nil {
		t.Error("a broken state file was accepted")
	}
}

func TestBoundAccountGoesToConsole(t *testing.T) {
	f := newFixture(t)
	must(t, f.srv.MarkBound("cust-0042", "0123456789abcdef0123456789abcdef", "hwexample1"))
	resp, _ := f.get(t, mockiam.PathConsole)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("console without session: status %d", resp.StatusCode)
	}
	relay, id := f.login(t, mockiam.RequestOptions{})
	resp, _ = f.post(t, mockiam.PathACS, url.Values{"SAMLResponse": {f.response(t, id, nil)}, "RelayState": {relay}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != mockiam.PathConsole {
		t.Fatalf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := f.get(t, mockiam.PathConsole)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "hwexample1") || !strings.Contains(body, "Mock Huawei Cloud IAM (cn)") {
		t.Errorf("console: %d %s", resp.StatusCode, body)
	}
}

func TestSignedBindURLRoundTrip(t *testing.T) {
	doc := []byte(`{"domainName":"a+b/c=","domainId":"d","xUserId":"x?&","bindAction":"0"}`)
	for name, tc := range map[string]struct {
		convention string
		key        *rsa.PrivateKey
		verify     bool
	}{
		"own key":          {mockiam.ConventionValue, nil, true},
		"forged key":       {mockiam.ConventionValue, otherKey, false},
		"own key arg":      {mockiam.ConventionValue, spKey, true},
		"query convention": {mockiam.ConventionQuery, nil, true},
		"query forged":     {mockiam.ConventionQuery, otherKey, false},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixtureWith(t, func(c *mockiam.Config) { c.BindConvention = tc.convention })
			loc, err := url.Parse(f.srv.SignedBindURL(doc, tc.key))
			must(t, err)
			p := rawParams(t, loc.RawQuery)
			message := loc.Query().Get("bindRequest")
			if tc.convention == mockiam.ConventionQuery {
				message = "bindRequest=" + p["bindRequest"] + "&SigAlg=" + p["SigAlg"]
			}
			err = verifyOctets(t, spCert, message, p["Signature"])
			if (err == nil) != tc.verify {
				t.Fatalf("verify error %v, want success=%v", err, tc.verify)
			}
			got, err := base64.StdEncoding.DecodeString(loc.Query().Get("bindRequest"))
			must(t, err)
			if !bytes.Equal(got, doc) {
				t.Fatalf("round trip: %s", got)
			}
		})
	}
}

func TestRequestOptionsForgeVariants(t *testing.T) {
	f := newFixture(t)
	u, id, err := f.srv.NewAuthnRequestURL(mockiam.RequestOptions{
		ID: "_forged", OmitRelayState: true, SignWith: otherKey, ForceAuthn: true,
		ACSURL: "https://evil.example/acs", Destination: "http://127.0.0.1:9/other",
	})
	must(t, err)
	if id != "_forged" {
		t.Errorf("id %q", id)
	}
	loc, _ := url.Parse(u)
	p := rawParams(t, loc.RawQuery)
	if _, ok := p["RelayState"]; ok {
		t.Error("RelayState present")
	}
	if err := verifyOctets(t, spCert, "SAMLRequest="+p["SAMLRequest"]+"&SigAlg="+p["SigAlg"], p["Signature"]); err == nil {
		t.Error("signature by another key verified with the SP certificate")
	}
	if loc.Path != "/other" {
		t.Errorf("destination override ignored: %s", u)
	}
	u, _, err = f.srv.NewAuthnRequestURL(mockiam.RequestOptions{Unsigned: true})
	must(t, err)
	if strings.Contains(u, "Signature=") || strings.Contains(u, "SigAlg=") {
		t.Errorf("unsigned request carries a signature: %s", u)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	keys(t)
	good := mockiam.Config{Site: "eu", BaseURL: "http://127.0.0.1:1", XAccountType: "ZXT", Key: spKey, Cert: spCert}
	if _, err := mockiam.New(good); err != nil {
		t.Fatalf("good config refused: %v", err)
	}
	for name, mut := range map[string]func(*mockiam.Config){
		"site":           func(c *mockiam.Config) { c.Site = "us" },
		"trailing slash": func(c *mockiam.Config) { c.BaseURL += "/" },
		"no key":         func(c *mockiam.Config) { c.Key = nil },
		"cert mismatch":  func(c *mockiam.Config) { c.Cert = idpCert },
		"no xAccountType": func(c *mockiam.Config) {
			c.XAccountType = ""
		},
	} {
		c := good
		mut(&c)
		if _, err := mockiam.New(c); err == nil {
			t.Errorf("%s: config accepted", name)
		}
	}
}

// A service under the console (the launch API's service=…/console/ecs) is
// the console page too, not a 404.
func TestConsoleServesPathsUnderIt(t *testing.T) {
	f := newFixture(t)
	resp, page := f.post(t, mockiam.PathBind, f.bindPage(t))
	notification(t, resp, page)
	for _, p := range []string{mockiam.PathConsole, mockiam.PathConsole + "/ecs"} {
		if resp, body := f.get(t, p); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="csrf"`) {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
}
