package server

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"hcidp/idp"
	"hcidp/login"
	"hcidp/templates"
)

// handleSSO is the SingleSignOnService, HTTP-Redirect binding: the SAML
// core runs the checks and decides; this renders its decision.
func (s *Server) handleSSO(w http.ResponseWriter, r *http.Request) {
	if !s.getOnly(w, r, "request.method") {
		return
	}
	s.render(w, r, s.idp.ServeSSO(r))
}

// render answers an outcome of the SAML core: a refusal page, a 503, a
// sign-in (the request waits in the browser), or the auto-POST page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, o idp.Outcome) {
	switch {
	case o.Refusal != nil:
		if o.EndSession {
			if err := s.login.EndSession(r.Context()); err != nil {
				s.log.ErrorContext(r.Context(), "end the session of a disabled customer", "err", err)
			}
		}
		s.refuse(w, r, o.Refusal)
	case o.Unavailable != nil:
		s.pages.Unavailable(w, r, o.What, o.Unavailable)
	case o.Internal != nil:
		s.pages.InternalError(w, r, "build response", o.Internal)
	case o.SignIn != nil:
		req := o.SignIn
		s.metrics.SSO("login_required", "")
		s.login.Begin(w, r, login.Flow{Kind: login.FlowSAML, Site: req.SP.Site, RequestID: req.ID, ACS: req.ACS,
			RelayState: req.RelayState, ForceAuthn: req.ForceAuthn})
	case o.Post != nil:
		s.metrics.SSO(o.Post.Kind, o.Post.Status)
		if o.Post.Kind == "issued" {
			s.metrics.Signing(o.Post.SigningTime)
		}
		s.post(w, r, o.Post)
	}
}

// flowReplayIssuer is the replay-cache issuer of answered pending flows; it
// is no SP's entity ID (those are absolute URIs).
const flowReplayIssuer = "hcidp:pending-flow"

// flowLifetime bounds how long an answered flow's ID is remembered: the
// flow cookie is accepted for no longer.
const flowLifetime = 30 * time.Minute

// continueSAML answers a SAML flow after its customer signed in. The
// request ID entered the replay cache when the flow began; the flow's own
// ID enters it now, so that a flow cookie sent twice (a double submit, a
// copied cookie) is answered once.
func (s *Server) continueSAML(w http.ResponseWriter, r *http.Request, f login.Flow, customerID string, at time.Time) {
	sp := s.idp.SPBySite(f.Site)
	if sp == nil {
		s.pages.Refuse(w, r, http.StatusBadRequest, "flow.site", "the pending request's site is no longer configured")
		return
	}
	req := &idp.Request{SP: sp, ID: f.RequestID, ACS: f.ACS, RelayState: f.RelayState}
	answered := &idp.ReplayEntry{Issuer: flowReplayIssuer, ID: f.ID, Expires: f.Created.Add(flowLifetime)}
	s.render(w, r, s.idp.Answer(r, req, customerID, at, answered))
}

// postBufs reuses the auto-POST pages' buffers (a page is about 10 KiB).
var postBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// post renders the HTTP-POST binding page: auto-submitting with a CSP nonce,
// a visible button without JavaScript, form-action limited to the ACS origin.
func (s *Server) post(w http.ResponseWriter, r *http.Request, p *idp.Post) {
	u, _ := url.Parse(p.ACS)
	pg := s.pages.Page(w, r, u.Scheme+"://"+u.Host)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	d := templates.PostData{Page: pg, ACS: p.ACS, SAMLResponse: base64.StdEncoding.EncodeToString(p.Response)}
	if p.RelayState != nil {
		d.RelayState, d.HasRelay = *p.RelayState, true
	}
	// One write with a Content-Length: no chunked encoding, one syscall.
	b := postBufs.Get().(*bytes.Buffer)
	b.Reset()
	defer postBufs.Put(b)
	s.pages.T.WritePost(b, d)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Write(b.Bytes())
}
