package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"hcidp/idp"
	"hcidp/metrics"
	"hcidp/saml"
	"hcidp/storage"
)

// TestParseBindDocument: the documented JSON contract of the bind-result
// notification (docs/profile.md §4), and every way of breaking it.
func TestParseBindDocument(t *testing.T) {
	tests := []struct {
		name, doc string
		reason    string // "" = accepted
		action    string
		domain    string
	}{
		{"Huawei's example (bindAction a number)", `{"domainName":"yongzhi","domainId":"yongzhiid","xUserId":"yongzhix","bindAction":1}`, "", "unbind", "yongzhiid"},
		{"bind as a string", `{"domainName":"hw_x","domainId":"d1","xUserId":"c1","bindAction":"0"}`, "", "bind", "d1"},
		{"bind as a number", `{"domainId":"d1","xUserId":"c1","bindAction":0}`, "", "bind", "d1"},
		{"unbind as a string", `{"domainId":"d1","xUserId":"c1","bindAction":"1"}`, "", "unbind", "d1"},
		{"bindAction absent binds", `{"domainId":"d1","xUserId":"c1"}`, "", "bind", "d1"},
		{"xAccountId equal to xUserId", `{"domainId":"d1","xUserId":"c1","xAccountId":"c1"}`, "", "bind", "d1"},
		{"unknown fields kept", `{"domainId":"d1","xUserId":"c1","resultCode":"CBC.1","extra":{"a":[1,{"b":null}]}}`, "", "bind", "d1"},
		{"escaped key is the same key", `{"domainId":"d1","xUserId":"c1","x\u0055serId":"c2"}`, "bind.duplicate_key", "", ""},
		{"duplicate xUserId", `{"xUserId":"c1","domainId":"d1","xUserId":"c2"}`, "bind.duplicate_key", "", ""},
		{"duplicate bindAction", `{"xUserId":"c1","domainId":"d1","bindAction":"0","bindAction":"1"}`, "bind.duplicate_key", "", ""},
		{"duplicate key nested", `{"xUserId":"c1","domainId":"d1","x":[{"k":1,"k":2}]}`, "bind.duplicate_key", "", ""},
		{"same key in sibling objects is fine", `{"xUserId":"c1","domainId":"d1","a":{"k":1},"b":{"k":2}}`, "", "bind", "d1"},
		{"too deep", `{"xUserId":"c1","domainId":"d1","x":[[[[[[[[[1]]]]]]]]]}`, "bind.json", "", ""},
		{"not JSON", `{not json`, "bind.json", "", ""},
		{"an array", `[{"xUserId":"c1"}]`, "bind.json", "", ""},
		{"a string", `"c1"`, "bind.json", "", ""},
		{"trailing data", `{"xUserId":"c1","domainId":"d1"} {}`, "bind.json", "", ""},
		{"not UTF-8", "{\"xUserId\":\"c\xff\",\"domainId\":\"d1\"}", "bind.json", "", ""},
		{"no xUserId", `{"xAccountId":"c1","domainId":"d1"}`, "bind.customer_id", "", ""},
		{"xUserId not a string", `{"xUserId":{"$ne":""},"domainId":"d1"}`, "bind.field", "", ""},
		{"xUserId null", `{"xUserId":null,"domainId":"d1"}`, "bind.field", "", ""},
		{"xUserId with a control character", `{"xUserId":"c1\u0007","domainId":"d1"}`, "bind.customer_id", "", ""},
		{"xUserId too long", `{"xUserId":"` + strings.Repeat("c", 129) + `","domainId":"d1"}`, "bind.customer_id", "", ""},
		{"xAccountId differs", `{"xUserId":"c1","xAccountId":"c2","domainId":"d1"}`, "bind.customer_id", "", ""},
		{"no domainId", `{"xUserId":"c1","domainName":"hw"}`, "bind.domain", "", ""},
		{"no domainId on unbind", `{"xUserId":"c1","bindAction":"1"}`, "bind.domain", "", ""},
		{"empty domainId", `{"xUserId":"c1","domainId":""}`, "bind.domain", "", ""},
		{"domainId a number", `{"xUserId":"c1","domainId":12345}`, "bind.field", "", ""},
		{"domainId too long", `{"xUserId":"c1","domainId":"` + strings.Repeat("d", 129) + `"}`, "bind.domain", "", ""},
		{"domainId with a format character", `{"xUserId":"c1","domainId":"d\u202e1"}`, "bind.domain", "", ""},
		{"domainId with spaces around", `{"xUserId":"c1","domainId":" d1"}`, "bind.domain", "", ""},
		{"domainName too long", `{"xUserId":"c1","domainId":"d1","domainName":"` + strings.Repeat("n", 65) + `"}`, "bind.domain", "", ""},
		{"domainName with a control character", `{"xUserId":"c1","domainId":"d1","domainName":"n\n"}`, "bind.domain", "", ""},
		{"bindAction 2", `{"xUserId":"c1","domainId":"d1","bindAction":"2"}`, "bind.action", "", ""},
		{"bindAction 1.0", `{"xUserId":"c1","domainId":"d1","bindAction":1.0}`, "bind.action", "", ""},
		{"bindAction true", `{"xUserId":"c1","domainId":"d1","bindAction":true}`, "bind.action", "", ""},
		{"bindAction null", `{"xUserId":"c1","domainId":"d1","bindAction":null}`, "bind.action", "", ""},
		{"bindAction empty", `{"xUserId":"c1","domainId":"d1","bindAction":""}`, "bind.action", "", ""},
		{"bindAction bind", `{"xUserId":"c1","domainId":"d1","bindAction":"bind"}`, "bind.action", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ref := parseBindDocument([]byte(tt.doc))
			if tt.reason != "" {
				if ref == nil || ref.Reason != tt.reason || ref.Status != 400 {
					t.Fatalf("refusal = %v, want 400 %s (event %+v)", ref, tt.reason, ev)
				}
				return
			}
			if ref != nil {
				t.Fatalf("refused: %v", ref)
			}
			if ev.Action != tt.action || ev.DomainID != tt.domain || string(ev.Document) != tt.doc || len(ev.DocumentHash) != 64 {
				t.Fatalf("event = %+v", ev)
			}
		})
	}
}

