package server

// The attack corpus (testdata/attacks/*.json) run against the real handler.
// Each case names the docs/threat-model.md rule it exercises, says how to build the
// input from a correct Huawei-style request (or bind callback) and what must
// come out: the status, the refusal reason (on the error page and in the
// log), no 5xx, no SAMLResponse on a refusal, and no row written in any
// table; accepted cases say which Response they get and what they write.

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"hcidp/saml"
	"hcidp/storage"
)

// attackCase is one entry of testdata/attacks/*.json.
type attackCase struct {
	Name string `json:"name"`
	// Rule cites docs/threat-model.md (or docs/profile.md) for the behaviour under test.
	Rule string `json:"rule"`
	// Endpoint is "sso" (default) or "bind".
	Endpoint string `json:"endpoint"`
	// Session signs this customer in first ("alice", "bob"); "" = none.
	Session string `json:"session"`
	// Repeat sends the request twice; the first must be accepted and the
	// expectations apply to the second (replays).
	Repeat bool `json:"repeat"`

	Request *requestSpec `json:"request"`
	Bind    *bindSpec    `json:"bind"`

	// RelayState is sent when set (default "rs-0123456789"); OmitRelayState sends none.
	RelayState     *string `json:"relay_state"`
	OmitRelayState bool    `json:"omit_relay_state"`
	// SigAlg defaults to rsa-sha256; the signature uses its hash (sha256
	// for unknown URIs such as "none").
	SigAlg string `json:"sig_alg"`
	// Key signs: "sp" (default, the trusted SP), "other" (forgery) or
	// "none" (no SigAlg and no Signature).
	Key string `json:"key"`
	// LowerEscapes writes every %XX escape in lower case before signing
	// (a valid encoding the SP may use: must be accepted).
	LowerEscapes bool `json:"lower_escapes"`
	// LowerEscapesAfterSign does the same after signing: the same decoded
	// values, other octets, so the signature must fail.
	LowerEscapesAfterSign bool `json:"lower_escapes_after_sign"`
	// RelayStateLen sends a RelayState of this many bytes.
	RelayStateLen int `json:"relay_state_len"`
	// Order is the order parameters are sent in (default canonical).
	Order []string `json:"order"`
	// Omit drops these parameters after signing.
	Omit []string `json:"omit"`
	// Tamper replaces these parameters' raw (encoded) values after signing.
	Tamper map[string]string `json:"tamper"`
	// Duplicate repeats these parameters (same raw value) at the end.
	Duplicate []string `json:"duplicate"`
	// Extra is raw text appended to the signed query ("&x=1", ";x=1").
	Extra string `json:"extra"`
	// PadURL appends an ignored parameter of this many bytes.
	PadURL int `json:"pad_url"`
	// RawQuery replaces the whole query verbatim.
	RawQuery *string `json:"raw_query"`

	Want attackWant `json:"want"`
}

// requestSpec builds the AuthnRequest. Pointer fields default to the values
// of a correct request; "" omits the attribute or element.
type requestSpec struct {
	ID                 *string `json:"id"`
	IssueInstantOffset string  `json:"issue_instant_offset"` // Go duration added to now, e.g. "-9m"
	IssueInstant       string  `json:"issue_instant"`        // literal, overrides the offset
	Destination        *string `json:"destination"`
	ACS                *string `json:"acs"`
	ACSIndex           string  `json:"acs_index"`
	ProtocolBinding    *string `json:"protocol_binding"`
	Issuer             *string `json:"issuer"`
	IssuerFormat       string  `json:"issuer_format"`
	Version            *string `json:"version"`
	NameIDFormat       *string `json:"name_id_format"`
	ForceAuthn         string  `json:"force_authn"`
	IsPassive          string  `json:"is_passive"`
	// Inner is raw XML inserted as the last children of the root.
	Inner string `json:"inner"`
	// Prolog is raw text put before the root element (DOCTYPE, PIs).
	Prolog *string `json:"prolog"`
	// Replace applies [old, new] text replacements to the built document.
	Replace [][2]string `json:"replace"`
	// XML is the whole document; {{ID}}, {{NOW}}, {{SSO}}, {{ACS}} and
	// {{ISSUER}} are filled in.
	XML string `json:"xml"`
	// Encoding is "deflate" (default), "zlib", "gzip" or "none".
	Encoding string `json:"encoding"`
	// BombBytes replaces the document by this many deflated zero bytes.
	BombBytes int `json:"bomb_bytes"`
	// Base64 is "std" (default) or "invalid".
	Base64 string `json:"base64"`
}

