package login

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"hcidp/storage"
)

// What an anonymous browser needs between two requests travels in the
// browser, never in the database (docs/threat-model.md "Browser-facing
// pages": showing the login page or starting a flow costs no row): the
// login form's CSRF token is a signed double-submit cookie, and each flow
// waiting for a sign-in (a verified AuthnRequest, a console link) is an
// encrypted cookie of its own. A database session exists only once someone
// has signed in.
//
// The cookies are signed (HMAC-SHA256) and encrypted (AES-256-CTR) by
// gorilla/securecookie, which also binds each value to its cookie name and
// expires it. The keys are stored in the database (storage.Storage.Secret),
// so every replica shares them and a rotation of the IdP's signing key
// leaves them alone.

// cookieSecretName names the cookie keys in the secrets table.
const cookieSecretName = "browser-cookie-keys-v1"

const (
	cookieHashKeyLen  = 64 // HMAC-SHA256 key
	cookieBlockKeyLen = 32 // AES-256 key
	// csrfMaxAge bounds how long a login page may stay open.
	csrfMaxAge = 12 * time.Hour
	// maxFlowCookie bounds one encoded flow cookie; a flow carries at most
	// a 1 KiB RelayState, so 3 KiB leaves room without nearing 4 KiB.
	maxFlowCookie = 3 << 10
)