// TestBindEventBound: which outcomes leave the customer bound.
func TestBindEventBound(t *testing.T) {
	for _, tt := range []struct {
		action, outcome string
		bound           bool
	}{
		{storage.BindActionBind, storage.BindOutcomeBound, true},
		{storage.BindActionBind, storage.BindOutcomeRebound, true},
		{storage.BindActionBind, storage.BindOutcomeUnchanged, true},
		{storage.BindActionBind, "failed", false},
		{storage.BindActionUnbind, storage.BindOutcomeUnbound, false},
		{storage.BindActionUnbind, storage.BindOutcomeUnchanged, false},
	} {
		if got := (storage.BindEvent{Action: tt.action, Outcome: tt.outcome}).Bound(); got != tt.bound {
			t.Errorf("%s/%s: Bound() = %v", tt.action, tt.outcome, got)
		}
	}
}

// bindDocFor is a notification document as Huawei documents it.
func bindDocFor(customer, domainID, action string) []byte {
	return []byte(`{"domainName":"hw_` + customer + `","domainId":"` + domainID + `","xUserId":"` + customer + `","bindAction":"` + action + `"}`)
}

// notification builds a signed notification of doc: by POST (urlencoded
// form data) or GET, signed over convention (a) "value" or (b) "query".
func (e *hardenEnv) notification(t *testing.T, method, convention string, doc []byte) *http.Request {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString(doc)
	octets := "bindRequest=" + url.QueryEscape(b64) + "&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
	message := octets
	if convention == conventionValue {
		message = b64
	}
	q := octets + "&Signature=" + url.QueryEscape(signQuery(t, hxKeys().sp, crypto.SHA256, message))
	if method == http.MethodGet {
		return httptest.NewRequest(method, e.origin+"/saml/bind?"+q, nil)
	}
	r := httptest.NewRequest(method, e.origin+"/saml/bind", strings.NewReader(q))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "https://auth.huaweicloud.com")
	return r
}

// ssoFor signs customer in on c and gets an assertion for site cn issued,
// as the first login of the bind flow does.
func (e *hardenEnv) ssoFor(t *testing.T, c *hxClient, customer string) {
	t.Helper()
	c.mustLogin(customer)
	if r := c.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_"+rand.Text(), e.clock.Now(), e.ssoURL()), "rs")); r.StatusCode != http.StatusOK {
		t.Fatalf("SSO: %d\n%s", r.StatusCode, r.Body)
	}
}