// bindSpec builds a bind-result notification and the state it meets.
type bindSpec struct {
	// Document is the JSON document (default: alice binds 0a1b2c3d4e5f,
	// as Huawei documents it).
	Document json.RawMessage `json:"document"`
	// Raw is the document text verbatim (bad JSON).
	Raw *string `json:"raw"`
	// Base64 is "std" (default), "rawstd", "url", "rawurl" or "invalid".
	Base64 string `json:"base64"`
	// PadDocument adds a field of this many bytes.
	PadDocument int `json:"pad_document"`
	// Method is "GET" (default: the query) or "POST" (the body).
	Method string `json:"method"`
	// Body is the POST encoding: "urlencoded" (default) or "multipart";
	// ContentType, when set, replaces the Content-Type header.
	Body        string `json:"body"`
	ContentType string `json:"content_type"`
	// PadBody appends an ignored field of this many bytes to a POST body.
	PadBody int `json:"pad_body"`
	// Convention is the signed message: "query" (default: the raw
	// "bindRequest=..&SigAlg=.." octets), "value" (the base64 text) or
	// "json" (the decoded document: neither convention).
	Convention string `json:"convention"`
	// SignDocument, when set, is the document the signature is made over
	// (a genuine signature of another document: a swap).
	SignDocument json.RawMessage `json:"sign_document"`
	// SSO is the customer an assertion for site cn was issued to before the
	// notification (default "alice"; "none" for nobody), SSOAge how long
	// ago (default "10m"), SSOSite for which site (default "cn").
	SSO     string `json:"sso"`
	SSOAge  string `json:"sso_age"`
	SSOSite string `json:"sso_site"`
	// Bound, when set, binds alice on cn to this domainId first.
	Bound string `json:"bound"`
}

type attackWant struct {
	Status int `json:"status"`
	// Reason is the refusal reason; set for every refused case.
	Reason string `json:"reason"`
	// Result for accepted cases: "success" (Response with an Assertion),
	// "NoPassive" / "InvalidNameIDPolicy" (signed error Response, no
	// Assertion), "login" (sent to the login page), or for a notification
	// the outcome of the stored event: "bound", "rebound", "unchanged",
	// "unbound".
	Result string `json:"result"`
	// Convention is the convention a notification's event must record.
	Convention string `json:"convention"`
	// Delta is the expected row-count change of an accepted case (tables
	// not named must not change); refusals always expect none.
	Delta map[string]int `json:"delta"`
	// Contains and Excludes are checked against the response body.
	Contains []string `json:"contains"`
	Excludes []string `json:"excludes"`
	// MaxAllocMiB bounds the memory allocated while handling the request.
	MaxAllocMiB int `json:"max_alloc_mib"`
}

func loadAttackCases(t *testing.T) []attackCase {
	t.Helper()
	files, err := filepath.Glob("testdata/attacks/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no attack corpus in testdata/attacks: %v", err)
	}
	var all []attackCase
	names := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var cs []attackCase
		if err := dec.Decode(&cs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cs {
			if c.Name == "" || c.Rule == "" || c.Want.Status == 0 {
				t.Fatalf("%s: case %q needs name, rule and want.status", f, c.Name)
			}
			if c.Want.Status >= 400 && c.Want.Reason == "" {
				t.Fatalf("%s: refused case %q needs want.reason", f, c.Name)
			}
			if names[c.Name] {
				t.Fatalf("%s: case name %q used twice", f, c.Name)
			}
			names[c.Name] = true
			all = append(all, c)
		}
	}
	return all
}

