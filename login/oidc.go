package login

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/securecookie"

	"hcidp/upstream/oidc"
	"hcidp/web"
)

// Sign-in through the partner portal's OpenID Connect provider
// (docs/upstream-oidc.md): GET /oidc/login starts the authorization code
// flow (PKCE, state and nonce) and keeps what the callback needs in an
// encrypted cookie of its own, bound to this browser and costing no row;
// GET /oidc/callback finishes it (package upstream/oidc verifies the ID
// token with the provider's keys) and then continues exactly as after a
// password login: a new session ID, the pending flow answered. Nothing a
// third party can make a browser open signs it in: the callback needs this
// browser's cookie, whose state the provider must echo.

// oidcCookiePrefix names the per-sign-in cookies; the rest of the name is
// derived from the state, so two tabs signing in at once keep two cookies.
func (c *browserCookies) oidcPrefix() string { return c.prefix + "hcidp_oidc_" }

// oidcCookieName is the cookie of the sign-in whose state is state.
func (c *browserCookies) oidcCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return c.oidcPrefix() + base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// mountUpstream registers the upstream sign-in's routes.
func (s *Service) mountUpstream(mux *http.ServeMux) {
	mux.Handle("GET /oidc/login", web.Endpoint("oidc", http.HandlerFunc(s.handleUpstreamLogin)))
	mux.Handle("GET "+oidc.CallbackPath, web.Endpoint("oidc", http.HandlerFunc(s.handleUpstreamCallback)))
}

// handleUpstreamLogin is GET /oidc/login?flow=ID: it sends the browser to
// the provider, keeping the pending sign-in (and the flow it continues) in
// a cookie.
func (s *Service) handleUpstreamLogin(w http.ResponseWriter, r *http.Request) {
	p, authURL, err := s.upstream.Begin(r.Context())
	if err != nil {
		s.refuseUpstream(w, r, err, "")
		return
	}
	if flow := r.URL.Query().Get("flow"); validFlowID(flow) {
		if _, ok := s.pendingFlows(r)[flow]; ok {
			p.Flow = flow
		}
	}
	s.keepUpstreamFlows(w, r)
	name := s.cookies.oidcCookieName(p.State)
	v, err := s.cookies.oidc.Encode(name, p)
	if err != nil {
		panic("login: encode the upstream sign-in cookie: " + err.Error()) // only with broken keys
	}
	s.cookies.set(w, name, v, s.upstream.FlowLifetime())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, authURL, http.StatusFound)
}

// keepUpstreamFlows removes the oldest pending upstream sign-ins beyond
// maxPending, so a browser keeps a bounded number of these cookies.
func (s *Service) keepUpstreamFlows(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, ck := range r.Cookies() {
		if strings.HasPrefix(ck.Name, s.cookies.oidcPrefix()) {
			names = append(names, ck.Name)
		}
	}
	if len(names) < maxPending {
		return
	}
	created := map[string]int64{}
	for _, ck := range r.Cookies() {
		var p oidc.Pending
		if slices.Contains(names, ck.Name) && s.cookies.oidc.Decode(ck.Name, ck.Value, &p) == nil {
			created[ck.Name] = p.Created.UnixNano()
		}
	}
	slices.SortFunc(names, func(a, b string) int { return int(created[a] - created[b]) })
	for _, n := range names[:len(names)-maxPending+1] {
		s.cookies.remove(w, n)
	}
}

// handleUpstreamCallback is GET /oidc/callback: the provider's answer.
func (s *Service) handleUpstreamCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	var p oidc.Pending
	state := r.URL.Query().Get("state")
	name := s.cookies.oidcCookieName(state)
	ck, err := r.Cookie(name)
	if state == "" || err != nil || s.cookies.oidc.Decode(name, ck.Value, &p) != nil {
		s.refuseUpstream(w, r, &oidc.Error{Reason: oidc.ReasonNoFlow, Detail: "no sign-in with this state is pending in this browser"}, "")
		return
	}
	// One callback per sign-in, whatever its outcome.
	s.cookies.remove(w, name)
	id, err := s.upstream.Finish(ctx, r.URL.Query(), p)
	if err != nil {
		s.refuseUpstream(w, r, err, "")
		return
	}
	c, created, err := s.upstream.ResolveCustomer(ctx, s.store, id)
	if err != nil {
		s.refuseUpstream(w, r, err, id.XAccountID)
		return
	}
	s.metrics.UpstreamLogin("success", "")
	detail := "method=oidc issuer=" + id.Issuer + " subject=" + id.Subject
	if created {
		detail += " created=true"
	}
	if len(id.Ignored) > 0 {
		detail += " ignored=" + strings.Join(id.Ignored, ",")
	}
	s.signIn(w, r, c.XAccountID, "oidc", detail, p.Flow)
}

// refuseUpstream answers a refused upstream sign-in: a clear page with the
// reason code (and a 503 with Retry-After for a fault of ours), logged and
// counted, nothing written: no session, no audit row, no customer.
func (s *Service) refuseUpstream(w http.ResponseWriter, r *http.Request, err error, account string) {
	var oe *oidc.Error
	if !errors.As(err, &oe) {
		s.metrics.UpstreamLogin("refused", "customer.unavailable")
		s.pages.Unavailable(w, r, "customer", err)
		return
	}
	s.metrics.UpstreamLogin("refused", oe.Reason)
	if oe.Reason == oidc.ReasonDiscovery {
		w.Header().Set("Retry-After", strconv.Itoa(5))
	}
	s.pages.Refuse(w, r, oe.Status(), oe.Reason, oe.Detail, "account", account, "provider_code", oe.ProviderCode)
}

// newOIDCCookies returns the codec of the pending upstream sign-ins.
func newOIDCCookies(hashKey, blockKey []byte, maxAge int) *securecookie.SecureCookie {
	return securecookie.New(hashKey, blockKey).MaxAge(maxAge).MaxLength(maxFlowCookie).SetSerializer(securecookie.JSONEncoder{})
}
