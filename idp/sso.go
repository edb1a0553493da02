package idp

import (
	"context"
	"encoding/base64"
	"errors"
	"hcidp/internal/xmlguard"
	"hcidp/saml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"hcidp/customer"
	"hcidp/storage"
	"hcidp/templates"
)

// verifiedRequest is an AuthnRequest that passed every check of SECURITY.md
// "Order of checks" up to and including the replay cache.
type verifiedRequest struct {
	SP         *ServiceProvider
	ID         string
	ACS        string
	RelayState *string
	ForceAuthn bool
	IsPassive  bool
	// NameIDUnsupported is set when the NameIDPolicy asks for a format we do
	// not issue: the answer is a signed error Response.
	NameIDUnsupported bool
	// Replay is the request's replay-cache entry, written with the answer
	// (or when the request starts waiting for a sign-in), never before
	// every check has passed.
	Replay *storage.RequestID
}

// handleSSO is the SingleSignOnService, HTTP-Redirect binding.
func (s *Server) handleSSO(w http.ResponseWriter, r *http.Request) {
	if !s.getOnly(w, r, "request.method") {
		return
	}
	req, ref := s.verifyAuthnRequest(r)
	if ref != nil {
		s.refuse(w, r, ref)
		return
	}
	ctx := r.Context()
	if req.NameIDUnsupported {
		s.postError(w, r, req, saml.StatusRequester, saml.StatusInvalidNameIDPolicy, "only transient NameIDs are issued")
		return
	}
	customerID, authAt := s.signedIn(ctx)
	if customerID == "" || req.ForceAuthn {
		if req.IsPassive {
			s.postError(w, r, req, saml.StatusResponder, saml.StatusNoPassive, "the customer is not signed in")
			return
		}
		// 8. The replay cache now, so that a replayed request cannot start a
		// second sign-in; the flow itself waits in a cookie, not a row.
		err := s.store.InsertRequestID(ctx, req.Replay.Issuer, req.Replay.ID, req.Replay.Expires)
		if errors.Is(err, storage.ErrAlreadyExists) {
			s.refuse(w, r, refuse(400, "request.replayed", "request ID "+req.ID+" was already used"))
			return
		}
		if err != nil {
			s.unavailable(w, r, "replay_cache", err)
			return
		}
		flow := s.addPending(w, r, pendingFlow{Kind: "saml", Site: req.SP.Site, RequestID: req.ID, ACS: req.ACS,
			RelayState: req.RelayState, ForceAuthn: req.ForceAuthn})
		s.metrics.SSO("login_required", "")
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(flow), http.StatusSeeOther)
		return
	}
	s.issue(w, r, req, customerID, authAt, req.Replay)
}