// TestAttackCorpus runs every case through the real handler. Cases run one
// after another (not in parallel) so that memory measurements are theirs.
func TestAttackCorpus(t *testing.T) {
	for _, c := range loadAttackCases(t) {
		t.Run(c.Name, func(t *testing.T) { runAttackCase(t, c) })
	}
}

func runAttackCase(t *testing.T, c attackCase) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	if c.Session != "" {
		cl.mustLogin(c.Session)
	}
	e.prepareBindState(t, c)
	send := e.buildAttackRequest(t, c)
	if c.Repeat {
		first := cl.do(send())
		if first.StatusCode >= 400 {
			t.Fatalf("first (legitimate) request refused: %d\n%s", first.StatusCode, first.Body)
		}
	}
	before := e.snapshot()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	res := cl.do(send())
	runtime.ReadMemStats(&m1)
	after := e.snapshot()
	delta := before.delta(after)

	if res.StatusCode >= 500 {
		t.Fatalf("5xx for attacker input: %d\n%s\nlog:\n%s", res.StatusCode, res.Body, e.logs.String())
	}
	if res.StatusCode != c.Want.Status {
		t.Fatalf("status %d, want %d (rule: %s)\nbody: %s\nlog:\n%s", res.StatusCode, c.Want.Status, c.Rule, res.Body, e.logs.String())
	}
	if c.Want.Reason != "" {
		if !strings.Contains(res.Body, fmt.Sprintf("<code>%d %s</code>", c.Want.Status, c.Want.Reason)) {
			t.Errorf("error page does not show reason %s:\n%s\nlog:\n%s", c.Want.Reason, res.Body, e.logs.String())
		}
		if !strings.Contains(e.logs.String(), "reason="+c.Want.Reason) {
			t.Errorf("log does not record reason %s:\n%s", c.Want.Reason, e.logs.String())
		}
	}
	if res.StatusCode >= 400 {
		if strings.Contains(res.Body, "SAMLResponse") {
			t.Error("a refusal carries a SAMLResponse")
		}
		if len(delta) != 0 {
			t.Errorf("a refusal wrote to the database: %v", delta)
		}
		for _, ck := range res.Cookies() { // an idle-timeout renewal re-sends the same token
			if sent, ok := cl.sent[ck.Name]; !ok || sent != ck.Value {
				t.Errorf("a refusal changed the session cookie: %s", ck)
			}
		}
	} else {
		want := map[string]int{}
		maps.Copy(want, c.Want.Delta)
		delete(delta, "sessions_changed") // idle-timeout renewals and pending flows
		delete(want, "sessions_changed")
		if !maps.Equal(delta, want) {
			t.Errorf("rows written = %v, want %v", delta, want)
		}
		checkAttackResult(t, e, c, res, cl)
	}
	for _, s := range c.Want.Contains {
		if !strings.Contains(res.Body, s) {
			t.Errorf("body lacks %q:\n%s", s, res.Body)
		}
	}
	for _, s := range c.Want.Excludes {
		if strings.Contains(res.Body, s) {
			t.Errorf("body contains %q:\n%s", s, res.Body)
		}
	}
	if c.Want.MaxAllocMiB > 0 {
		if got := m1.TotalAlloc - m0.TotalAlloc; got > uint64(c.Want.MaxAllocMiB)<<20 {
			t.Errorf("handling the request allocated %.1f MiB, want at most %d MiB", float64(got)/(1<<20), c.Want.MaxAllocMiB)
		}
	}
}

