package mockiam

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"hcidp/saml"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// RequestOptions overrides parts of an AuthnRequest so that tests can forge
// variants. The zero value gives a correct, signed request.
type RequestOptions struct {
	// RelayState is the RelayState to send; "" means a fresh random token.
	RelayState string
	// OmitRelayState sends no RelayState (and records no login state).
	OmitRelayState bool
	// ForceAuthn and IsPassive set the corresponding attributes.
	ForceAuthn, IsPassive bool
	// ACSURL overrides AssertionConsumerServiceURL.
	ACSURL string
	// Destination overrides both the Destination attribute and the URL redirected to.
	Destination string
	// IssueInstant overrides the issue instant.
	IssueInstant time.Time
	// ID overrides the request ID.
	ID string
	// NameIDFormat overrides the NameIDPolicy Format.
	NameIDFormat string
	// SigAlg overrides SigAlg; the signature uses the matching hash
	// (rsa-sha1/256/384/512) or SHA-256 for an unknown value.
	SigAlg string
	// SignWith signs with another key (forgery tests).
	SignWith *rsa.PrivateKey
	// Unsigned sends neither SigAlg nor Signature.
	Unsigned bool
}

var sigAlgHashes = map[string]crypto.Hash{
	saml.AlgRSASHA1:   crypto.SHA1,
	saml.AlgRSASHA256: crypto.SHA256,
	saml.AlgRSASHA384: crypto.SHA384,
	saml.AlgRSASHA512: crypto.SHA512,
}

// NewAuthnRequestURL builds a signed AuthnRequest for the HTTP-Redirect
// binding and returns the URL to redirect the browser to and the request ID.
// The request ID and the RelayState are remembered, so the ACS accepts one
// Response to it.
func (s *Server) NewAuthnRequestURL(opts RequestOptions) (redirectURL string, requestID string, err error) {
	return s.newAuthnRequest(opts, "", false)
}

func (s *Server) newAuthnRequest(opts RequestOptions, service string, firstLogin bool) (string, string, error) {
	idp := s.idpSnapshot()
	dest := opts.Destination
	if dest == "" {
		dest = idp.ssoURL
	}
	if dest == "" {
		return "", "", errors.New("mockiam: the IdP SSO URL is not configured (Config.IdPSSOURL or SetIdP)")
	}
	now := s.now()
	id := opts.ID
	if id == "" {
		id = "_" + randomHex(16)
	}
	instant := opts.IssueInstant
	if instant.IsZero() {
		instant = now
	}
	acs := opts.ACSURL
	if acs == "" {
		acs = s.acsURL
	}
	format := opts.NameIDFormat
	if format == "" {
		format = saml.NameIDFormatTransient
	}

	req := etree.NewElement("samlp:AuthnRequest")
	req.CreateAttr("xmlns:samlp", saml.NamespaceProtocol)
	req.CreateAttr("xmlns:saml", saml.NamespaceAssertion)
	req.CreateAttr("ID", id)
	req.CreateAttr("Version", "2.0")
	req.CreateAttr("IssueInstant", instant.UTC().Format("2006-01-02T15:04:05.000Z"))
	req.CreateAttr("Destination", dest)
	req.CreateAttr("AssertionConsumerServiceURL", acs)
	req.CreateAttr("ProtocolBinding", saml.BindingHTTPPost)
	if opts.ForceAuthn {
		req.CreateAttr("ForceAuthn", "true")
	}
	if opts.IsPassive {
		req.CreateAttr("IsPassive", "true")
	}
	req.CreateElement("saml:Issuer").SetText(s.entityID)
	policy := req.CreateElement("samlp:NameIDPolicy")
	policy.CreateAttr("Format", format)
	policy.CreateAttr("AllowCreate", "true")

	doc := etree.NewDocument()
	doc.SetRoot(req)
	xmlBytes, err := doc.WriteToBytes()
	if err != nil {
		return "", "", err
	}
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.BestCompression)
	if err != nil {
		return "", "", err
	}
	if _, err := fw.Write(xmlBytes); err != nil {
		return "", "", err
	}
	if err := fw.Close(); err != nil {
		return "", "", err
	}

	relay := ""
	if !opts.OmitRelayState {
		relay = opts.RelayState
		if relay == "" {
			relay = "rs_" + randomHex(16)
		}
	}
	query := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflated.Bytes()))
	if relay != "" {
		query += "&RelayState=" + url.QueryEscape(relay)
	}
	if !opts.Unsigned {
		alg := opts.SigAlg
		if alg == "" {
			alg = saml.AlgRSASHA256
		}
		query += "&SigAlg=" + url.QueryEscape(alg)
		key := opts.SignWith
		if key == nil {
			key = s.cfg.Key
		}
		h, ok := sigAlgHashes[alg]
		if !ok {
			h = crypto.SHA256
		}
		sig, err := signOctets(key, h, query)
		if err != nil {
			return "", "", err
		}
		query += "&Signature=" + url.QueryEscape(sig)
	}

	s.mu.Lock()
	s.pruneLocked(now)
	s.issued[id] = now
	if relay != "" {
		s.states[relay] = &loginState{requestID: id, service: service, firstLogin: firstLogin, expires: now.Add(stateTTL)}
	}
	s.mu.Unlock()
	s.log.Info("authn request issued", "saml_request_id", id, "destination", dest)
	return joinQuery(dest, query), id, nil
}

// signOctets returns base64(RSA PKCS#1 v1.5 signature over octets).
func signOctets(key *rsa.PrivateKey, h crypto.Hash, octets string) (string, error) {
	hh := h.New()
	hh.Write([]byte(octets))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, hh.Sum(nil))
	if err != nil {
		return "", fmt.Errorf("mockiam: signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

func joinQuery(base, query string) string {
	if strings.Contains(base, "?") {
		return base + "&" + query
	}
	return base + "?" + query
}

// handleLogin is the link the partner portal opens:
// /authui/saml/login?xAccountType=&isFirstLogin=&service=
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	xat := q.Get("xAccountType")
	switch {
	case xat == "":
		s.errorPage(w, http.StatusBadRequest, "Missing xAccountType",
			fmt.Sprintf("The login link has no xAccountType parameter. This mock expects xAccountType=%s (the partner platform ID from Partner Center).", s.cfg.XAccountType), nil)
		return
	case xat != s.cfg.XAccountType:
		s.errorPage(w, http.StatusBadRequest, "Unknown xAccountType",
			fmt.Sprintf("xAccountType %q is not configured on this mock; expected %q. The real IAM looks up the IdP metadata by this value.", xat, s.cfg.XAccountType), nil)
		return
	}
	first := q.Get("isFirstLogin")
	if first != "" && first != "true" && first != "false" {
		s.errorPage(w, http.StatusBadRequest, "Bad isFirstLogin",
			fmt.Sprintf("isFirstLogin is %q; expected \"true\", \"false\" or nothing.", first), nil)
		return
	}
	service := q.Get("service")
	if len(service) > maxServiceLen {
		s.errorPage(w, http.StatusBadRequest, "service too long",
			fmt.Sprintf("The service parameter is %d bytes; this mock accepts at most %d.", len(service), maxServiceLen), nil)
		return
	}
	redirect, id, err := s.newAuthnRequest(RequestOptions{}, service, first == "true")
	if err != nil {
		s.log.Error("cannot build AuthnRequest", "err", err)
		s.errorPage(w, http.StatusServiceUnavailable, "IdP not configured", err.Error(), nil)
		return
	}
	s.log.Info("login started", "saml_request_id", id, "is_first_login", first == "true")
	http.Redirect(w, r, redirect, http.StatusFound)
}