// verifyAuthnRequest runs checks 1-7 of docs/threat-model.md "Order of
// checks at the SSO endpoint" in order and writes nothing; check 8, the
// replay cache, is written with the answer (issue, postError) or when the
// request starts waiting for a sign-in (handleSSO).
func (s *Server) verifyAuthnRequest(r *http.Request) (*verifiedRequest, *Refusal) {
	// 1. Size limits before parsing.
	if len(r.URL.RawQuery)+len(r.URL.Path) > maxURLBytes {
		return nil, refuse(http.StatusRequestURITooLong, "request.uri_too_long", "the request URI exceeds 16 KiB")
	}
	// 2. Strict parse of the raw query.
	q, ref := parseSignedQuery(r.URL.RawQuery, "SAMLRequest", "RelayState", "SigAlg", "Signature")
	if ref != nil {
		return nil, ref
	}
	samlReq, relay := q.get("SAMLRequest"), q.get("RelayState")
	if !samlReq.Set || samlReq.Value == "" {
		return nil, refuse(400, "request.missing", "no SAMLRequest parameter")
	}
	if relay.Set {
		if len(relay.Value) > maxRelayState {
			return nil, refuse(400, "relaystate.too_long", "RelayState exceeds 1024 bytes")
		}
		if hasControlOrFormat(relay.Value) || !xmlguard.ValidString(relay.Value) {
			return nil, refuse(400, "relaystate.invalid", "RelayState holds control or format characters or invalid UTF-8")
		}
	}
	// 3. SigAlg allow-list before any crypto. 4. Signature over the raw
	// received octets with the SPs' metadata keys.
	qs, ref := s.verifySignedQuery(q, "the request", "SAMLRequest", "RelayState", "SigAlg")
	if ref != nil {
		return nil, ref
	}
	// 5. Inflate with a hard cap. 6. Pre-scan, round-trip check, unmarshal.
	doc, ref := inflateRequest(samlReq.Value)
	if ref != nil {
		return nil, ref
	}
	req, ref := parseAuthnRequest(doc)
	if ref != nil {
		return nil, ref
	}
	// 7. Semantic checks.
	sp := s.spByEntity(req.Issuer.Value)
	if sp == nil {
		return nil, refuse(400, "request.unknown_issuer", "Issuer "+truncate(req.Issuer.Value, 200)+" is not a configured SP")
	}
	if !qs.verifiedBy(sp) {
		return nil, refuse(http.StatusForbidden, "signature.issuer_mismatch", "the request was signed by another SP than its Issuer")
	}
	if req.Destination != "" && req.Destination != s.ssoURL {
		return nil, refuse(400, "request.destination", "Destination "+truncate(req.Destination, 200)+" is not "+s.ssoURL)
	}
	issued, err := parseInstant(req.IssueInstant)
	if err != nil {
		return nil, refuse(400, "request.issue_instant", err.Error())
	}
	now := s.now()
	skew, lifetime := s.cfg.ClockSkew.D(), s.cfg.RequestLifetime.D()
	if issued.After(now.Add(skew)) {
		return nil, refuse(400, "request.future", "IssueInstant is in the future beyond the allowed clock skew")
	}
	if issued.Before(now.Add(-lifetime - skew)) {
		return nil, refuse(400, "request.expired", "IssueInstant is older than the request lifetime")
	}
	acs, ref := selectACS(sp, req)
	if ref != nil {
		return nil, ref
	}
	v := &verifiedRequest{SP: sp, ID: req.ID, ACS: acs, ForceAuthn: xsBool(req.ForceAuthn), IsPassive: xsBool(req.IsPassive)}
	if relay.Set {
		rs := relay.Value
		v.RelayState = &rs
	}
	if p := req.NameIDPolicy; p != nil && p.Format != "" && p.Format != saml.NameIDFormatTransient && p.Format != saml.NameIDFormatUnspecified {
		v.NameIDUnsupported = true
	}
	// 8. The replay-cache entry, shared by all replicas: kept as long as the
	// request could pass the IssueInstant checks above.
	v.Replay = &storage.RequestID{Issuer: req.Issuer.Value, ID: req.ID, Expires: issued.Add(lifetime + 2*skew)}
	return v, nil
}

// selectACS picks the AssertionConsumerService: the requested URL only if it
// is byte-for-byte one of the SP's HTTP-POST endpoints, or the requested
// index, else the metadata default.
func selectACS(sp *ServiceProvider, req *AuthnRequest) (string, *Refusal) {
	switch {
	case req.AssertionConsumerServiceURL != "":
		ep, ok := sp.Meta.ACSByURL(req.AssertionConsumerServiceURL)
		if !ok {
			return "", refuse(400, "request.acs", "AssertionConsumerServiceURL "+truncate(req.AssertionConsumerServiceURL, 200)+" is not in the SP metadata")
		}
		return ep.Location, nil
	case req.AssertionConsumerServiceIndex != "":
		i, err := strconv.Atoi(req.AssertionConsumerServiceIndex)
		if err != nil {
			return "", refuse(400, "request.acs", "AssertionConsumerServiceIndex is not a number")
		}
		ep, ok := sp.Meta.ACSByIndex(i)
		if !ok {
			return "", refuse(400, "request.acs", "AssertionConsumerServiceIndex is not in the SP metadata")
		}
		return ep.Location, nil
	}
	return sp.Meta.DefaultACS.Location, nil
}

// issue builds, signs and posts the Response for a signed-in customer.
// replay, when not nil, is the replay-cache entry written in the same
// transaction as the audit row, before anything is signed: a replayed
// request is refused without a signature, and a database fault burns no
// request ID.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, req *verifiedRequest, customerID string, authAt time.Time, replay *storage.RequestID) {
	ctx := r.Context()
	c, err := s.store.GetCustomer(ctx, customerID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.Disabled) {
		s.sessions.Destroy(ctx)
		s.refuse(w, r, refuse(http.StatusForbidden, "customer.disabled", "customer "+customerID+" is disabled or gone"))
		return
	}
	if err != nil {
		s.unavailable(w, r, "customer", err)
		return
	}
	now := s.now()
	p := &ResponseParams{
		ResponseID:   s.newID(),
		AssertionID:  s.newID(),
		IssueInstant: now,
		Destination:  req.ACS,
		InResponseTo: req.ID,
		SPEntityID:   req.SP.Meta.EntityID,
		NameID:       s.newID(),
		SessionIndex: s.newID(),
		AuthnInstant: authAt,
		NotBefore:    now.Add(-s.cfg.ClockSkew.D()),
		NotOnOrAfter: now.Add(s.cfg.AssertionLifetime.D()),
		Attributes:   s.attributes(ctx, c),
	}
	if !s.recordResponse(w, r, replay, storage.AuditEvent{Time: now, Kind: "response", XAccountID: c.XAccountID,
		Site: req.SP.Site, RequestID: req.ID, AssertionID: p.AssertionID, ClientAddr: clientAddr(r), Outcome: "issued"}) {
		return
	}
	start := time.Now()
	doc, err := s.trust().signer.Response(p)
	s.metrics.Signing(time.Since(start))
	if err != nil {
		s.internalError(w, r, "build response", err)
		return
	}
	s.metrics.SSO("issued", "")
	s.log.InfoContext(ctx, "response issued", "customer", c.XAccountID, "site", req.SP.Site, "saml_request_id", req.ID, "assertion_id", p.AssertionID)
	s.post(w, r, req, doc)
}

