package web

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"

	"hcidp/templates"
)

// RetryAfterUnavailable is the Retry-After of a 503: a database restart or
// fail-over takes seconds.
const RetryAfterUnavailable = "5"

// Pages writes hcidp's HTML pages and the answers to refused and failed
// requests. It is safe for concurrent use.
type Pages struct {
	// T renders the templates.
	T    *templates.Renderer
	log  *slog.Logger
	rand io.Reader
	// count counts a refusal or fault of an endpoint (Endpoint) by reason.
	count func(endpoint, reason string)
}

// NewPages returns Pages rendering with t, logging to log, taking CSP
// nonces from rnd and counting refusals with count (nil: not counted).
func NewPages(t *templates.Renderer, log *slog.Logger, rnd io.Reader, count func(endpoint, reason string)) *Pages {
	if count == nil {
		count = func(string, string) {}
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Pages{T: t, log: Logger(log), rand: rnd, count: count}
}

// Page prepares a page: a fresh CSP nonce for its inline style and script,
// the Content-Security-Policy with formAction ("" = 'self'), the customer's
// language from Accept-Language.
func (p *Pages) Page(w http.ResponseWriter, r *http.Request, formAction string) templates.Page {
	var b [16]byte
	io.ReadFull(p.rand, b[:])
	nonce := base64.RawStdEncoding.EncodeToString(b[:])
	if formAction == "" {
		formAction = "'self'"
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+
		"'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	lang := templates.Lang(r.Header.Get("Accept-Language"))
	return templates.Page{Lang: lang, L: templates.Messages(lang), Nonce: nonce}
}

// Refuse answers a request hcidp will not act on: the 4xx status, a
// generic page in the customer's language with the reason code, the reason
// and detail in the log (with attrs), the refusal counted for the endpoint.
// The caller has written nothing.
func (p *Pages) Refuse(w http.ResponseWriter, r *http.Request, status int, reason, detail string, attrs ...any) {
	p.LogRefusal(r, status, reason, detail, attrs...)
	p.count(EndpointOf(r.Context()), reason)
	p.RefusalPage(w, r, status, reason, "")
}

// LogRefusal logs a refused request with its reason code, plus attrs.
func (p *Pages) LogRefusal(r *http.Request, status int, reason, detail string, attrs ...any) {
	p.log.WarnContext(r.Context(), "request refused", append([]any{"status", status, "reason", reason, "detail", detail,
		"path", r.URL.Path, "client", ClientAddr(r)}, attrs...)...)
}

// RefusalPage writes the refusal page; body is the message key of its
// explanation ("" = the generic one).
func (p *Pages) RefusalPage(w http.ResponseWriter, r *http.Request, status int, reason, body string) {
	pg := p.Page(w, r, "")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	p.T.Error(w, templates.ErrorData{Page: pg, Status: status, Reason: reason, Body: body})
}

// Unavailable answers a fault of ours that is not a bug (the database or
// the session store does not answer): 503 with Retry-After and a clear
// page, logged and counted with the reason code "<what>.unavailable".
// Nothing of the request was acted on, so the client may simply retry.
func (p *Pages) Unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	reason := what + ".unavailable"
	p.log.ErrorContext(r.Context(), "service unavailable", "reason", reason, "err", err, "path", r.URL.Path)
	p.count(EndpointOf(r.Context()), reason)
	pg := p.Page(w, r, "")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", RetryAfterUnavailable)
	w.WriteHeader(http.StatusServiceUnavailable)
	p.T.Error(w, templates.ErrorData{Page: pg, Status: http.StatusServiceUnavailable, Reason: reason})
}

// InternalError is for bugs only (a Response that cannot be built); a fault
// of a dependency is Unavailable, bad input is Refuse.
func (p *Pages) InternalError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	p.log.ErrorContext(r.Context(), msg, "err", err, "path", r.URL.Path)
	pg := p.Page(w, r, "")
	w.WriteHeader(http.StatusInternalServerError)
	p.T.Error(w, templates.ErrorData{Page: pg, Status: 500, Reason: "internal"})
}

// Token returns n random bytes from rnd, base64url-encoded (no padding).
func Token(rnd io.Reader, n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(rnd, b); err != nil {
		panic("hcidp: random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