// resultID returns the event ID of a notification's 303 answer.
func resultID(t *testing.T, r *hxResp) string {
	t.Helper()
	id, ok := strings.CutPrefix(r.Header.Get("Location"), "/saml/bind/result?event=")
	if r.StatusCode != http.StatusSeeOther || !ok {
		t.Fatalf("notification: %d Location %q, want 303 to the result page\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	return id
}

// TestBindResultPageContinuesToTheConsole walks the real browser flow: the
// customer opens the console link and gets an assertion; Huawei's page
// posts the notification cross-site, so it arrives WITHOUT the session
// cookie; the 303'd result page carries it again and continues to the
// console URL the customer asked for. Others see the result without the
// Huawei Cloud account; an unknown event is a clear 404.
func TestBindResultPageContinuesToTheConsole(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	alice := e.client()
	e.ssoFor(t, alice, "alice")
	const service = "https://console.huaweicloud.com/ecs/"
	if r := alice.get(e.origin + "/console?site=cn&service=" + url.QueryEscape(service)); r.StatusCode != http.StatusFound {
		t.Fatalf("console link: %d", r.StatusCode)
	}
	crossSite := e.client() // no cookies: SameSite=Lax keeps them off a cross-site POST
	id := resultID(t, crossSite.do(e.notification(t, http.MethodPost, conventionValue, bindDocFor("alice", "dom-alice", "0"))))
	if b, err := e.store.GetBinding(t.Context(), "alice", "cn"); err != nil || b.DomainID != "dom-alice" || b.Convention != conventionValue || b.EventID != id {
		t.Fatalf("binding = %+v, %v", b, err)
	}

	if r := alice.get("/saml/bind/result?event=" + id); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != service {
		t.Fatalf("the customer's own result page: %d Location %q, want 303 to %s", r.StatusCode, r.Header.Get("Location"), service)
	}
	for name, c := range map[string]*hxClient{"anonymous": crossSite, "another customer": func() *hxClient { c := e.client(); c.mustLogin("bob"); return c }()} {
		r := c.get("/saml/bind/result?event=" + id)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "<h1>Huawei Cloud account bound</h1>") || strings.Contains(r.Body, "dom-alice") || strings.Contains(r.Body, "hw_alice") {
			t.Errorf("%s: result page %d, want the result without the account:\n%s", name, r.StatusCode, r.Body)
		}
	}
	// In Chinese, and for the customer without a console link pending.
	req := httptest.NewRequest(http.MethodGet, "/saml/bind/result?event="+id, nil)
	req.Header.Set("Accept-Language", "zh-CN")
	alice2 := e.client()
	alice2.mustLogin("alice")
	if r := alice2.do(req); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "<h1>华为云账号已绑定</h1>") || !strings.Contains(r.Body, "dom-alice (hw_alice)") {
		t.Errorf("Chinese result page for the customer: %d\n%s", r.StatusCode, r.Body)
	}

	// The console target is re-checked against the allow-list when used.
	cn := e.trust.SPs[0]
	moved, err := idp.NewServiceProvider("cn", cn.Meta, "", "https://console.moved.example/console/")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(idp.Trust{SPs: []*idp.ServiceProvider{moved}, Signer: e.trust.Signer, Cert: e.trust.Cert}); err != nil {
		t.Fatal(err)
	}
	if r := alice.get("/saml/bind/result?event=" + id); r.StatusCode != http.StatusOK || strings.Contains(r.Header.Get("Location"), "huaweicloud.com") {
		t.Errorf("a console target no longer allowed: %d Location %q, want the result page", r.StatusCode, r.Header.Get("Location"))
	}

	before := e.snapshot()
	for _, q := range []string{"event=unknown", "", "event=" + id + "&event=" + id, "event=" + strings.Repeat("a", 65)} {
		r := alice.get("/saml/bind/result?" + q)
		if r.StatusCode != http.StatusNotFound || !strings.Contains(r.Body, "bind.result_unknown") {
			t.Errorf("result page ?%s: %d, want 404 bind.result_unknown", q, r.StatusCode)
		}
	}
	if r := alice.do(httptest.NewRequest(http.MethodPost, "/saml/bind/result?event="+id, nil)); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST of the result page: %d", r.StatusCode)
	}
	if d := before.delta(e.snapshot()); len(d) != 0 {
		t.Errorf("result pages wrote rows: %v", d)
	}
}