// attributes returns the profile's attributes for c. An optional value that
// breaks its rule is omitted and logged, never sent malformed (PROFILE.md §3).
func (s *Server) attributes(ctx context.Context, c storage.Customer) []Attribute {
	attrs := make([]Attribute, 0, 6)
	attrs = append(attrs, Attribute{"xUserId", c.XAccountID}, Attribute{"xAccountId", c.XAccountID}, Attribute{"bpId", s.cfg.BpID})
	for _, a := range []Attribute{{"email", c.Email}, {"name", c.Name}, {"mobile", c.Mobile}} {
		if a.Value == "" {
			continue
		}
		if err := customer.CheckAttribute(a.Name, a.Value); err != nil {
			s.log.WarnContext(ctx, "attribute omitted: value breaks its rule", "customer", c.XAccountID, "attribute", a.Name, "err", err)
			continue
		}
		attrs = append(attrs, a)
	}
	return attrs
}

// recordResponse commits the replay-cache entry (when not nil) and the audit
// row of a Response in one transaction; it answers a replay (400) or a
// storage fault (503) itself and returns false then.
func (s *Server) recordResponse(w http.ResponseWriter, r *http.Request, replay *storage.RequestID, audit storage.AuditEvent) bool {
	err := s.store.RecordResponse(r.Context(), replay, audit)
	if errors.Is(err, storage.ErrAlreadyExists) {
		s.refuse(w, r, refuse(400, "request.replayed", "request ID "+audit.RequestID+" was already answered"))
		return false
	}
	if err != nil {
		s.unavailable(w, r, "audit", err)
		return false
	}
	return true
}

// postError sends a signed SAML error Response (no assertion) to the ACS.
func (s *Server) postError(w http.ResponseWriter, r *http.Request, req *verifiedRequest, status, sub, msg string) {
	// Every Response issued is audited, error Responses too (no assertion).
	customerID, _ := s.signedIn(r.Context())
	if !s.recordResponse(w, r, req.Replay, storage.AuditEvent{Time: s.now(), Kind: "error_response", XAccountID: customerID,
		Site: req.SP.Site, RequestID: req.ID, ClientAddr: clientAddr(r), Outcome: sub[strings.LastIndexByte(sub, ':')+1:]}) {
		return
	}
	doc, err := s.trust().signer.ErrorResponse(&ErrorParams{ResponseID: s.newID(), IssueInstant: s.now(), Destination: req.ACS,
		InResponseTo: req.ID, StatusCode: status, SubStatus: sub, Message: msg})
	if err != nil {
		s.internalError(w, r, "build error response", err)
		return
	}
	s.metrics.SSO("error_response", sub[strings.LastIndexByte(sub, ':')+1:])
	s.log.InfoContext(r.Context(), "error response sent", "site", req.SP.Site, "saml_request_id", req.ID, "status", sub)
	s.post(w, r, req, doc)
}

// post renders the HTTP-POST binding page: auto-submitting with a CSP nonce,
// a visible button without JavaScript, form-action limited to the ACS origin.
func (s *Server) post(w http.ResponseWriter, r *http.Request, req *verifiedRequest, doc []byte) {
	u, _ := url.Parse(req.ACS)
	p := s.page(w, r, u.Scheme+"://"+u.Host)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	d := templates.PostData{Page: p, ACS: req.ACS, SAMLResponse: base64.StdEncoding.EncodeToString(doc)}
	if req.RelayState != nil {
		d.RelayState, d.HasRelay = *req.RelayState, true
	}
	// One write with a Content-Length: no chunked encoding, one syscall.
	b := getBuf()
	defer putBuf(b)
	s.pages.WritePost(b, d)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// hasControlOrFormat reports Unicode control (Cc: C0, DEL and C1 such as
// U+0085 NEL and U+009B CSI) and format characters (Cf: bidirectional
// overrides such as U+202E, zero-width U+200B, U+FEFF), which RelayState
// must not carry (docs/threat-model.md "Browser-facing pages"): they are
// invisible or reorder text where the value is shown or logged.
func hasControlOrFormat(s string) bool {
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
