package mockiam

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hcidp/check"
)

// handleACS is the AssertionConsumerService (HTTP-POST binding).
func (s *Server) handleACS(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		s.refuse(w, status, "Unreadable form", fmt.Sprintf("The POST body could not be read as a form: %v.", err), nil, "")
		return
	}
	responses, relays := r.PostForm["SAMLResponse"], r.PostForm["RelayState"]
	if len(responses) != 1 || responses[0] == "" {
		s.refuse(w, http.StatusBadRequest, "No SAMLResponse",
			fmt.Sprintf("Expected exactly one non-empty SAMLResponse form field (base64 of the Response XML); got %d.", len(responses)), nil, "")
		return
	}
	if len(relays) != 1 || relays[0] == "" {
		s.refuse(w, http.StatusBadRequest, "No RelayState",
			fmt.Sprintf("Expected exactly one RelayState form field, echoing the RelayState of the AuthnRequest unchanged; got %d. Huawei Cloud only accepts answers to its own requests.", len(relays)), nil, "")
		return
	}
	relay := relays[0]

	now := s.now()
	s.mu.Lock()
	state := s.states[relay]
	delete(s.states, relay) // single use, whatever happens next
	if state != nil {
		if _, issued := s.issued[state.requestID]; !issued {
			state = nil // the request itself has expired
		}
	}
	s.mu.Unlock()
	if state == nil || now.After(state.expires) {
		s.refuse(w, http.StatusBadRequest, "Unknown RelayState",
			fmt.Sprintf("RelayState %q does not belong to a login in progress on this mock: it was never issued, has expired (after %s), or was already used. The IdP must echo the RelayState of the AuthnRequest it answers, and each login can be completed once.", abbreviate(relay, 100), stateTTL), nil, "")
		return
	}

	xmlDoc, err := check.Decode([]byte(responses[0]))
	if err != nil {
		s.refuse(w, http.StatusBadRequest, "Undecodable SAMLResponse", fmt.Sprintf("The SAMLResponse field could not be decoded: %v.", err), nil, "")
		return
	}
	idp := s.idpSnapshot()
	res := check.Response(xmlDoc, check.Expect{
		IdPCerts:     idp.certs,
		IdPEntityID:  idp.entityID,
		Destination:  s.acsURL,
		Audience:     s.entityID,
		InResponseTo: state.requestID,
		BpID:         s.cfg.BpID,
		Now:          now,
	})

	s.mu.Lock()
	if res.OK {
		switch {
		case s.seenResp[res.ResponseID]:
			res.Findings = append(res.Findings, check.Finding{Rule: "replay.response_id",
				Message: fmt.Sprintf("Response ID %q was already accepted once; a Response can be used only once", res.ResponseID)})
		case s.seenIRT[res.InResponseTo]:
			res.Findings = append(res.Findings, check.Finding{Rule: "replay.in_response_to",
				Message: fmt.Sprintf("a Response to AuthnRequest %q was already accepted; each AuthnRequest is answered once", res.InResponseTo)})
		}
		res.OK = len(res.Findings) == 0
	}
	if res.OK {
		s.seenResp[res.ResponseID] = true
		s.seenIRT[res.InResponseTo] = true
	}
	s.lastCheck = res
	s.mu.Unlock()

	if !res.OK {
		s.log.Warn("response refused", "rules", strings.Join(res.Rules(), ","), "response_id", res.ResponseID)
		s.refuse(w, http.StatusBadRequest, "SAML Response refused",
			"The Response does not satisfy the Huawei Cloud profile. Each finding says what was expected and what was found:", res.Findings, string(xmlDoc))
		return
	}

	xAccountID := res.Attributes[check.AttrXAccountID]
	s.mu.Lock()
	b, bound := s.bindings[xAccountID]
	s.last = &Outcome{Accepted: true, Findings: []check.Finding{}, Attributes: res.Attributes,
		ResponseID: res.ResponseID, ResponseXML: string(xmlDoc), Bound: bound, At: now}
	s.mu.Unlock()
	s.log.Info("response accepted", "response_id", res.ResponseID, "x_account_id", xAccountID, "bound", bound)

	if bound {
		s.startSession(w, xAccountID, b.DomainName, res.Attributes, state.service)
		http.Redirect(w, r, landing(state.service), http.StatusFound)
		return
	}

	p := &pendingBind{
		csrf:       randomHex(16),
		xAccountID: xAccountID,
		xUserID:    res.Attributes[check.AttrXUserID],
		attributes: res.Attributes,
		service:    state.service,
		expires:    now.Add(pendingTTL),
	}
	pendingID := randomHex(16)
	s.mu.Lock()
	s.pruneLocked(now)
	s.pending[pendingID] = p
	s.mu.Unlock()
	s.render(w, http.StatusOK, "bind", bindPage{
		XAccountID: xAccountID,
		FirstLogin: state.firstLogin,
		Attributes: sortedAttrs(res.Attributes),
		PendingID:  pendingID,
		CSRF:       p.csrf,
		Action:     PathBind,
	})
}

