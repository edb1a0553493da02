package idp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"hcidp/customer"
	"hcidp/storage"
	"hcidp/templates"
)

const (
	maxLoginBody     = 8 << 10
	maxUsernameBytes = customer.MaxIDLength
)

// handleLoginForm shows the sign-in form for a pending flow (or plain sign-in).
func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	flow := r.URL.Query().Get("flow")
	if len(flow) > 64 {
		flow = ""
	}
	s.renderLogin(w, r, http.StatusOK, flow, "", "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, flow, username, errKey string) {
	p := s.page(w, r, s.navFormAction())
	w.Header().Set("Cache-Control", "no-store")
	d := templates.LoginData{Page: p, CSRF: s.csrfToken(w, r), Flow: flow, Username: username, Error: errKey}
	w.WriteHeader(status)
	s.pages.Login(w, d)
}

// handleLogin checks the form, signs the customer in with a new session ID
// and continues the pending flow.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.refuse(w, r, refuse(http.StatusRequestEntityTooLarge, "login.form", "the login form is malformed or too large"))
		return
	}
	if !s.sameOrigin(r) {
		s.refuse(w, r, refuse(http.StatusForbidden, "login.origin", "Origin "+truncate(r.Header.Get("Origin"), 100)+" is not this IdP"))
		return
	}
	if !s.checkCSRF(r, r.PostForm.Get("csrf_token")) {
		s.refuse(w, r, refuse(http.StatusForbidden, "login.csrf", "missing or wrong CSRF token"))
		return
	}
	flow := r.PostForm.Get("flow")
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	if username == "" || len(username) > maxUsernameBytes || !utf8.ValidString(username) ||
		password == "" || len(password) > customer.MaxPasswordLength {
		s.renderLogin(w, r, http.StatusUnauthorized, flow, "", "login_failed")
		return
	}
	// At most cap(s.passwordSlots) password checks run at once: each
	// argon2id costs 19 MiB.
	if !s.acquirePasswordSlot(ctx) {
		s.metrics.Login("throttled")
		w.Header().Set("Retry-After", "1")
		s.renderLogin(w, r, http.StatusTooManyRequests, flow, username, "login_throttled")
		return
	}
	defer func() { <-s.passwordSlots }()
	if !s.reserveLogin(w, r, flow, username) {
		return
	}
	c, err := s.store.GetCustomer(ctx, username)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.unavailable(w, r, "customer", err)
		return
	}
	// Unknown accounts verify against a dummy hash: same message, same cost.
	ok := customer.VerifyPassword(c.PasswordHash, password) && err == nil && !c.Disabled
	if !ok {
		// Already counted by reserveLogin.
		s.metrics.Login("failure")
		s.log.InfoContext(ctx, "login failed", "client", clientAddr(r))
		s.renderLogin(w, r, http.StatusUnauthorized, flow, username, "login_failed")
		return
	}
	s.loginSucceeded(r, username)
	s.signIn(w, r, c.XAccountID, flow)
}

// signIn starts a session for customerID with a new session ID (no
// fixation), then continues the browser's pending flow: the verified
// AuthnRequest is answered, the console link followed.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, customerID, flow string) {
	ctx := r.Context()
	if err := s.sessions.RenewToken(ctx); err != nil {
		s.unavailable(w, r, "session", err)
		return
	}
	now := s.now()
	s.startSession(ctx, customerID, now)
	s.metrics.Login("success")
	s.log.InfoContext(ctx, "login", "customer", customerID, "client", clientAddr(r))

	f, found := s.takePending(w, r, flow)
	switch {
	case found && f.Kind == "saml":
		sp := s.spBySite(f.Site)
		if sp == nil {
			s.refuse(w, r, refuse(400, "flow.site", "the pending request's site is no longer configured"))
			return
		}
		// The request ID entered the replay cache when the flow began; the
		// flow's own ID enters it now, so that a flow cookie sent twice (a
		// double submit, a copied cookie) is answered once.
		answered := &storage.RequestID{Issuer: flowReplayIssuer, ID: flow, Expires: f.Created.Add(pendingTTL)}
		s.issue(w, r, &verifiedRequest{SP: sp, ID: f.RequestID, ACS: f.ACS, RelayState: f.RelayState}, customerID, now, answered)
	case found && f.Kind == "console":
		http.Redirect(w, r, f.Console, http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// flowReplayIssuer is the replay-cache issuer of answered pending flows; it
// is no SP's entity ID (those are absolute URIs).
const flowReplayIssuer = "hcidp:pending-flow"

// passwordSlotWait is how long a login waits for a free password-check slot.
const passwordSlotWait = 2 * time.Second

func (s *Server) acquirePasswordSlot(ctx context.Context) bool {
	select {
	case s.passwordSlots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(passwordSlotWait)
	defer t.Stop()
	select {
	case s.passwordSlots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// sameOrigin accepts a POST whose Origin (or, without one, Referer) is this
// IdP's public origin. Browsers send Origin on POST; a request with neither
// relies on the CSRF token alone.
func (s *Server) sameOrigin(r *http.Request) bool {
	want := s.baseURL.Scheme + "://" + s.baseURL.Host
	if o := r.Header.Get("Origin"); o != "" {
		return o == want
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == want
	}
	return true
}

// handleLogout destroys the session.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		s.refuse(w, r, refuse(http.StatusForbidden, "logout.origin", "cross-origin logout"))
		return
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.unavailable(w, r, "session", err)
		return
	}
	p := s.page(w, r, "")
	s.pages.Message(w, templates.MessageData{Page: p, Title: "signed_out_title", Body: "signed_out_body"})
}

// handleHome is the IdP's landing page: the "Open Huawei Cloud console"
// button a portal would show (the demo's portal page).
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	id, _ := s.signedIn(r.Context())
	p := s.page(w, r, s.navFormAction())
	s.pages.Portal(w, templates.PortalData{Page: p, Customer: id, Sites: s.siteNames(), ConsoleTo: "/console"})
}

func (s *Server) siteNames() []string {
	names := make([]string, 0, len(s.trust().sps))
	for _, sp := range s.trust().sps {
		names = append(names, sp.Site)
	}
	return names
}