// checkAttackResult checks what an accepted case produced.
func checkAttackResult(t *testing.T, e *hardenEnv, c attackCase, res *hxResp, cl *hxClient) {
	t.Helper()
	doc, _, _ := postForm(res.Body)
	switch c.Want.Result {
	case "success", "NoPassive", "InvalidNameIDPolicy":
		if doc == nil {
			t.Fatalf("no SAMLResponse on the page:\n%s", res.Body)
		}
		x := string(doc)
		hasAssertion := assertionRE.MatchString(x)
		if c.Want.Result == "success" {
			if !strings.Contains(x, `StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"`) || !hasAssertion {
				t.Errorf("want a successful Response with an Assertion:\n%s", x)
			}
		} else {
			if hasAssertion || !strings.Contains(x, `Value="urn:oasis:names:tc:SAML:2.0:status:`+c.Want.Result+`"`) {
				t.Errorf("want an error Response %s without an Assertion:\n%s", c.Want.Result, x)
			}
		}
		if !strings.Contains(x, `<ds:Signature`) && c.Want.Result == "success" {
			t.Errorf("Response is not signed:\n%s", x)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("auto-POST page Cache-Control = %q", cc)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action https://auth.huaweicloud.com;") {
			t.Errorf("auto-POST page CSP = %q", csp)
		}
	case "login":
		if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/login?flow=") {
			t.Errorf("want a redirect to the login page, got Location %q", loc)
		}
	case "bound", "rebound", "unchanged", "unbound":
		checkBindResult(t, e, c, res, cl)
	default:
		t.Fatalf("unknown want.result %q", c.Want.Result)
	}
}

var assertionRE = regexp.MustCompile(`<(\w+:)?Assertion[\s>]`)

// buildAttackRequest returns a function making the request of c (afresh
// for each send), signing as c says.
func (e *hardenEnv) buildAttackRequest(t *testing.T, c attackCase) func() *http.Request {
	t.Helper()
	target, body, contentType := e.buildAttack(t, c)
	method := http.MethodGet
	if c.Bind != nil && c.Bind.Method != "" {
		method = c.Bind.Method
	}
	return func() *http.Request {
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		if method == http.MethodPost {
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Origin", "https://auth.huaweicloud.com") // cross-site, as Huawei's page posts it
		}
		return req
	}
}

