package idp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"hcidp/huawei"
	"hcidp/internal/xmlguard"
	"hcidp/saml"
)

// Request is an AuthnRequest that passed checks 1-7 of docs/threat-model.md
// "Order of checks at the SSO endpoint".
type Request struct {
	SP         *ServiceProvider
	ID         string
	ACS        string
	RelayState *string
	ForceAuthn bool
	IsPassive  bool
	// NameIDUnsupported is set when the NameIDPolicy asks for a format we do
	// not issue: the answer is a signed error Response.
	NameIDUnsupported bool
	// Replay is the request's replay-cache entry (check 8), written with
	// the answer or when the request starts waiting for a sign-in, never
	// before every other check has passed.
	Replay ReplayEntry
}

// Outcome is what the core decided for a request. Exactly one of Refusal,
// Unavailable, Internal, SignIn and Post is set.
type Outcome struct {
	// Refusal: a 4xx; nothing was written.
	Refusal *Refusal
	// Unavailable is the error of a store that failed (503); What names the
	// store for the reason code "<what>.unavailable".
	Unavailable error
	What        string
	// Internal is a bug: a Response that cannot be built (500).
	Internal error
	// SignIn: nobody is signed in, or the request forces a new sign-in.
	// The request is in the replay cache; the web layer signs the customer
	// in and then calls Answer with it.
	SignIn *Request
	// Post is a Response to post to the ACS (HTTP-POST binding).
	Post *Post
	// EndSession asks the web layer to end the browser's session: its
	// customer is disabled or gone.
	EndSession bool
}

// Post is a signed Response and where it goes.
type Post struct {
	ACS        string
	Response   []byte
	RelayState *string
	// Kind is "issued" (an assertion) or "error_response"; Status the
	// second-level status of an error Response, as a short name.
	Kind   string
	Status string
	// SigningTime is how long building and signing took.
	SigningTime time.Duration
}

func refused(status int, reason, detail string) Outcome {
	return Outcome{Refusal: refuse(status, reason, detail)}
}

// ServeSSO runs the SingleSignOnService sequence (HTTP-Redirect binding) on
// r: checks 1-7 (VerifyAuthnRequest), then the replay cache, the sign-in
// state, and the answer.
func (p *IdP) ServeSSO(r *http.Request) Outcome {
	req, ref := p.VerifyAuthnRequest(r)
	if ref != nil {
		return Outcome{Refusal: ref}
	}
	if req.NameIDUnsupported {
		return p.answerError(r, req, saml.StatusRequester, saml.StatusInvalidNameIDPolicy, "only transient NameIDs are issued")
	}
	customerID, at := p.auth.SignedIn(r)
	if customerID != "" && !req.ForceAuthn {
		return p.Answer(r, req, customerID, at, &req.Replay)
	}
	if req.IsPassive {
		return p.answerError(r, req, saml.StatusResponder, saml.StatusNoPassive, "the customer is not signed in")
	}
	// 8. The replay cache now, so that a replayed request cannot start a
	// second sign-in.
	err := p.ledger.Remember(r.Context(), req.Replay)
	if errors.Is(err, ErrReplayed) {
		return refused(400, "request.replayed", "request ID "+req.ID+" was already used")
	}
	if err != nil {
		return Outcome{Unavailable: err, What: "replay_cache"}
	}
	return Outcome{SignIn: req}
}

