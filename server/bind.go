package server

// The bind-result notification (docs/profile.md §4). After the SAML login,
// Huawei IAM binds a Huawei Cloud account to the customer ("create and
// bind") or unbinds it, then sends the browser to the partner's Notification
// URL, {base_url}/saml/bind, with the form parameters bindRequest (base64 of
// a JSON object), SigAlg and Signature. The request path reads as a
// sequence: read the form or query (size caps, strict parse) -> verify the
// signature -> decode base64 -> strict JSON -> apply by state, with the
// recent-SSO check, in one transaction -> 303 to the result page.
//
// The browser arrives by a cross-site POST, so the SameSite=Lax session
// cookie is not sent: the binding comes from the signed document alone,
// never from a session. The redirected GET of the result page carries the
// cookie again and continues to the console the customer was heading for.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"hcidp/customer"
	"hcidp/huawei"
	"hcidp/idp"
	"hcidp/storage"
	"hcidp/templates"
	"hcidp/web"
)

const (
	// maxBindBody caps a POSTed notification body before it is parsed.
	maxBindBody = 16 << 10
	// maxBindRequest caps the encoded bindRequest parameter.
	maxBindRequest = 8 << 10
	// bindEventIDBytes is the entropy of a bind event ID (128 bits): the
	// result page's reference, stored with the event.
	bindEventIDBytes = 16
)

// Signature conventions of the notification. Huawei's guide says only
// that Signature is "of the bindRequest", so a signature is accepted over
// exactly one of two messages, and which one verified is logged, counted
// (hcidp_bind_callbacks_total{convention}) and stored with the event:
//
//   - conventionValue, (a): the bindRequest value itself, as the base64
//     text received, that is after the form's (or query's) percent-decoding:
//     for bindRequest=eyJ4%2BeQ%3D%3D the signed octets are eyJ4+eQ==.
//   - conventionQuery, (b): the redirect-binding convention (SAML bindings
//     §3.4.4.1) "bindRequest=<v>&SigAlg=<v>" with both values exactly as
//     received, still percent-encoded: bindRequest=eyJ4%2BeQ%3D%3D&SigAlg=http%3A%2F%2F…
//     In a multipart/form-data body nothing is percent-encoded, so <v> are
//     the field values as received.
//
// Nothing else: not other parameter orders, not re-encoded values.
const (
	conventionValue = "value"
	conventionQuery = "query"
)

var bindConventions = [...]string{conventionValue, conventionQuery}

// bindParams are the names the strict parsers look for.
var bindParams = []string{"bindRequest", "SigAlg", "Signature"}

// handleBind is the Notification URL: POST (form data, as Huawei documents
// it) and GET (the same three parameters in the query).
func (s *Server) handleBind(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		// HEAD too: a prefetcher must not record a bind event.
		w.Header().Set("Allow", "GET, POST")
		s.refuseBind(w, r, idp.Refuse(http.StatusMethodNotAllowed, "bind.method", r.Method+" is not allowed"), "")
		return
	}
	ev, ref := s.verifyBind(w, r)
	if ref != nil {
		conv := ""
		if ev != nil {
			conv = ev.Convention
		}
		s.refuseBind(w, r, ref, conv)
		return
	}
	ctx := r.Context()
	// The binding comes from the signed document, never from the session;
	// a session of another customer means the document was replayed into it
	// (a GET carries the cookie; the cross-site POST does not).
	if id, _ := s.login.SignedIn(r); id != "" && id != ev.XAccountID {
		s.refuseBind(w, r, idp.Refuse(http.StatusForbidden, "bind.session_mismatch", "the notification names another customer than the signed-in one"), ev.Convention)
		return
	}
	// A bind only in the context of a recent assertion for that customer
	// and site, shared by all replicas through the audit log; an unbind
	// needs none. Checked inside the transaction that applies the event.
	applied, err := s.store.ApplyBindEvent(ctx, *ev, ev.ReceivedAt.Add(-s.cfg.BindWindow))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.refuseBind(w, r, idp.Refuse(400, "bind.unknown_customer", "the notification names an unknown customer "+truncate(ev.XAccountID, 130)), ev.Convention)
		return
	case errors.Is(err, storage.ErrNoRecentSSO):
		s.refuseBind(w, r, idp.Refuse(http.StatusForbidden, "bind.no_recent_sso",
			fmt.Sprintf("no assertion for site %s was issued to %s within bind_window (%s): out of context", ev.Site, truncate(ev.XAccountID, 130), s.cfg.BindWindow)), ev.Convention)
		return
	case errors.Is(err, storage.ErrOtherAccount):
		s.refuseBind(w, r, idp.Refuse(http.StatusConflict, "bind.other_account",
			"the unbind names Huawei Cloud account "+truncate(ev.DomainID, 130)+", not the one bound"), ev.Convention)
		return
	case err != nil:
		s.pages.Unavailable(w, r, "binding", err)
		return
	}
	s.metrics.Bind(applied.Outcome, "", applied.Convention)
	attrs := []any{"customer", applied.XAccountID, "site", applied.Site, "action", applied.Action, "outcome", applied.Outcome,
		"convention", applied.Convention, "domain_id", applied.DomainID, "event", applied.ID, "sha256", applied.DocumentHash}
	if applied.Outcome == storage.BindOutcomeRebound {
		// Never silent: the customer's Huawei Cloud account changed.
		s.log.WarnContext(ctx, "bind notification rebinds the customer to another Huawei Cloud account",
			append(attrs, "old_domain_id", applied.PreviousDomainID, "old_domain_name", applied.PreviousDomainName)...)
	} else {
		s.log.InfoContext(ctx, "bind notification applied", attrs...)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/saml/bind/result?event="+url.QueryEscape(applied.ID), http.StatusSeeOther)
}

