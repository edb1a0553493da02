package server

import (
	"errors"
	"net/http"
	"net/url"

	"hcidp/login"
	"hcidp/storage"
)

// handleConsole sends a signed-in customer to the site's IAM login link
// (docs/profile.md §1): xAccountType, isFirstLogin from the binding state, and a
// service URL from the site's console allow-list.
func (s *Server) handleConsole(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil || len(q["site"]) > 1 || len(q["service"]) > 1 {
		s.pages.Refuse(w, r, 400, "console.query", "malformed or repeated query parameters")
		return
	}
	site := q.Get("site")
	if sps := s.idp.SPs(); site == "" && len(sps) == 1 {
		site = sps[0].Site
	}
	sp := s.idp.SPBySite(site)
	if sp == nil {
		s.pages.Refuse(w, r, 400, "console.site", "site "+truncate(site, 20)+" is not configured")
		return
	}
	service := sp.Console.Home
	if v := q.Get("service"); v != "" {
		if !sp.Console.Allows(v) {
			s.pages.Refuse(w, r, 400, "console.service", "service "+truncate(v, 200)+" is not a console URL of site "+site)
			return
		}
		service = v
	}
	customerID, _ := s.login.SignedIn(r)
	if customerID == "" {
		s.login.Begin(w, r, login.Flow{Kind: login.FlowConsole, Console: "/console?" + url.Values{"site": {site}, "service": {service}}.Encode()})
		return
	}
	firstLogin := false
	if _, err := s.store.GetBinding(ctx, customerID, site); errors.Is(err, storage.ErrNotFound) {
		firstLogin = true
	} else if err != nil {
		s.pages.Unavailable(w, r, "binding", err)
		return
	}
	s.login.RememberConsole(ctx, site, service)
	http.Redirect(w, r, sp.Console.LoginLink(s.cfg.XAccountType, firstLogin, service), http.StatusFound)
}