// buildAttack builds the URL of c and, for a POSTed notification, its body.
func (e *hardenEnv) buildAttack(t *testing.T, c attackCase) (target string, body []byte, contentType string) {
	t.Helper()
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "sso"
	}
	path := map[string]string{"sso": "/saml/sso", "bind": "/saml/bind"}[endpoint]
	if path == "" {
		t.Fatalf("unknown endpoint %q", endpoint)
	}
	bs := c.Bind
	if bs == nil {
		bs = &bindSpec{}
	}
	post := endpoint == "bind" && bs.Method == http.MethodPost
	multipartBody := post && bs.Body == "multipart"
	if c.RawQuery != nil {
		return e.origin + path + "?" + *c.RawQuery, nil, ""
	}
	// enc is the wire encoding of a value: percent-encoding in a query or
	// an urlencoded body, none in a multipart body.
	enc := url.QueryEscape
	if multipartBody {
		enc = func(s string) string { return s }
	}
	type param struct{ name, raw string }
	var params []param
	var bindValue string
	switch endpoint {
	case "sso":
		params = append(params, param{"SAMLRequest", url.QueryEscape(e.buildSAMLRequest(t, c.Request))})
		if !c.OmitRelayState {
			rs := "rs-0123456789"
			if c.RelayState != nil {
				rs = *c.RelayState
			}
			if c.RelayStateLen > 0 {
				rs = strings.Repeat("r", c.RelayStateLen)
			}
			params = append(params, param{"RelayState", url.QueryEscape(rs)})
		}
	case "bind":
		bindValue = buildBindRequest(t, bs)
		params = append(params, param{"bindRequest", enc(bindValue)})
	}
	alg := c.SigAlg
	if alg == "" {
		alg = saml.AlgRSASHA256
	}
	params = append(params, param{"SigAlg", enc(alg)})
	if c.LowerEscapes {
		for i := range params {
			params[i].raw = lowerEscapes(params[i].raw)
		}
	}
	var key *rsa.PrivateKey
	switch c.Key {
	case "", "sp":
		key = hxKeys().sp
	case "other":
		key = hxKeys().other
	case "none":
	default:
		t.Fatalf("unknown key %q", c.Key)
	}
	if key != nil {
		signed := params
		if bs.SignDocument != nil { // a genuine signature of another document
			other := *bs
			other.Document, other.Raw, other.PadDocument = bs.SignDocument, nil, 0
			bindValue = buildBindRequest(t, &other)
			signed = append([]param{{"bindRequest", enc(bindValue)}}, params[1:]...)
		}
		var octets []string
		for _, p := range signed { // already in canonical order
			octets = append(octets, p.name+"="+p.raw)
		}
		message := strings.Join(octets, "&")
		switch bs.Convention {
		case "", "query":
		case "value":
			message = bindValue
		case "json": // neither convention: the decoded document
			doc, _ := decodeBase64Any(bindValue)
			message = string(doc)
		default:
			t.Fatalf("unknown convention %q", bs.Convention)
		}
		h := map[string]crypto.Hash{saml.AlgRSASHA1: crypto.SHA1, saml.AlgRSASHA384: crypto.SHA384, saml.AlgRSASHA512: crypto.SHA512}[strings.ToLower(alg)]
		if h == 0 {
			h = crypto.SHA256
		}
		sig := enc(signQuery(t, key, h, message))
		if c.LowerEscapes {
			sig = lowerEscapes(sig)
		}
		params = append(params, param{"Signature", sig})
	} else {
		params = slices.DeleteFunc(params, func(p param) bool { return p.name == "SigAlg" })
	}
	if c.LowerEscapesAfterSign {
		for i := range params {
			if params[i].name != "Signature" {
				params[i].raw = lowerEscapes(params[i].raw)
			}
		}
	}
	params = slices.DeleteFunc(params, func(p param) bool { return slices.Contains(c.Omit, p.name) })
	for i, p := range params {
		if v, ok := c.Tamper[p.name]; ok {
			params[i].raw = v
		}
	}
	if len(c.Order) > 0 {
		rank := func(n string) int {
			if i := slices.Index(c.Order, n); i >= 0 {
				return i
			}
			return len(c.Order)
		}
		slices.SortStableFunc(params, func(a, b param) int { return rank(a.name) - rank(b.name) })
	}
	for _, d := range c.Duplicate {
		for _, p := range params {
			if p.name == d {
				params = append(params, p)
				break
			}
		}
	}
	if multipartBody {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, p := range params {
			mw.WriteField(p.name, p.raw)
		}
		if bs.PadBody > 0 {
			mw.WriteField("pad", strings.Repeat("a", bs.PadBody))
		}
		mw.Close()
		contentType = mw.FormDataContentType()
		if bs.ContentType != "" {
			contentType = bs.ContentType
		}
		return e.origin + path, buf.Bytes(), contentType
	}
	var parts []string
	for _, p := range params {
		parts = append(parts, p.name+"="+p.raw)
	}
	q := strings.Join(parts, "&") + c.Extra
	if c.PadURL > 0 {
		q += "&pad=" + strings.Repeat("a", c.PadURL)
	}
	if post {
		if bs.PadBody > 0 {
			q += "&pad=" + strings.Repeat("a", bs.PadBody)
		}
		contentType = "application/x-www-form-urlencoded"
		if bs.ContentType != "" {
			contentType = bs.ContentType
		}
		return e.origin + path, []byte(q), contentType
	}
	return e.origin + path + "?" + q, nil, ""
}