// refuseResult answers a result page that cannot be shown.
func (s *Server) refuseResult(w http.ResponseWriter, r *http.Request, ref *idp.Refusal) {
	s.pages.LogRefusal(r, ref.Status, ref.Reason, ref.Detail)
	s.pages.RefusalPage(w, r, ref.Status, ref.Reason, "bind_result_unknown_body")
}

// refuseBind answers a refused notification: the status, a page in the
// customer's language, the reason (and the convention, once the signature
// verified) in the log and the metric.
func (s *Server) refuseBind(w http.ResponseWriter, r *http.Request, ref *idp.Refusal, convention string) {
	s.pages.LogRefusal(r, ref.Status, ref.Reason, ref.Detail, "convention", convention)
	s.metrics.Bind("refused", ref.Reason, convention)
	s.pages.RefusalPage(w, r, ref.Status, ref.Reason, "bind_error_body")
}

// verifyBind applies the SSO endpoint's discipline to the notification and
// decodes the signed document. Nothing is written here. Once the signature
// verified, the returned event carries the convention even with a refusal.
func (s *Server) verifyBind(w http.ResponseWriter, r *http.Request) (*storage.BindEvent, *idp.Refusal) {
	q, ref := s.readBindParams(w, r)
	if ref != nil {
		return nil, ref
	}
	doc := q.Get("bindRequest")
	if !doc.Set || doc.Value == "" {
		return nil, idp.Refuse(400, "bind.missing", "no bindRequest parameter")
	}
	if len(doc.Raw) > maxBindRequest {
		status := http.StatusRequestURITooLong
		if r.Method == http.MethodPost {
			status = http.StatusRequestEntityTooLarge
		}
		return nil, idp.Refuse(status, "bind.too_large", "bindRequest exceeds 8 KiB")
	}
	// SigAlg allow-list, then the signature, before anything is decoded.
	qs, conv, ref := s.verifyBindSignature(q)
	if ref != nil {
		return nil, ref
	}
	refused := &storage.BindEvent{Convention: conv}
	raw, err := decodeBase64Any(doc.Value)
	if err != nil || len(raw) > huawei.MaxBindDocument {
		return refused, idp.Refuse(400, "bind.base64", "bindRequest is not base64 or is too large")
	}
	ev, ref := parseBindDocument(raw)
	if ref != nil {
		return refused, ref
	}
	ev.Convention = conv
	ev.Site = s.bindSite(r.Context(), qs).Site
	ev.ID = web.Token(s.rand, bindEventIDBytes)
	ev.ClientAddr = web.ClientAddr(r)
	ev.ReceivedAt = s.now().UTC()
	return ev, nil
}

// verifyBindSignature checks the signature over the two conventions'
// messages and returns the convention that verified.
func (s *Server) verifyBindSignature(q *idp.SignedQuery) (*idp.QuerySignature, string, *idp.Refusal) {
	value := []byte(q.Get("bindRequest").Value)
	octets := idp.SignedOctets(q, "bindRequest", "SigAlg")
	qs, i, ref := s.idp.VerifySignedMessages(q, "the bind notification", value, octets)
	if ref != nil {
		return nil, "", ref
	}
	return qs, bindConventions[i], nil
}

