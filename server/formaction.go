package server

import (
	"net/url"
	"slices"
	"strings"
)

// navFormAction is the CSP form-action of pages whose form leads, through
// redirects, to a site's IAM: the login form (POST /login -> /console -> IAM
// login link) and the portal's console button (GET /console -> IAM).
// Browsers apply form-action to every redirect of a form submission, so
// 'self' alone would block the last hop. Only the configured sites' IAM
// origins are added, never anything from the request.
func (s *Server) navFormAction() string {
	origins := []string{"'self'"}
	for _, sp := range s.idp.SPs() {
		u, err := url.Parse(sp.Console.AuthURL)
		if err != nil || u.Host == "" {
			continue
		}
		if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return strings.Join(origins, " ")
}