// VerifyAuthnRequest runs checks 1-7 of docs/threat-model.md "Order of
// checks at the SSO endpoint" in order and writes nothing: size limits,
// strict parse, SigAlg allow-list, signature over the raw octets, capped
// inflate, untrusted-XML guard, semantic checks.
func (p *IdP) VerifyAuthnRequest(r *http.Request) (*Request, *Refusal) {
	// 1. Size limits before parsing.
	if len(r.URL.RawQuery)+len(r.URL.Path) > MaxURLBytes {
		return nil, refuse(http.StatusRequestURITooLong, "request.uri_too_long", "the request URI exceeds 16 KiB")
	}
	// 2. Strict parse of the raw query.
	q, ref := ParseSignedQuery(r.URL.RawQuery, "SAMLRequest", "RelayState", "SigAlg", "Signature")
	if ref != nil {
		return nil, ref
	}
	samlReq, relay := q.Get("SAMLRequest"), q.Get("RelayState")
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
	qs, ref := p.VerifySignedQuery(q, "the request", "SAMLRequest", "RelayState", "SigAlg")
	if ref != nil {
		return nil, ref
	}
	// 5. Inflate with a hard cap. 6. The untrusted-XML guard, unmarshal.
	doc, ref := inflateRequest(samlReq.Value)
	if ref != nil {
		return nil, ref
	}
	req, ref := parseAuthnRequest(doc)
	if ref != nil {
		return nil, ref
	}
	// 7. Semantic checks.
	sp := qs.t.byEntity[req.Issuer.Value]
	if sp == nil {
		return nil, refuse(400, "request.unknown_issuer", "Issuer "+truncate(req.Issuer.Value, 200)+" is not a configured SP")
	}
	if !qs.VerifiedBy(sp) {
		return nil, refuse(http.StatusForbidden, "signature.issuer_mismatch", "the request was signed by another SP than its Issuer")
	}
	if req.Destination != "" && req.Destination != p.cfg.SSOURL {
		return nil, refuse(400, "request.destination", "Destination "+truncate(req.Destination, 200)+" is not "+p.cfg.SSOURL)
	}
	issued, err := parseInstant(req.IssueInstant)
	if err != nil {
		return nil, refuse(400, "request.issue_instant", err.Error())
	}
	now := qs.now
	skew, lifetime := p.cfg.ClockSkew, p.cfg.RequestLifetime
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
	v := &Request{SP: sp, ID: req.ID, ACS: acs, ForceAuthn: xsBool(req.ForceAuthn), IsPassive: xsBool(req.IsPassive)}
	if relay.Set {
		rs := relay.Value
		v.RelayState = &rs
	}
	if pol := req.NameIDPolicy; pol != nil && pol.Format != "" && pol.Format != saml.NameIDFormatTransient && pol.Format != saml.NameIDFormatUnspecified {
		v.NameIDUnsupported = true
	}
	// 8, prepared: kept as long as the request could pass the IssueInstant
	// checks above.
	v.Replay = ReplayEntry{Issuer: req.Issuer.Value, ID: req.ID, Expires: issued.Add(lifetime + 2*skew)}
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

// Answer builds, records and signs the Response to req for customerID,
// signed in at authnInstant. replay, when not nil, is the request's
// replay-cache entry, committed in one transaction with the audit record
// before anything is signed: a replayed request is refused without a
// signature, and a database fault burns no request ID. (A request that
// waited for a sign-in was remembered then: the web layer passes an entry
// that makes its answer once-only instead, or nil.)
func (p *IdP) Answer(r *http.Request, req *Request, customerID string, authnInstant time.Time, replay *ReplayEntry) Outcome {
	ctx := r.Context()
	subj, err := p.dir.Subject(ctx, customerID)
	if errors.Is(err, ErrNoSubject) {
		o := refused(http.StatusForbidden, "customer.disabled", "customer "+customerID+" is disabled or gone")
		o.EndSession = true
		return o
	}
	if err != nil {
		return Outcome{Unavailable: err, What: "customer"}
	}
	now := p.now()
	rp := &ResponseParams{
		ResponseID:   p.newID(),
		AssertionID:  p.newID(),
		IssueInstant: now,
		Destination:  req.ACS,
		InResponseTo: req.ID,
		SPEntityID:   req.SP.Meta.EntityID,
		NameID:       p.newID(),
		SessionIndex: p.newID(),
		AuthnInstant: authnInstant,
		NotBefore:    now.Add(-p.cfg.ClockSkew),
		NotOnOrAfter: now.Add(p.cfg.AssertionLifetime),
		Attributes:   p.attributes(ctx, subj),
	}
	if o, ok := p.record(ctx, replay, Record{Time: now, Kind: "response", XAccountID: subj.XAccountID, Site: req.SP.Site,
		RequestID: req.ID, AssertionID: rp.AssertionID, ClientAddr: p.client(r), Outcome: "issued"}); !ok {
		return o
	}
	start := time.Now()
	doc, err := p.trust().signer.Response(rp)
	took := time.Since(start)
	if err != nil {
		return Outcome{Internal: err}
	}
	p.log.InfoContext(ctx, "response issued", "customer", subj.XAccountID, "site", req.SP.Site, "saml_request_id", req.ID, "assertion_id", rp.AssertionID)
	return Outcome{Post: &Post{ACS: req.ACS, Response: doc, RelayState: req.RelayState, Kind: "issued", SigningTime: took}}
}

// attributes returns the profile's attributes for subj. An optional value
// that breaks its rule is omitted and logged, never sent malformed
// (docs/profile.md §3).
func (p *IdP) attributes(ctx context.Context, subj Subject) []Attribute {
	attrs := make([]Attribute, 0, 6)
	attrs = append(attrs, Attribute{"xUserId", subj.XAccountID}, Attribute{"xAccountId", subj.XAccountID}, Attribute{"bpId", p.cfg.BpID})
	for _, a := range []Attribute{{"email", subj.Email}, {"name", subj.Name}, {"mobile", subj.Mobile}} {
		if a.Value == "" {
			continue
		}
		if err := huawei.CheckAttribute(a.Name, a.Value); err != nil {
			p.log.WarnContext(ctx, "attribute omitted: value breaks its rule", "customer", subj.XAccountID, "attribute", a.Name, "err", err)
			continue
		}
		attrs = append(attrs, a)
	}
	return attrs
}

// record commits the audit record (and the replay entry, when not nil);
// when it cannot, it returns the Outcome to answer with.
func (p *IdP) record(ctx context.Context, replay *ReplayEntry, rec Record) (Outcome, bool) {
	err := p.ledger.Record(ctx, replay, rec)
	if errors.Is(err, ErrReplayed) {
		return refused(400, "request.replayed", "request ID "+rec.RequestID+" was already answered"), false
	}
	if err != nil {
		return Outcome{Unavailable: err, What: "audit"}, false
	}
	return Outcome{}, true
}

// answerError answers req with a signed SAML error Response (no
// assertion), audited like every Response.
func (p *IdP) answerError(r *http.Request, req *Request, status, sub, msg string) Outcome {
	customerID, _ := p.auth.SignedIn(r)
	short := sub[strings.LastIndexByte(sub, ':')+1:]
	if o, ok := p.record(r.Context(), &req.Replay, Record{Time: p.now(), Kind: "error_response", XAccountID: customerID,
		Site: req.SP.Site, RequestID: req.ID, ClientAddr: p.client(r), Outcome: short}); !ok {
		return o
	}
	doc, err := p.trust().signer.ErrorResponse(&ErrorParams{ResponseID: p.newID(), IssueInstant: p.now(), Destination: req.ACS,
		InResponseTo: req.ID, StatusCode: status, SubStatus: sub, Message: msg})
	if err != nil {
		return Outcome{Internal: err}
	}
	p.log.InfoContext(r.Context(), "error response sent", "site", req.SP.Site, "saml_request_id", req.ID, "status", sub)
	return Outcome{Post: &Post{ACS: req.ACS, Response: doc, RelayState: req.RelayState, Kind: "error_response", Status: short}}
}

// hasControlOrFormat reports whether s holds a Unicode control (Cc, which
// includes C0, DEL and C1 such as U+0085) or format (Cf, such as U+202E
// and U+200B) character: refused in RelayState (docs/threat-model.md
// "Browser-facing pages").
func hasControlOrFormat(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
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
