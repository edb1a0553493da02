package mockiam

import (
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hcidp/saml"
	"net/http"
	"net/url"
)

// Bind actions of the notification (bindAction in BindDocument).
const (
	BindActionBind   = "0"
	BindActionUnbind = "1"
)

// Signature conventions of the notification: the IdP accepts a Signature
// over either, because Huawei's guide says only "of the bindRequest".
const (
	// ConventionValue (a) signs the bindRequest value, the base64 text.
	ConventionValue = "value"
	// ConventionQuery (b) signs "bindRequest=<v>&SigAlg=<v>", the values
	// form-encoded as the browser sends them (the redirect-binding octets).
	ConventionQuery = "query"
)

// BindDocument is the JSON carried, base64-encoded, in the bindRequest
// parameter of the bind-result notification, as Huawei's Partner Center
// guide ("Binding notification API") documents it, in its field order.
type BindDocument struct {
	DomainName string `json:"domainName"`
	DomainID   string `json:"domainId"`
	XUserID    string `json:"xUserId"`
	BindAction string `json:"bindAction"`
}

// Notification is a signed bind-result notification: its three parameters
// (values not yet form-encoded) and the convention of its Signature.
type Notification struct {
	BindRequest, SigAlg, Signature string
	Convention                     string
}

// Values returns the parameters in the order Huawei documents them.
func (n Notification) Values() url.Values {
	return url.Values{"bindRequest": {n.BindRequest}, "SigAlg": {n.SigAlg}, "Signature": {n.Signature}}
}

// Query returns the parameters form-encoded, in the documented order: the
// body the browser POSTs, or the query of a GET.
func (n Notification) Query() string {
	return "bindRequest=" + url.QueryEscape(n.BindRequest) + "&SigAlg=" + url.QueryEscape(n.SigAlg) +
		"&Signature=" + url.QueryEscape(n.Signature)
}

// SignNotification signs doc (the JSON) as a notification: bindRequest is
// its standard base64, SigAlg rsa-sha256, Signature over convention
// (ConventionValue or ConventionQuery; "" is the configured one). Browsers
// form-encode exactly what url.QueryEscape does for base64 text and the
// SigAlg URI (letters, digits, "-", "." and "_" stay, the rest is %XX), so
// the octets of ConventionQuery are those the IdP receives. signWith nil
// means the mock's own key.
func (s *Server) SignNotification(doc []byte, signWith *rsa.PrivateKey, convention string) (Notification, error) {
	if signWith == nil {
		signWith = s.cfg.Key
	}
	if convention == "" {
		convention = s.cfg.BindConvention
	}
	n := Notification{BindRequest: base64.StdEncoding.EncodeToString(doc), SigAlg: saml.AlgRSASHA256, Convention: convention}
	var message string
	switch convention {
	case ConventionValue:
		message = n.BindRequest
	case ConventionQuery:
		message = "bindRequest=" + url.QueryEscape(n.BindRequest) + "&SigAlg=" + url.QueryEscape(n.SigAlg)
	default:
		return Notification{}, fmt.Errorf("mockiam: unknown bind signature convention %q", convention)
	}
	sig, err := signOctets(signWith, sigAlgHashes[saml.AlgRSASHA256], message)
	if err != nil {
		return Notification{}, err
	}
	n.Signature = sig
	return n, nil
}

// SignedBindURL returns the notification URL (BindCallbackURL) carrying
// doc as a GET: bindRequest, SigAlg and Signature in the query, signed over
// the configured convention. signWith nil means the mock's own key. It
// returns "" if no notification URL is configured or signing fails.
func (s *Server) SignedBindURL(doc []byte, signWith *rsa.PrivateKey) string {
	base := s.idpSnapshot().bindURL
	if base == "" {
		return ""
	}
	n, err := s.SignNotification(doc, signWith, "")
	if err != nil {
		s.log.Error("cannot sign bind notification", "err", err)
		return ""
	}
	return joinQuery(base, n.Query())
}