// cookieKeys returns the cookie keys shared by all replicas, creating them
// on first use.
func cookieKeys(ctx context.Context, st storage.Storage) ([]byte, error) {
	fresh := make([]byte, cookieHashKeyLen+cookieBlockKeyLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	keys, err := st.Secret(ctx, cookieSecretName, fresh)
	if err != nil {
		return nil, fmt.Errorf("browser cookie keys: %w", err)
	}
	if len(keys) != cookieHashKeyLen+cookieBlockKeyLen {
		return nil, fmt.Errorf("browser cookie keys: stored secret %s has %d bytes, want %d", cookieSecretName, len(keys), cookieHashKeyLen+cookieBlockKeyLen)
	}
	return keys, nil
}

// browserCookies encodes and decodes hcidp's signed and encrypted cookies.
type browserCookies struct {
	csrf, flow *securecookie.SecureCookie
	// oidc encodes pending upstream sign-ins (oidc.go); nil without one.
	oidc   *securecookie.SecureCookie
	secure bool
	// prefix is "__Host-" over HTTPS: such a cookie must be Secure, have
	// Path=/ and no Domain, so a sibling subdomain cannot plant one.
	prefix string
}

func newBrowserCookies(keys []byte, https bool) *browserCookies {
	hashKey, blockKey := keys[:cookieHashKeyLen], keys[cookieHashKeyLen:]
	mk := func(maxAge time.Duration) *securecookie.SecureCookie {
		return securecookie.New(hashKey, blockKey).MaxAge(int(maxAge / time.Second)).
			MaxLength(maxFlowCookie).SetSerializer(securecookie.JSONEncoder{})
	}
	c := &browserCookies{csrf: mk(csrfMaxAge), flow: mk(pendingTTL), secure: https}
	if https {
		c.prefix = "__Host-"
	}
	return c
}

func (c *browserCookies) csrfName() string { return c.prefix + "hcidp_csrf" }

func (c *browserCookies) flowPrefix() string { return c.prefix + "hcidp_flow_" }

func (c *browserCookies) set(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

func (c *browserCookies) remove(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

// CSRFToken returns the browser's CSRF token, from its cookie when that is
// valid, else a new one set in a cookie (a response header, no row).
func (s *Service) CSRFToken(w http.ResponseWriter, r *http.Request) string {
	if t := s.cookieCSRF(r); t != "" {
		return t
	}
	t := s.token(32)
	v, err := s.cookies.csrf.Encode(s.cookies.csrfName(), t)
	if err != nil {
		panic("idp: encode CSRF cookie: " + err.Error()) // only with broken keys
	}
	s.cookies.set(w, s.cookies.csrfName(), v, 0)
	return t
}

// cookieCSRF returns the token of a valid CSRF cookie, or "".
func (s *Service) cookieCSRF(r *http.Request) string {
	ck, err := r.Cookie(s.cookies.csrfName())
	if err != nil {
		return ""
	}
	var t string
	if s.cookies.csrf.Decode(s.cookies.csrfName(), ck.Value, &t) != nil {
		return ""
	}
	return t
}

// CheckCSRF compares the form's token with the cookie's (double submit): a
// cross-site page can make the browser send the cookie but cannot read it,
// so it cannot put the same token in the form.
func (s *Service) CheckCSRF(r *http.Request, got string) bool {
	want := s.cookieCSRF(r)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// Flow kinds.
const (
	FlowSAML    = "saml"    // a verified AuthnRequest to answer
	FlowConsole = "console" // a console link to build
)

// Flow is what waits in the browser while the customer signs in: a
// verified AuthnRequest, or a console link to build afterwards.
type Flow struct {
	// ID is the flow's ID (the suffix of its cookie's name), set when the
	// flow is taken back.
	ID         string    `json:"-"`
	Kind       string    `json:"k"` // FlowSAML or FlowConsole
	Created    time.Time `json:"t"`
	Site       string    `json:"s,omitempty"`
	RequestID  string    `json:"id,omitempty"`
	ACS        string    `json:"acs,omitempty"`
	RelayState *string   `json:"rs,omitempty"`
	ForceAuthn bool      `json:"fa,omitempty"`
	Console    string    `json:"c,omitempty"` // the /console URL to continue to
}

// validFlowID accepts the IDs addPending makes (16 random bytes, base64url).
func validFlowID(id string) bool {
	if len(id) != 22 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// pendingFlows decodes the browser's flow cookies: ID -> flow. Cookies that
// do not decode (tampered, expired, from old keys) are ignored.
func (s *Service) pendingFlows(r *http.Request) map[string]Flow {
	m := map[string]Flow{}
	prefix := s.cookies.flowPrefix()
	now := s.now()
	for _, ck := range r.Cookies() {
		id, ok := strings.CutPrefix(ck.Name, prefix)
		if !ok || !validFlowID(id) {
			continue
		}
		var f Flow
		if s.cookies.flow.Decode(ck.Name, ck.Value, &f) != nil || now.Sub(f.Created) > pendingTTL {
			continue
		}
		m[id] = f
	}
	return m
}

// addPending stores f in a cookie of its own and returns its flow ID. The
// browser keeps at most maxPending flows: the oldest beyond are removed.
func (s *Service) addPending(w http.ResponseWriter, r *http.Request, f Flow) string {
	m := s.pendingFlows(r)
	if len(m) >= maxPending {
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int { return m[a].Created.Compare(m[b].Created) })
		for _, id := range ids[:len(m)-maxPending+1] {
			s.cookies.remove(w, s.cookies.flowPrefix()+id)
		}
	}
	id := s.token(16)
	f.Created = s.now()
	name := s.cookies.flowPrefix() + id
	v, err := s.cookies.flow.Encode(name, f)
	if err != nil {
		panic("idp: encode flow cookie: " + err.Error()) // a flow is at most ~1.5 KiB
	}
	s.cookies.set(w, name, v, pendingTTL)
	return id
}

// takePending removes and returns a flow: each is continued at most once
// by this browser.
func (s *Service) takePending(w http.ResponseWriter, r *http.Request, id string) (Flow, bool) {
	if !validFlowID(id) {
		return Flow{}, false
	}
	f, ok := s.pendingFlows(r)[id]
	if ok {
		s.cookies.remove(w, s.cookies.flowPrefix()+id)
		f.ID = id
	}
	return f, ok
}

// Begin keeps f in the browser and sends it to sign in; after the sign-in
// the flow continues (a SAML flow through the Continuation).
func (s *Service) Begin(w http.ResponseWriter, r *http.Request, f Flow) {
	id := s.addPending(w, r, f)
	http.Redirect(w, r, "/login?flow="+url.QueryEscape(id), http.StatusSeeOther)
}
