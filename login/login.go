package login

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"hcidp/customer"
	"hcidp/storage"
	"hcidp/templates"
	"hcidp/web"
)

const (
	maxLoginBody     = 8 << 10
	maxUsernameBytes = customer.MaxIDLength
)

// handleLoginForm shows the sign-in form for a pending flow (or plain sign-in).
func (s *Service) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	flow := r.URL.Query().Get("flow")
	if len(flow) > 64 {
		flow = ""
	}
	s.renderLogin(w, r, http.StatusOK, flow, "", "")
}

func (s *Service) renderLogin(w http.ResponseWriter, r *http.Request, status int, flow, username, errKey string) {
	s.renderLoginWait(w, r, status, flow, username, errKey, 0)
}

// renderLoginWait is renderLogin saying how many seconds to wait before
// the next attempt (0: nothing to say).
func (s *Service) renderLoginWait(w http.ResponseWriter, r *http.Request, status int, flow, username, errKey string, wait int) {
	p := s.pages.Page(w, r, s.cfg.FormAction())
	w.Header().Set("Cache-Control", "no-store")
	d := templates.LoginData{Page: p, CSRF: s.CSRFToken(w, r), Flow: flow, Username: username, Error: errKey, RetryAfter: wait,
		PasswordLogin: s.cfg.PasswordLogin}
	if s.upstream != nil {
		d.Upstream = s.upstream.Config().DisplayName
	}
	w.WriteHeader(status)
	s.pages.T.Login(w, d)
}

// handleLogin checks the form, counts the attempt, checks the password and
// signs the customer in with a new session ID, then continues the flow.
func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.pages.Refuse(w, r, http.StatusRequestEntityTooLarge, "login.form", "the login form is malformed or too large")
		return
	}
	if !s.SameOrigin(r) {
		s.pages.Refuse(w, r, http.StatusForbidden, "login.origin", "Origin "+truncate(r.Header.Get("Origin"), 100)+" is not this IdP")
		return
	}
	if !s.CheckCSRF(r, r.PostForm.Get("csrf_token")) {
		s.pages.Refuse(w, r, http.StatusForbidden, "login.csrf", "missing or wrong CSRF token")
		return
	}
	if !s.cfg.PasswordLogin {
		s.pages.Refuse(w, r, http.StatusForbidden, "login.password_disabled", "password sign-in is off (upstream_oidc.password_login: false)")
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
		s.renderLoginWait(w, r, http.StatusTooManyRequests, flow, username, "login_throttled", 1)
		return
	}
	defer func() { <-s.passwordSlots }()
	if !s.reserveLogin(w, r, flow, username) {
		return
	}
	c, err := s.store.GetCustomer(ctx, username)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.pages.Unavailable(w, r, "customer", err)
		return
	}
	// Unknown accounts verify against a dummy hash: same message, same cost.
	ok := customer.VerifyPassword(c.PasswordHash, password) && err == nil && !c.Disabled
	if !ok {
		// Already counted by reserveLogin.
		s.metrics.Login("failure")
		s.audit(ctx, r, username, "failure", "method=password")
		s.log.InfoContext(ctx, "login failed", "account", username, "client", web.ClientAddr(r))
		s.renderLogin(w, r, http.StatusUnauthorized, flow, username, "login_failed")
		return
	}
	s.loginSucceeded(r, username)
	s.signIn(w, r, c.XAccountID, "password", "method=password", flow)
}

// signIn starts a session for customerID with a new session ID (no
// fixation), audits it (detail names the method and, upstream, the
// provider's account), then continues the browser's pending flow: the
// verified AuthnRequest is answered, the console link followed.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, customerID, method, detail, flow string) {
	ctx := r.Context()
	if err := s.sessions.RenewToken(ctx); err != nil {
		s.pages.Unavailable(w, r, "session", err)
		return
	}
	now := s.now()
	s.startSession(ctx, customerID, now)
	s.metrics.Login("success")
	s.audit(ctx, r, customerID, "success", detail)
	s.log.InfoContext(ctx, "login", "customer", customerID, "method", method, "client", web.ClientAddr(r))

	f, found := s.takePending(w, r, flow)
	switch {
	case found && f.Kind == FlowSAML:
		s.continueSAML(w, r, f, customerID, now)
	case found && f.Kind == FlowConsole:
		http.Redirect(w, r, f.Console, http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}

// audit records a sign-in attempt: the account tried (whether it exists or
// not), the outcome and the client. A failure to write it is logged: the
// attempt's answer does not wait for the audit log.
func (s *Service) audit(ctx context.Context, r *http.Request, account, outcome, detail string) {
	if err := s.store.AppendAudit(ctx, storage.AuditEvent{Time: s.now().UTC(), Kind: "login", XAccountID: account,
		ClientAddr: web.ClientAddr(r), Outcome: outcome, Detail: detail}); err != nil {
		s.log.ErrorContext(ctx, "audit a login", "outcome", outcome, "err", err)
	}
}

// passwordSlotWait is how long a login waits for a free password-check slot.
const passwordSlotWait = 2 * time.Second

func (s *Service) acquirePasswordSlot(ctx context.Context) bool {
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

// handleLogout ends the session.
func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !s.SameOrigin(r) {
		s.pages.Refuse(w, r, http.StatusForbidden, "logout.origin", "cross-origin logout")
		return
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.pages.Unavailable(w, r, "session", err)
		return
	}
	p := s.pages.Page(w, r, "")
	s.pages.T.Message(w, templates.MessageData{Page: p, Title: "signed_out_title", Body: "signed_out_body"})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
