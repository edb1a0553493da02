package idp

import (
	"errors"
	"net/http"
	"net/url"

	"hcidp/storage"
)

// handleConsole sends a signed-in customer to the site's IAM login link
// (PROFILE.md §1): xAccountType, isFirstLogin from the binding state, and a
// service URL from the site's console allow-list.
func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["site"]) > 1 || len(q["service"]) > 1 {
		s.refuse(w, r, refuse(400, "console.query", "malformed or repeated query parameters"))
		return
	}
	site := q.Get("site")
	if site == "" && len(s.trust().sps) == 1 {
		site = s.trust().sps[0].Site
	}
	sp := s.spBySite(site)
	if sp == nil {
		s.refuse(w, r, refuse(400, "console.site", "site "+truncate(site, 20)+" is not configured"))
		return
	}
	service := sp.Console.Home
	if v := q.Get("service"); v != "" {
		if !sp.Console.Allows(v) {
			s.refuse(w, r, refuse(400, "console.service", "service "+truncate(v, 200)+" is not a console URL of site "+site))
			return
		}
		service = v
	}
	customerID, _ := s.signedIn(ctx)
	if customerID == "" {
		flow := s.addPending(w, r, pendingFlow{Kind: "console", Console: "/console?" + url.Values{"site": {site}, "service": {service}}.Encode()})
		http.Redirect(w, r, "/login?flow="+url.QueryEscape(flow), http.StatusSeeOther)
		return
	}
	firstLogin := false
	if _, err := s.store.GetBinding(ctx, customerID, site); errors.Is(err, storage.ErrNotFound) {
		firstLogin = true
	} else if err != nil {
		s.unavailable(w, r, "binding", err)
		return
	}
	s.sessions.Put(ctx, sessConsole+site, service)
	http.Redirect(w, r, sp.Console.LoginLink(s.cfg.XAccountType, firstLogin, service), http.StatusFound)
}
