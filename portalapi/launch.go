package portalapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"

	"hcidp/storage"
	"hcidp/templates"
	"hcidp/web"
)

// refusal is a launch request refused (the page answers with it).
type refusal struct {
	status         int
	reason, detail string
}

// handleLaunch redeems a launch URL in the customer's browser. A link that
// a third party can make a browser open must never sign that browser in by
// itself (docs/threat-model.md "Browser-facing pages": no silent identity
// switch): GET shows a page naming the account, and says so when someone
// else is signed in; only its POST (token and CSRF token, same origin)
// consumes the token and signs in. A browser already signed in as that
// customer skips the page.
func (a *API) handleLaunch(w http.ResponseWriter, r *http.Request) {
	// The URL carries the token: never let it travel on as a Referer,
	// whatever the site-wide policy (a redirect's policy applies onwards).
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		a.launchConfirm(w, r)
	case http.MethodPost:
		a.launchSignIn(w, r)
	default:
		// Not even HEAD: a link preview must not see whom the token names.
		w.Header().Set("Allow", "GET, POST")
		a.pages.Refuse(w, r, http.StatusMethodNotAllowed, "launch.method", r.Method+" /launch")
	}
}

// maxLaunchForm bounds the confirmation form's body.
const maxLaunchForm = 4 << 10

// launchTokenParam returns the single, well-formed token of values.
func launchTokenParam(values url.Values) (string, *refusal) {
	if len(values["token"]) != 1 {
		return "", &refusal{http.StatusBadRequest, "launch.invalid", "not exactly one token"}
	}
	token := values.Get("token")
	if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) != launchTokenBytes {
		return "", &refusal{http.StatusBadRequest, "launch.invalid", "the token is not 32 base64url-encoded bytes"}
	}
	return token, nil
}

// launchCustomer answers the token lookup (lt, err): the customer it signs
// in, or false once the browser has been answered: an unknown, spent or
// expired token, a missing or disabled customer, a site no longer
// configured (400), or a store fault (503).
func (a *API) launchCustomer(w http.ResponseWriter, r *http.Request, lt storage.LaunchToken, err error) (storage.Customer, bool) {
	if errors.Is(err, storage.ErrNotFound) {
		a.pages.Refuse(w, r, http.StatusBadRequest, "launch.invalid", "unknown, already used or expired launch token")
		return storage.Customer{}, false
	}
	if err != nil {
		a.pages.Unavailable(w, r, "launch", err)
		return storage.Customer{}, false
	}
	c, err := a.store.GetCustomer(r.Context(), lt.XAccountID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		a.pages.Unavailable(w, r, "customer", err)
		return c, false
	}
	if err != nil || c.Disabled {
		a.pages.Refuse(w, r, http.StatusBadRequest, "launch.invalid", "customer "+truncate(lt.XAccountID, 128)+" is missing or disabled")
		return c, false
	}
	if a.sites.SPBySite(lt.Site) == nil {
		a.pages.Refuse(w, r, http.StatusBadRequest, "launch.invalid", "site "+lt.Site+" is no longer configured")
		return c, false
	}
	return c, true
}

// launchConfirm is GET /launch?token=: it reads the token without spending
// it and shows whom it signs in.
func (a *API) launchConfirm(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		a.pages.Refuse(w, r, http.StatusBadRequest, "launch.invalid", "malformed query")
		return
	}
	token, ref := launchTokenParam(q)
	if ref != nil {
		a.pages.Refuse(w, r, ref.status, ref.reason, ref.detail)
		return
	}
	lt, err := a.store.GetLaunchToken(r.Context(), launchTokenHash(token), a.now())
	c, ok := a.launchCustomer(w, r, lt, err)
	if !ok {
		return
	}
	current, _ := a.login.SignedIn(r)
	if current == c.XAccountID {
		// Nobody's identity changes: spend the token and go on.
		a.launchRedeem(w, r, token, false)
		return
	}
	p := a.pages.Page(w, r, a.formAction())
	a.pages.T.Launch(w, templates.LaunchData{Page: p, CSRF: a.login.CSRFToken(w, r), Token: token,
		XAccountID: c.XAccountID, DisplayName: c.DisplayName, SignedInAs: current})
}

// launchSignIn is the confirmation page's POST.
func (a *API) launchSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLaunchForm)
	if err := r.ParseForm(); err != nil {
		a.pages.Refuse(w, r, http.StatusRequestEntityTooLarge, "launch.form", "the launch form is malformed or too large")
		return
	}
	if !a.login.SameOrigin(r) {
		a.pages.Refuse(w, r, http.StatusForbidden, "launch.origin", "Origin "+truncate(r.Header.Get("Origin"), 100)+" is not this IdP")
		return
	}
	if !a.login.CheckCSRF(r, r.PostForm.Get("csrf_token")) {
		a.pages.Refuse(w, r, http.StatusForbidden, "launch.csrf", "missing or wrong CSRF token")
		return
	}
	token, ref := launchTokenParam(r.PostForm)
	if ref != nil {
		a.pages.Refuse(w, r, ref.status, ref.reason, ref.detail)
		return
	}
	a.launchRedeem(w, r, token, true)
}

// launchRedeem consumes the token (once, whichever replica asks first),
// signs the customer in with a new session ID when signIn is set, and sends
// the browser on to /console, which builds the Huawei Cloud link as after a
// password login.
func (a *API) launchRedeem(w http.ResponseWriter, r *http.Request, token string, signIn bool) {
	ctx := r.Context()
	now := a.now()
	lt, err := a.store.ConsumeLaunchToken(ctx, launchTokenHash(token), now)
	c, ok := a.launchCustomer(w, r, lt, err)
	if !ok {
		return
	}
	outcome := "signed_in"
	if !signIn {
		outcome = "continued"
	}
	if err := a.store.AppendAudit(ctx, storage.AuditEvent{Time: now.UTC(), Kind: "launch", XAccountID: c.XAccountID,
		Site: lt.Site, ClientAddr: web.ClientAddr(r), Outcome: outcome}); err != nil {
		a.pages.Unavailable(w, r, "audit", err)
		return
	}
	if signIn {
		// The person confirmed: another customer's session is replaced, not
		// inherited, and the session gets a new ID (no fixation).
		if err := a.login.SwitchTo(ctx, c.XAccountID, now); err != nil {
			a.pages.Unavailable(w, r, "session", err)
			return
		}
	}
	a.metrics.Launch("used")
	a.log.InfoContext(ctx, "launch", "customer", c.XAccountID, "site", lt.Site, "outcome", outcome, "client", web.ClientAddr(r))

	next := url.Values{"site": {lt.Site}}
	if lt.Service != "" {
		next.Set("service", lt.Service)
	}
	http.Redirect(w, r, "/console?"+next.Encode(), http.StatusSeeOther)
}