// TestBindCycleUnbindThenBindAgain: bind, unbind (isFirstLogin is true
// again), then the byte-identical bind document binds again, because
// applying is idempotent by state, not by document.
func TestBindCycleUnbindThenBindAgain(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	c := e.client()
	e.ssoFor(t, c, "alice")
	firstLogin := func() string {
		t.Helper()
		r := c.get("/console?site=cn")
		loc, _ := url.Parse(r.Header.Get("Location"))
		return loc.Query().Get("isFirstLogin")
	}
	bind, unbind := bindDocFor("alice", "dom-1", "0"), bindDocFor("alice", "dom-1", "1")
	steps := []struct {
		doc                 []byte
		method, convention  string
		outcome, firstLogin string
	}{
		{bind, http.MethodPost, conventionValue, storage.BindOutcomeBound, "false"},
		{unbind, http.MethodPost, conventionQuery, storage.BindOutcomeUnbound, "true"},
		{bind, http.MethodGet, conventionValue, storage.BindOutcomeBound, "false"},
		{bind, http.MethodGet, conventionQuery, storage.BindOutcomeUnchanged, "false"},
	}
	for i, st := range steps {
		id := resultID(t, c.do(e.notification(t, st.method, st.convention, st.doc)))
		ev, err := e.store.GetBindEvent(t.Context(), id)
		if err != nil || ev.Outcome != st.outcome || ev.Convention != st.convention || string(ev.Document) != string(st.doc) {
			t.Fatalf("step %d: event %+v, %v; want %s by %s", i, ev, err, st.outcome, st.convention)
		}
		if got := firstLogin(); got != st.firstLogin {
			t.Fatalf("step %d (%s): isFirstLogin=%s, want %s", i, st.outcome, got, st.firstLogin)
		}
	}
	if es, _ := e.store.ListBindEvents(t.Context(), "alice", 0); len(es) != len(steps) {
		t.Errorf("%d events stored, want %d", len(es), len(steps))
	}
}

// TestBindRebindIsLoudAndCounted: a bind naming another account than the
// bound one is a rebind: audited with both accounts, a warning in the log,
// counted in the metric with its convention; refusals are counted with
// their reason. Every log line names the convention that verified.
func TestBindRebindIsLoudAndCounted(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	reg := prometheus.NewRegistry()
	e.opts.Metrics = metrics.New(reg)
	e = e.replica()
	c := e.client()
	e.ssoFor(t, c, "alice")
	resultID(t, c.do(e.notification(t, http.MethodPost, conventionValue, bindDocFor("alice", "dom-old", "0"))))
	resultID(t, c.do(e.notification(t, http.MethodGet, conventionQuery, bindDocFor("alice", "dom-new", "0"))))
	e.client().do(e.notification(t, http.MethodPost, conventionValue, bindDocFor("bob", "dom-bob", "0"))) // bob: no recent SSO

	if !regexp.MustCompile(`level=WARN msg="bind notification rebinds the customer to another Huawei Cloud account".*customer=alice.*convention=query domain_id=dom-new.*old_domain_id=dom-old`).MatchString(e.logs.String()) {
		t.Errorf("no rebind warning in the log:\n%s", e.logs.String())
	}
	// Every notification's log line names the convention that verified.
	for what, re := range map[string]string{
		"the bind":    `level=INFO msg="bind notification applied".*customer=alice.*outcome=bound convention=value domain_id=dom-old`,
		"the refusal": `reason=bind.no_recent_sso.*convention=value`,
	} {
		if !regexp.MustCompile(re).MatchString(e.logs.String()) {
			t.Errorf("the log line of %s does not name its convention:\n%s", what, e.logs.String())
		}
	}
	audit, _ := e.store.ListAudit(t.Context(), storage.AuditFilter{XAccountID: "alice"})
	if last := audit[len(audit)-1]; last.Kind != "bind" || last.Outcome != storage.BindOutcomeRebound ||
		!strings.Contains(last.Detail, "convention=query source=notification domain_id=dom-new") || !strings.Contains(last.Detail, "old_domain_id=dom-old") {
		t.Errorf("rebind audit row = %+v", last)
	}
	counts := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hcidp_bind_callbacks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			counts[l["outcome"]+"/"+l["reason"]+"/"+l["convention"]] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"bound//value": 1, "rebound//query": 1, "refused/bind.no_recent_sso/value": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("hcidp_bind_callbacks_total = %v, want %v", counts, want)
	}
}