// readBindParams reads bindRequest, SigAlg and Signature from the query
// (GET) or the form body (POST), strictly: size caps before parsing, each
// parameter at most once, no ';' separators. Other parameters are ignored,
// as on the SSO endpoint.
func (s *Server) readBindParams(w http.ResponseWriter, r *http.Request) (*idp.SignedQuery, *idp.Refusal) {
	if r.Method != http.MethodPost {
		if len(r.URL.RawQuery)+len(r.URL.Path) > idp.MaxURLBytes {
			return nil, idp.Refuse(http.StatusRequestURITooLong, "bind.uri_too_long", "the notification URI exceeds 16 KiB")
		}
		return idp.ParseSignedQuery(r.URL.RawQuery, bindParams...)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return nil, idp.Refuse(http.StatusUnsupportedMediaType, "bind.content_type",
			"the notification body is "+truncate(r.Header.Get("Content-Type"), 100)+", not form data")
	}
	if r.ContentLength > maxBindBody {
		return nil, idp.Refuse(http.StatusRequestEntityTooLarge, "bind.body_too_large", "the notification body exceeds 16 KiB")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBindBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, idp.Refuse(http.StatusRequestEntityTooLarge, "bind.body_too_large", "the notification body exceeds 16 KiB")
		}
		return nil, idp.Refuse(400, "form.malformed", "the notification body could not be read: "+err.Error())
	}
	if mt == "multipart/form-data" {
		return parseMultipartForm(body, params["boundary"], bindParams...)
	}
	// The raw body octets through the query parser: the still-encoded values
	// are kept for convention (b). Its reason codes say "query"; here the
	// input is a form.
	q, ref := idp.ParseSignedQuery(string(body), bindParams...)
	if ref != nil {
		ref.Reason = "form." + strings.TrimPrefix(ref.Reason, "query.")
		return nil, ref
	}
	return q, nil
}

// parseMultipartForm parses a multipart/form-data body (already capped)
// strictly: any field present twice is refused, known fields or not. Parts
// are read raw (no Content-Transfer-Encoding decoding), and because a
// multipart body has no percent-encoding, a field's "raw" value is its
// value as received: Raw == Value.
func parseMultipartForm(body []byte, boundary string, known ...string) (*idp.SignedQuery, *idp.Refusal) {
	if boundary == "" {
		return nil, idp.Refuse(400, "form.malformed", "multipart/form-data without a boundary")
	}
	q := idp.NewSignedQuery(known...)
	seen := map[string]bool{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return q, nil
		}
		if err != nil {
			return nil, idp.Refuse(400, "form.malformed", "the multipart body is malformed: "+err.Error())
		}
		name := p.FormName()
		if name == "" {
			return nil, idp.Refuse(400, "form.malformed", "a multipart part is not a form field")
		}
		if seen[name] {
			return nil, idp.Refuse(400, "form.duplicate", "form field "+truncate(name, 100)+" appears more than once")
		}
		seen[name] = true
		v, err := io.ReadAll(p)
		if err != nil {
			return nil, idp.Refuse(400, "form.malformed", "the multipart body is malformed: "+err.Error())
		}
		q.Set(name, string(v), string(v))
	}
}