// notify sends the browser to the IdP's Notification URL with doc, as
// Huawei documents it: an auto-submitting form POST (a visible button
// without JavaScript), or, with Config.BindByGET, a redirect.
func (s *Server) notify(w http.ResponseWriter, r *http.Request, doc BindDocument) {
	raw, err := json.Marshal(doc)
	if err != nil {
		s.errorPage(w, http.StatusInternalServerError, "Internal error", "The bind notification could not be encoded.", nil)
		return
	}
	target := s.idpSnapshot().bindURL
	n, err := s.SignNotification(raw, nil, "")
	if err != nil {
		s.errorPage(w, http.StatusInternalServerError, "Internal error", "The bind notification could not be signed.", nil)
		return
	}
	s.log.Info("bind notification sent", "x_user_id", doc.XUserID, "domain_id", doc.DomainID, "bind_action", doc.BindAction,
		"convention", n.Convention, "get", s.cfg.BindByGET)
	if s.cfg.BindByGET {
		http.Redirect(w, r, joinQuery(target, n.Query()), http.StatusFound)
		return
	}
	nonce := randomHex(16)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+nonce+
		"'; form-action "+s.formAction()+"; frame-ancestors 'none'; base-uri 'none'")
	s.render(w, http.StatusOK, "notify", notifyPage{Action: target, BindRequest: n.BindRequest, SigAlg: n.SigAlg,
		Signature: n.Signature, Nonce: nonce, Unbind: doc.BindAction == BindActionUnbind})
}

// handleBind is the "Create and bind" button of the page shown after the
// first login of an unbound customer.
func (s *Server) handleBind(w http.ResponseWriter, r *http.Request) {
	if !s.parseSmallForm(w, r) {
		return
	}
	pendingID, token := r.PostForm.Get("pending"), r.PostForm.Get("csrf")
	now := s.now()
	s.mu.Lock()
	p := s.pending[pendingID]
	if p != nil && subtle.ConstantTimeCompare([]byte(p.csrf), []byte(token)) == 1 {
		delete(s.pending, pendingID) // single use
	} else {
		p = nil
	}
	s.mu.Unlock()
	if p == nil || now.After(p.expires) {
		s.errorPage(w, http.StatusForbidden, "Bind request refused",
			"This bind form is unknown, expired, already used, or its token does not match. Log in again from the partner portal.", nil)
		return
	}

	domainID := randomHex(16)
	domainName := "hw" + randomAlnum(8)
	if err := s.setBinding(p.xAccountID, &binding{DomainID: domainID, DomainName: domainName}); err != nil {
		s.errorPage(w, http.StatusInternalServerError, "Internal error", "The binding could not be saved: "+err.Error(), nil)
		return
	}
	s.log.Info("account bound", "x_account_id", p.xAccountID, "domain_id", domainID, "domain_name", domainName)
	s.startSession(w, p.xAccountID, domainName, p.attributes, p.service)

	if s.idpSnapshot().bindURL == "" {
		s.render(w, http.StatusOK, "bound", boundPage{XAccountID: p.xAccountID, DomainID: domainID, DomainName: domainName, Console: PathConsole})
		return
	}
	s.notify(w, r, BindDocument{DomainName: domainName, DomainID: domainID, XUserID: p.xUserID, BindAction: BindActionBind})
}

// handleUnbind is the console's "Unbind" button: the binding is removed,
// the console session ends, and the IdP is notified with bindAction "1".
func (s *Server) handleUnbind(w http.ResponseWriter, r *http.Request) {
	if !s.parseSmallForm(w, r) {
		return
	}
	token, sess := s.consoleSession(r)
	if sess == nil || subtle.ConstantTimeCompare([]byte(sess.csrf), []byte(r.PostForm.Get("csrf"))) != 1 {
		s.errorPage(w, http.StatusForbidden, "Unbind refused",
			"There is no console session, or the form's token does not match it. Open the console from the partner portal again.", nil)
		return
	}
	s.mu.Lock()
	b, bound := s.bindings[sess.xAccountID]
	delete(s.sessions, token)
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: s.cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	if !bound {
		s.errorPage(w, http.StatusConflict, "Not bound", "No Huawei Cloud account is bound to "+sess.xAccountID+".", nil)
		return
	}
	if err := s.setBinding(sess.xAccountID, nil); err != nil {
		s.errorPage(w, http.StatusInternalServerError, "Internal error", "The binding could not be saved: "+err.Error(), nil)
		return
	}
	s.log.Info("account unbound", "x_account_id", sess.xAccountID, "domain_id", b.DomainID)
	if s.idpSnapshot().bindURL == "" {
		s.render(w, http.StatusOK, "unbound", boundPage{XAccountID: sess.xAccountID, DomainID: b.DomainID, DomainName: b.DomainName})
		return
	}
	s.notify(w, r, BindDocument{DomainName: b.DomainName, DomainID: b.DomainID, XUserID: sess.xAccountID, BindAction: BindActionUnbind})
}

// parseSmallForm parses a POSTed form of the mock's own pages.
func (s *Server) parseSmallForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		s.errorPage(w, status, "Unreadable form", "The form could not be read.", nil)
		return false
	}
	return true
}