// TestBindBodyCapWithoutContentLength: a chunked body (no Content-Length)
// is cut at 16 KiB while it is read, before any parsing: 413, nothing
// written.
func TestBindBodyCapWithoutContentLength(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	c := e.client()
	before := e.snapshot()
	for name, tc := range map[string]struct {
		contentType string
		body        string
	}{
		"urlencoded": {"application/x-www-form-urlencoded", "bindRequest=e30%3D&pad=" + strings.Repeat("a", 17<<10)},
		"multipart":  {"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n" + strings.Repeat("a", 17<<10) + "\r\n--b--\r\n"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/saml/bind", struct{ io.Reader }{strings.NewReader(tc.body)})
		r.ContentLength = -1
		r.Header.Set("Content-Type", tc.contentType)
		res := c.do(r)
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(res.Body, "bind.body_too_large") {
			t.Errorf("%s: %d, want 413 bind.body_too_large\n%s", name, res.StatusCode, res.Body)
		}
	}
	if d := before.delta(e.snapshot()); len(d) != 0 {
		t.Errorf("wrote %v", d)
	}
}

func TestDecodeBase64Any(t *testing.T) {
	raw := []byte{0xfb, 0xff, 0xfe, 'x'}
	for _, enc := range []string{base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw),
		base64.URLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw)} {
		got, err := decodeBase64Any(enc)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("%s: %v %x", enc, err, got)
		}
	}
}

// TestBindSiteWhenOneKeySignsForSeveralSites: the bind document names no
// site. When the same Huawei key verifies for two configured sites, the site
// the customer was heading for (its console link) decides; without one, the
// first configured site.
func TestBindSiteWhenOneKeySignsForSeveralSites(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cn := e.trust.SPs[0]
	intlMeta := *cn.Meta
	intlMeta.Site, intlMeta.EntityID = "intl", "https://auth-intl.huaweicloud.com/"
	intl, err := idp.NewServiceProvider("intl", &intlMeta, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(idp.Trust{SPs: []*idp.ServiceProvider{cn, intl}, Signer: e.trust.Signer, Cert: e.trust.Cert}); err != nil {
		t.Fatal(err)
	}
	bindURL := func(customer string) string {
		doc := base64.StdEncoding.EncodeToString([]byte(`{"xUserId":"` + customer + `","domainId":"d-` + customer + `","bindAction":"0"}`))
		octets := "bindRequest=" + url.QueryEscape(doc) + "&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
		return "/saml/bind?" + octets + "&Signature=" + url.QueryEscape(signQuery(t, hxKeys().sp, crypto.SHA256, octets))
	}
	site := func(customer string) string {
		for _, s := range []string{"cn", "intl"} {
			if _, err := e.store.GetBinding(context.Background(), customer, s); err == nil {
				return s
			}
		}
		return "none"
	}

	// Each customer was just issued an assertion for both sites.
	for _, c := range []string{"alice", "bob"} {
		for _, site := range []string{"cn", "intl"} {
			if err := e.store.AppendAudit(context.Background(), storage.AuditEvent{Time: e.clock.Now(), Kind: "response", XAccountID: c, Site: site}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// No session: the first configured site.
	e.client().get(bindURL("alice"))
	if got := site("alice"); got != "cn" {
		t.Fatalf("bind without a session recorded on %s, want cn", got)
	}
	// A customer who opened the intl console link: intl.
	c := e.client()
	c.mustLogin("bob")
	if r := c.get("/console?site=intl"); r.StatusCode != http.StatusFound {
		t.Fatalf("console link: %d", r.StatusCode)
	}
	c.get(bindURL("bob"))
	if got := site("bob"); got != "intl" {
		t.Fatalf("bind after the intl console link recorded on %s, want intl", got)
	}
}