// refuse records a refused outcome and shows an error page.
func (s *Server) refuse(w http.ResponseWriter, status int, title, msg string, findings []check.Finding, rawXML string) {
	if findings == nil {
		findings = []check.Finding{}
	}
	s.mu.Lock()
	s.last = &Outcome{Accepted: false, Reason: title + ": " + msg, Findings: findings,
		Attributes: map[string]string{}, ResponseXML: rawXML, At: s.now()}
	s.mu.Unlock()
	if len(findings) == 0 {
		s.log.Warn("ACS refused", "reason", title)
	}
	s.errorPage(w, status, title, msg, findings)
}

// startSession sets the mock console cookie.
func (s *Server) startSession(w http.ResponseWriter, xAccountID, domainName string, attrs map[string]string, service string) {
	token := randomHex(32)
	s.mu.Lock()
	s.sessions[token] = &consoleSession{csrf: randomHex(16), xAccountID: xAccountID, domainName: domainName, attributes: attrs,
		service: service, expires: s.now().Add(sessionTTL)}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
		MaxAge:   int(sessionTTL / time.Second),
	})
}

// landing maps the requested service to a path on the mock. Only paths under
// /console are honoured; anything else (including the real console URLs)
// lands on /console, which shows what was requested.
func landing(service string) string {
	if u, err := url.Parse(service); err == nil && u.Scheme == "" && u.Host == "" &&
		(u.Path == PathConsole || strings.HasPrefix(u.Path, PathConsole+"/")) && !strings.Contains(u.Path, "..") {
		return u.RequestURI()
	}
	return PathConsole
}

// consoleSession returns the request's console session and its token.
func (s *Server) consoleSession(r *http.Request) (string, *consoleSession) {
	c, err := r.Cookie(s.cookieName)
	if err != nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if x := s.sessions[c.Value]; x != nil && !s.now().After(x.expires) {
		return c.Value, x
	}
	return "", nil
}

func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	_, sess := s.consoleSession(r)
	if sess == nil {
		s.errorPage(w, http.StatusUnauthorized, "Not signed in",
			"There is no mock console session. Start from the partner portal's \"Open console\" link.", nil)
		return
	}
	s.render(w, http.StatusOK, "console", consolePage{
		XAccountID: sess.xAccountID,
		DomainName: sess.domainName,
		Service:    sess.service,
		Attributes: sortedAttrs(sess.attributes),
		Unbind:     PathUnbind,
		CSRF:       sess.csrf,
	})
}

func (s *Server) handleLast(w http.ResponseWriter, r *http.Request) {
	o := s.LastOutcome()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if o == nil {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"accepted":false,"reason":"no Response received yet","findings":[],"attributes":{}}` + "\n"))
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(o)
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