// lowerEscapes rewrites %2B as %2b and so on: the same bytes, another valid
// spelling, which changes the signed octets.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = toLowerHex(b[i+1]), toLowerHex(b[i+2])
		}
	}
	return string(b)
}

func toLowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// buildSAMLRequest returns the base64 SAMLRequest value (before URL escaping).
func (e *hardenEnv) buildSAMLRequest(t *testing.T, r *requestSpec) string {
	t.Helper()
	if r == nil {
		r = &requestSpec{}
	}
	var raw []byte
	if r.BombBytes > 0 {
		raw = hxDeflate(make([]byte, r.BombBytes))
	} else {
		doc := []byte(e.buildAuthnXML(t, r))
		switch r.Encoding {
		case "", "deflate":
			raw = hxDeflate(doc)
		case "zlib":
			var b bytes.Buffer
			w := zlib.NewWriter(&b)
			w.Write(doc)
			w.Close()
			raw = b.Bytes()
		case "gzip":
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(doc)
			w.Close()
			raw = b.Bytes()
		case "none":
			raw = doc
		default:
			t.Fatalf("unknown encoding %q", r.Encoding)
		}
	}
	switch r.Base64 {
	case "", "std":
		return base64.StdEncoding.EncodeToString(raw)
	case "invalid":
		return "!!" + base64.StdEncoding.EncodeToString(raw)
	}
	t.Fatalf("unknown base64 %q", r.Base64)
	return ""
}

