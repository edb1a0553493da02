package idp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"hcidp/storage"
	"hcidp/templates"
)

// maxBindDocument caps the decoded bindRequest JSON.
const maxBindDocument = 6 << 10

// handleBind is the bind-result callback (PROFILE.md §4): Huawei redirects
// the browser here with bindRequest, SigAlg and Signature.
func (s *Server) handleBind(w http.ResponseWriter, r *http.Request) {
	if !s.getOnly(w, r, "bind.method") {
		return
	}
	ev, ref := s.verifyBind(r)
	if ref != nil {
		s.refuse(w, r, ref)
		return
	}
	ctx := r.Context()
	// The binding comes from the signed document, never from the session;
	// a session of another customer means the link was replayed into it.
	if id, _ := s.signedIn(ctx); id != "" && id != ev.XAccountID {
		s.refuse(w, r, refuse(http.StatusForbidden, "bind.session_mismatch", "the bind callback names another customer than the signed-in one"))
		return
	}
	created, err := s.store.RecordBindEvent(ctx, *ev)
	if errors.Is(err, storage.ErrNotFound) {
		s.refuse(w, r, refuse(400, "bind.unknown_customer", "the bind callback names an unknown customer"))
		return
	}
	if err != nil {
		s.unavailable(w, r, "binding", err)
		return
	}
	outcome := "failed"
	if ev.Success {
		outcome = "bound"
	}
	if created {
		detail := fmt.Sprintf("sha256=%s domain_id=%s domain_name=%s result=%s", ev.DocumentHash, ev.DomainID, ev.DomainName, ev.ResultCode)
		if err := s.store.AppendAudit(ctx, storage.AuditEvent{Time: ev.ReceivedAt, Kind: "bind", XAccountID: ev.XAccountID,
			Site: ev.Site, ClientAddr: clientAddr(r), Outcome: outcome, Detail: detail}); err != nil {
			s.unavailable(w, r, "audit", err)
			return
		}
	}
	if !created {
		outcome = "duplicate"
	}
	s.metrics.Bind(outcome, "")
	s.log.InfoContext(ctx, "bind callback", "customer", ev.XAccountID, "site", ev.Site, "outcome", outcome, "new", created, "sha256", ev.DocumentHash)

	sp := s.spBySite(ev.Site)
	if sp == nil { // the site was removed by a reload since verification
		s.refuse(w, r, refuse(http.StatusServiceUnavailable, "bind.site", "site "+ev.Site+" is no longer configured"))
		return
	}
	if ev.Success {
		if target := s.sessions.GetString(ctx, sessConsole+ev.Site); target != "" && sp.allowedService(target) {
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
	}
	p := s.page(w, r, "")
	d := templates.MessageData{Page: p, Title: "bind_ok_title", Body: "bind_ok_body", LinkURL: sp.ConsoleHome, LinkText: "open_console"}
	if !ev.Success {
		d.Title, d.Body, d.Detail = "bind_failed_title", "bind_failed_body", ev.ResultCode
	}
	s.pages.Message(w, d)
}

// verifyBind applies the SSO endpoint's query discipline to the callback and
// decodes the signed document. Nothing is written here.
func (s *Server) verifyBind(r *http.Request) (*storage.BindEvent, *Refusal) {
	if len(r.URL.RawQuery) > maxURLBytes {
		return nil, refuse(http.StatusRequestURITooLong, "bind.uri_too_long", "the callback URI exceeds 16 KiB")
	}
	q, ref := parseSignedQuery(r.URL.RawQuery, "bindRequest", "SigAlg", "Signature")
	if ref != nil {
		return nil, ref
	}
	doc := q.get("bindRequest")
	if !doc.Set || doc.Value == "" {
		return nil, refuse(400, "bind.missing", "no bindRequest parameter")
	}
	if len(doc.Raw) > maxBindRequest {
		return nil, refuse(http.StatusRequestURITooLong, "bind.too_large", "bindRequest exceeds 8 KiB")
	}
	qs, ref := s.verifySignedQuery(q, "the bind callback", "bindRequest", "SigAlg")
	if ref != nil {
		return nil, ref
	}
	sp := s.bindSite(r, qs)
	raw, err := decodeBase64Any(doc.Value)
	if err != nil || len(raw) > maxBindDocument {
		return nil, refuse(400, "bind.base64", "bindRequest is not base64 or is too large")
	}
	ev, err := parseBindDocument(raw)
	if err != nil {
		return nil, refuse(400, "bind.json", err.Error())
	}
	ev.Site = sp.Site
	ev.ReceivedAt = s.now().UTC()
	return ev, nil
}

// decodeBase64Any accepts standard or URL-safe base64, padded or not
// (PROFILE.md §4).
func decodeBase64Any(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// parseBindDocument decodes the JSON strictly (one object, no trailing data)
// and extracts the fields that identify the binding. Huawei does not publish
// the schema: common spellings are accepted and unknown fields are kept in
// the stored document.
func parseBindDocument(raw []byte) (*storage.BindEvent, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, errors.New("bindRequest is not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("bindRequest has data after the JSON object")
	}
	pick := func(names ...string) (string, error) {
		for _, n := range names {
			v, ok := m[n]
			if !ok || v == nil {
				continue
			}
			switch t := v.(type) {
			case string:
				if hasControl(t) || len(t) > 256 {
					return "", fmt.Errorf("bindRequest field %s is not a plain string", n)
				}
				return t, nil
			case json.Number:
				return t.String(), nil
			default:
				return "", fmt.Errorf("bindRequest field %s has the wrong type", n)
			}
		}
		return "", nil
	}
	var ev storage.BindEvent
	var err error
	var userID string
	fields := []struct {
		dst   *string
		names []string
	}{
		{&ev.XAccountID, []string{"xAccountId", "xaccountId", "x_account_id", "xaccount_id"}},
		{&userID, []string{"xUserId", "xuserId", "x_user_id"}},
		{&ev.DomainID, []string{"domainId", "domain_id", "customerId", "customer_id"}},
		{&ev.DomainName, []string{"domainName", "domain_name"}},
		{&ev.ResultCode, []string{"resultCode", "result_code", "result", "code", "status"}},
	}
	for _, f := range fields {
		if *f.dst, err = pick(f.names...); err != nil {
			return nil, err
		}
	}
	if ev.XAccountID == "" {
		ev.XAccountID = userID
	}
	if ev.XAccountID == "" {
		return nil, errors.New("bindRequest names no xAccountId")
	}
	if userID != "" && userID != ev.XAccountID {
		return nil, errors.New("bindRequest xUserId differs from xAccountId")
	}
	ev.Success = ev.DomainID != "" && bindSucceeded(ev.ResultCode)
	sum := sha256.Sum256(raw)
	ev.DocumentHash = hex.EncodeToString(sum[:])
	ev.Document = raw
	return &ev, nil
}

// bindSucceeded reads a result code; an absent code counts as success when a
// Huawei account ID is present.
func bindSucceeded(code string) bool {
	switch strings.ToLower(code) {
	case "", "0", "00", "000", "0000", "200", "success", "succeeded", "ok", "true", "cbc.0000":
		return true
	}
	return false
}

// bindSite picks the site a verified bind callback belongs to. The document
// does not name its site, so the site is the SP whose key verified it; if
// Huawei signs for several sites with one key, the site the customer was
// heading for (the console link in the session) decides, else the first.
func (s *Server) bindSite(r *http.Request, qs *querySignature) *ServiceProvider {
	var also []*ServiceProvider
	for _, sp := range s.trust().sps {
		if sp != qs.sp && qs.verifiedBy(sp) {
			also = append(also, sp)
		}
	}
	if len(also) == 0 {
		return qs.sp
	}
	ctx := r.Context()
	var chosen *ServiceProvider
	for _, sp := range append([]*ServiceProvider{qs.sp}, also...) {
		if s.sessions.GetString(ctx, sessConsole+sp.Site) != "" {
			if chosen != nil {
				chosen = nil // the session names several: no better than the first
				break
			}
			chosen = sp
		}
	}
	if chosen == nil {
		chosen = qs.sp
	}
	s.log.WarnContext(ctx, "bind callback verifies for several sites", "chosen", chosen.Site, "candidates", len(also)+1)
	return chosen
}