// decodeBase64Any accepts standard or URL-safe base64, padded or not
// (docs/profile.md §4).
func decodeBase64Any(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// parseBindDocument decodes the notification's JSON with the strict
// parser of package huawei (docs/profile.md §4) and checks xUserId against
// the customer ID rules. Nothing is written.
func parseBindDocument(raw []byte) (*storage.BindEvent, *idp.Refusal) {
	d, err := huawei.ParseBindDocument(raw)
	if err != nil {
		reason := "bind.json"
		var de *huawei.DocumentError
		if errors.As(err, &de) {
			reason = de.Reason
		}
		return nil, idp.Refuse(400, reason, err.Error())
	}
	if err := customer.ValidateID(d.XUserID); err != nil {
		return nil, idp.Refuse(400, "bind.customer_id", "bindRequest xUserId: "+err.Error())
	}
	return &storage.BindEvent{Document: d.Raw, DocumentHash: d.Hash, XAccountID: d.XUserID,
		DomainID: d.DomainID, DomainName: d.DomainName, Action: d.Action}, nil
}

// bindSite picks the site a verified notification belongs to. The document
// does not name its site, so the site is the SP whose key verified it; if
// Huawei signs for several sites with one key, the site the customer was
// heading for (the console link in the session) decides, else the first.
func (s *Server) bindSite(ctx context.Context, qs *idp.QuerySignature) *idp.ServiceProvider {
	var also []*idp.ServiceProvider
	for _, sp := range qs.SPs() {
		if sp != qs.SP() && qs.VerifiedBy(sp) {
			also = append(also, sp)
		}
	}
	if len(also) == 0 {
		return qs.SP()
	}
	var chosen *idp.ServiceProvider
	for _, sp := range append([]*idp.ServiceProvider{qs.SP()}, also...) {
		if s.consoleTarget(ctx, sp.Site) != "" {
			if chosen != nil {
				chosen = nil // the session names several: no better than the first
				break
			}
			chosen = sp
		}
	}
	if chosen == nil {
		chosen = qs.SP()
	}
	s.log.WarnContext(ctx, "bind notification verifies for several sites", "chosen", chosen.Site, "candidates", len(also)+1)
	return chosen
}

// consoleTarget returns the console URL the signed-in customer was heading
// for on site (what /console put in the session), re-checked against the
// site's allow-list; "" when there is none.
func (s *Server) consoleTarget(ctx context.Context, site string) string {
	sp := s.idp.SPBySite(site)
	if sp == nil {
		return ""
	}
	if t := s.login.ConsoleTarget(ctx, site); t != "" && sp.Console.Allows(t) {
		return t
	}
	return ""
}

// handleBindResult is the same-origin page a notification is answered with
// (303): GET /saml/bind/result?event=<ID>. This GET carries the session
// cookie again. The event's own customer, bound by it, continues to the
// console it was heading for; everyone else sees the result in their
// language, and the Huawei Cloud account only when they are that customer.
func (s *Server) handleBindResult(w http.ResponseWriter, r *http.Request) {
	if !s.getOnly(w, r, "bind.result_method") {
		return
	}
	ctx := r.Context()
	q, err := url.ParseQuery(r.URL.RawQuery)
	id := q.Get("event")
	if err != nil || len(q["event"]) != 1 || id == "" || len(id) > 64 {
		s.refuseResult(w, r, idp.Refuse(http.StatusNotFound, "bind.result_unknown", "no or a malformed event parameter"))
		return
	}
	ev, err := s.store.GetBindEvent(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		s.refuseResult(w, r, idp.Refuse(http.StatusNotFound, "bind.result_unknown", "no bind event "+truncate(id, 64)))
		return
	}
	if err != nil {
		s.pages.Unavailable(w, r, "binding", err)
		return
	}
	customerID, _ := s.login.SignedIn(r)
	own := customerID != "" && customerID == ev.XAccountID
	w.Header().Set("Cache-Control", "no-store")
	if own && ev.Bound() {
		if target := s.consoleTarget(ctx, ev.Site); target != "" {
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
	}
	p := s.pages.Page(w, r, "")
	d := templates.MessageData{Page: p}
	switch {
	case ev.Bound() && ev.Outcome == storage.BindOutcomeUnchanged:
		d.Title, d.Body = "bind_unchanged_title", "bind_unchanged_body"
	case ev.Bound():
		d.Title, d.Body = "bind_bound_title", "bind_bound_body"
	case ev.Action == storage.BindActionUnbind && ev.Outcome == storage.BindOutcomeUnbound:
		d.Title, d.Body = "bind_unbound_title", "bind_unbound_body"
	case ev.Action == storage.BindActionUnbind:
		d.Title, d.Body = "bind_not_bound_title", "bind_not_bound_body"
	default: // an event of the guessed schema that reported a failure
		d.Title, d.Body = "bind_failed_title", "bind_failed_body"
	}
	if own {
		d.Detail = p.L["bind_account"] + ": " + ev.DomainID
		if ev.DomainName != "" {
			d.Detail += " (" + ev.DomainName + ")"
		}
	}
	if sp := s.idp.SPBySite(ev.Site); sp != nil && ev.Bound() {
		d.LinkURL, d.LinkText = sp.Console.Home, "open_console"
	}
	s.pages.T.Message(w, d)
}
