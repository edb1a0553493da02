package mockiam

import (
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// BindDocument is the JSON carried, base64-encoded, in the bindRequest
// parameter of the bind-result callback. Huawei does not publish the schema;
// these field names are the mock's guess (PROFILE.md §4).
type BindDocument struct {
	XAccountID string `json:"xAccountId"`
	XUserID    string `json:"xUserId"`
	DomainID   string `json:"domainId"`
	DomainName string `json:"domainName"`
	ResultCode string `json:"resultCode"`
	ResultMsg  string `json:"resultMsg"`
	BindTime   string `json:"bindTime"`
}

// SignedBindURL returns the bind callback URL (BindCallbackURL) carrying doc:
// bindRequest=<base64 std of doc>&SigAlg=<rsa-sha256>&Signature=<base64 of
// RSA-SHA256 over the octets "bindRequest=<enc>&SigAlg=<enc>">, each value
// url.QueryEscape'd. signWith nil means the mock's own key. It returns "" if
// no bind callback is configured or signing fails.
func (s *Server) SignedBindURL(doc []byte, signWith *rsa.PrivateKey) string {
	base := s.idpSnapshot().bindURL
	if base == "" {
		return ""
	}
	if signWith == nil {
		signWith = s.cfg.Key
	}
	octets := "bindRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(doc)) +
		"&SigAlg=" + url.QueryEscape(SigAlgRSASHA256)
	sig, err := signOctets(signWith, sigAlgHashes[SigAlgRSASHA256], octets)
	if err != nil {
		s.log.Error("cannot sign bind callback", "err", err)
		return ""
	}
	return joinQuery(base, octets+"&Signature="+url.QueryEscape(sig))
}

// handleBind is the "Create and bind" button of the page shown after the
// first login of an unbound customer.
func (s *Server) handleBind(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		s.errorPage(w, status, "Unreadable form", "The bind form could not be read.", nil)
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
	s.MarkBound(p.xAccountID, domainID, domainName)
	s.log.Info("account bound", "x_account_id", p.xAccountID, "domain_id", domainID, "domain_name", domainName)
	s.startSession(w, p.xAccountID, domainName, p.attributes, p.service)

	doc, err := json.Marshal(BindDocument{
		XAccountID: p.xAccountID,
		XUserID:    p.xUserID,
		DomainID:   domainID,
		DomainName: domainName,
		ResultCode: "0",
		ResultMsg:  "success",
		BindTime:   now.UTC().Format(time.RFC3339),
	})
	if err != nil {
		s.errorPage(w, http.StatusInternalServerError, "Internal error", "The bind result could not be encoded.", nil)
		return
	}
	target := s.SignedBindURL(doc, nil)
	if target == "" {
		s.render(w, http.StatusOK, "bound", boundPage{XAccountID: p.xAccountID, DomainID: domainID, DomainName: domainName, Console: PathConsole})
		return
	}
	http.Redirect(w, r, target, http.StatusFound)
}