func (e *hardenEnv) buildAuthnXML(t *testing.T, r *requestSpec) string {
	t.Helper()
	now := time.Now().UTC()
	if r.IssueInstantOffset != "" {
		d, err := time.ParseDuration(r.IssueInstantOffset)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(d)
	}
	instant := now.Format("2006-01-02T15:04:05.000Z")
	if r.IssueInstant != "" {
		instant = r.IssueInstant
	}
	or := func(p *string, def string) string {
		if p != nil {
			return *p
		}
		return def
	}
	id := or(r.ID, "_"+rand.Text())
	issuer := or(r.Issuer, hxSPEntityID)
	fill := strings.NewReplacer("{{ID}}", id, "{{NOW}}", instant, "{{SSO}}", e.ssoURL(), "{{ACS}}", hxACS, "{{ISSUER}}", issuer)
	if r.XML != "" {
		return fill.Replace(r.XML)
	}
	var b strings.Builder
	b.WriteString(or(r.Prolog, `<?xml version="1.0" encoding="UTF-8"?>`))
	b.WriteString(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"`)
	attr := func(name, v string) {
		if v != "" {
			fmt.Fprintf(&b, ` %s="%s"`, name, v)
		}
	}
	attr("ID", id)
	attr("Version", or(r.Version, "2.0"))
	attr("IssueInstant", instant)
	attr("Destination", or(r.Destination, e.ssoURL()))
	attr("ForceAuthn", r.ForceAuthn)
	attr("IsPassive", r.IsPassive)
	attr("AssertionConsumerServiceURL", or(r.ACS, hxACS))
	attr("AssertionConsumerServiceIndex", r.ACSIndex)
	attr("ProtocolBinding", or(r.ProtocolBinding, saml.BindingHTTPPost))
	b.WriteString(">")
	if issuer != "" || r.IssuerFormat != "" {
		b.WriteString("<saml:Issuer")
		attr("Format", r.IssuerFormat)
		b.WriteString(">" + issuer + "</saml:Issuer>")
	}
	if f := or(r.NameIDFormat, saml.NameIDFormatTransient); f != "" {
		b.WriteString(`<samlp:NameIDPolicy Format="` + f + `" AllowCreate="true"/>`)
	}
	b.WriteString(fill.Replace(r.Inner))
	b.WriteString("</samlp:AuthnRequest>")
	doc := b.String()
	for _, rep := range r.Replace {
		if !strings.Contains(doc, rep[0]) {
			t.Fatalf("replace: %q not in the document", rep[0])
		}
		doc = strings.ReplaceAll(doc, rep[0], fill.Replace(rep[1]))
	}
	return doc
}

// buildBindRequest returns the base64 bindRequest value (before URL escaping).
func buildBindRequest(t *testing.T, b *bindSpec) string {
	t.Helper()
	if b == nil {
		b = &bindSpec{}
	}
	doc := []byte(`{"domainName":"alice_hw","domainId":"0a1b2c3d4e5f","xUserId":"alice","bindAction":"0"}`)
	if b.Document != nil {
		doc = b.Document
	}
	if b.Raw != nil {
		doc = []byte(*b.Raw)
	}
	if b.PadDocument > 0 {
		doc = bytes.Replace(doc, []byte("{"), []byte(`{"pad":"`+strings.Repeat("p", b.PadDocument)+`",`), 1)
	}
	switch b.Base64 {
	case "", "std":
		return base64.StdEncoding.EncodeToString(doc)
	case "rawstd":
		return base64.RawStdEncoding.EncodeToString(doc)
	case "url":
		return base64.URLEncoding.EncodeToString(doc)
	case "rawurl":
		return base64.RawURLEncoding.EncodeToString(doc)
	case "invalid":
		return "*" + base64.StdEncoding.EncodeToString(doc)
	}
	t.Fatalf("unknown base64 %q", b.Base64)
	return ""
}

// prepareBindState sets up what a notification case meets: an assertion
// issued within the bind window (unless sso is "none") and alice's binding.
func (e *hardenEnv) prepareBindState(t *testing.T, c attackCase) {
	t.Helper()
	if c.Endpoint != "bind" {
		return
	}
	bs := c.Bind
	if bs == nil {
		bs = &bindSpec{}
	}
	who, age, site := cmp.Or(bs.SSO, "alice"), cmp.Or(bs.SSOAge, "10m"), cmp.Or(bs.SSOSite, "cn")
	if who != "none" {
		d, err := time.ParseDuration(age)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.AppendAudit(t.Context(), storage.AuditEvent{Time: e.clock.Now().Add(-d), Kind: "response",
			XAccountID: who, Site: site, RequestID: "_earlier", AssertionID: "_a", Outcome: "issued"}); err != nil {
			t.Fatal(err)
		}
	}
	if bs.Bound != "" {
		if err := e.store.PutBinding(t.Context(), storage.Binding{XAccountID: "alice", Site: "cn", DomainID: bs.Bound,
			DomainName: "alice_old", Source: storage.SourceAPI, BoundAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkBindResult checks an accepted notification: 303 to the result page,
// the stored event's outcome and convention, and the result page itself.
func checkBindResult(t *testing.T, e *hardenEnv, c attackCase, res *hxResp, cl *hxClient) {
	t.Helper()
	loc := res.Header.Get("Location")
	id, ok := strings.CutPrefix(loc, "/saml/bind/result?event=")
	if res.StatusCode != http.StatusSeeOther || !ok {
		t.Fatalf("accepted notification: %d Location %q, want 303 to the result page", res.StatusCode, loc)
	}
	if raw, _ := base64.RawURLEncoding.DecodeString(id); len(raw) < 16 {
		t.Errorf("event ID %q has fewer than 128 bits", id)
	}
	ev, err := e.store.GetBindEvent(t.Context(), id)
	if err != nil {
		t.Fatalf("GetBindEvent(%s): %v", id, err)
	}
	if ev.Outcome != c.Want.Result || (c.Want.Convention != "" && ev.Convention != c.Want.Convention) {
		t.Errorf("stored event: outcome %q convention %q, want %q %q", ev.Outcome, ev.Convention, c.Want.Result, c.Want.Convention)
	}
	if doc, _ := decodeBase64Any(buildBindRequest(t, c.Bind)); !bytes.Equal(ev.Document, doc) {
		t.Errorf("stored document %s, want the decoded bindRequest verbatim %s", ev.Document, doc)
	}
	page := cl.get(loc)
	title := map[string]string{"bound": "Huawei Cloud account bound", "rebound": "Huawei Cloud account bound",
		"unbound": "Huawei Cloud account unbound"}[c.Want.Result]
	if ev.Outcome == storage.BindOutcomeUnchanged {
		title = map[string]string{storage.BindActionBind: "Huawei Cloud account already bound", storage.BindActionUnbind: "No Huawei Cloud account bound"}[ev.Action]
	}
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "<h1>"+title+"</h1>") {
		t.Errorf("result page: %d, want <h1>%s</h1>:\n%s", page.StatusCode, title, page.Body)
	}
	if shows := strings.Contains(page.Body, ev.DomainID); shows != (c.Session == ev.XAccountID) {
		t.Errorf("result page shows the domain: %v, want %v (signed in as %q, event of %q)", shows, !shows, c.Session, ev.XAccountID)
	}
}

// TestAttackCorpusCoversTheIssue fails when a class of attack the hardening
// issue lists has no case in the corpus.
func TestAttackCorpusCoversTheIssue(t *testing.T) {
	have := map[string]bool{}
	for _, c := range loadAttackCases(t) {
		have[c.Name] = true
	}
	for _, need := range []string{
		"signature stripped", "forged with another key", "rsa-sha1 signature", "SigAlg none",
		"reordered parameters accepted", "lower-case escapes accepted", "RelayState tampered after signing",
		"duplicated SAMLRequest", "semicolon separator", "zlib-wrapped SAMLRequest", "deflate bomb within URL limit",
		"DOCTYPE with entity", "duplicate attribute", "duplicate element", "wrong root element", "wrong version",
		"stale IssueInstant", "future IssueInstant", "foreign Destination", "unknown Issuer",
		"ACS with userinfo", "ACS host in upper case", "RelayState markup escaped", "RelayState CR LF",
		"bind forged with another key", "bind replayed into another customer's session", "bind bad base64",
		"bind bad JSON", "IsPassive without session", "unsupported NameIDPolicy", "ForceAuthn with session",
		"replayed request ID", "RelayState U+0085 NEL (C1 control)", "RelayState U+009B CSI (C1 control)",
		"RelayState U+202E right-to-left override", "RelayState U+200B zero-width space", "RelayState Chinese, accents and emoji accepted",
		// The documented bind-result notification (issue 8).
		"bind POST form data, signature over the bindRequest value (as documented)", "bind POST form data, signature over the redirect octets",
		"bind POST multipart, signature over the bindRequest value", "bind GET, signature over the bindRequest value", "bind accepted",
		"unbind of the bound account", "unbind as Huawei's example, bindAction the number 1", "bind sent twice binds once",
		"rebind to another account", "unbind of another account refused", "bind swapped: a genuine signature of another document",
		"bind POST swapped: a genuine signature of another document", "bind signature over the decoded JSON refused",
		"bind duplicate key", "bind out of context: no recent SSO", "bind out of context: SSO older than the bind window",
		"bind out of context: SSO for another site", "bind bad bindAction", "bind POST body over 16 KiB", "bind unknown customer",
		"bind POST unsigned", "bind POST duplicated bindRequest",
	} {
		if !have[need] {
			t.Errorf("the corpus has no case %q", need)
		}
	}
}

// TestAttackHarnessDetectsWrites guards the harness itself: an accepted SSO
// with a session writes the replay cache and the audit log, so the snapshot
// sees writes.
func TestAttackHarnessDetectsWrites(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	cl.mustLogin("alice")
	before := e.snapshot()
	res := cl.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_harness1", time.Now(), e.ssoURL()), "rs"))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", res.StatusCode, res.Body)
	}
	d := before.delta(e.snapshot())
	if d["replay_cache"] != 1 || d["audit_log"] != 1 {
		t.Fatalf("delta = %v, want replay_cache and audit_log +1", d)
	}
}
