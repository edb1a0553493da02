package web

import (
	"net/http"
	"net/url"
)

// SecurityHeaders sets the headers every page carries (docs/threat-model.md
// "Browser-facing pages"); pages with inline style or script replace the CSP
// with one carrying a nonce (Pages.Page). HSTS only over HTTPS: https is
// decided by the configured base_url, never by a request header.
func SecurityHeaders(https bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer browsers send "Origin: null"
		// on same-origin form POSTs, which the Origin checks must refuse.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		if https {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// SameOrigin accepts a POST whose Origin (or, without one, Referer) is the
// IdP's public origin (base). Browsers send Origin on POST; a request with
// neither relies on the CSRF token alone.
func SameOrigin(base *url.URL, r *http.Request) bool {
	want := base.Scheme + "://" + base.Host
	if o := r.Header.Get("Origin"); o != "" {
		return o == want
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == want
	}
	return true
}
