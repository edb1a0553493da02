package oidc

import (
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Reason codes of *Error (see the package documentation).
const (
	ReasonDiscovery        = "oidc.discovery"
	ReasonRequest          = "oidc.request"
	ReasonNoFlow           = "oidc.no_flow"
	ReasonState            = "oidc.state"
	ReasonIssuer           = "oidc.issuer"
	ReasonExpiredFlow      = "oidc.expired_flow"
	ReasonDenied           = "oidc.denied"
	ReasonProviderError    = "oidc.provider_error"
	ReasonExchange         = "oidc.exchange"
	ReasonToken            = "oidc.token"
	ReasonNonce            = "oidc.nonce"
	ReasonUserinfo         = "oidc.userinfo"
	ReasonClaimMissing     = "oidc.claim_missing"
	ReasonClaimInvalid     = "oidc.claim_invalid"
	ReasonUnknownCustomer  = "oidc.unknown_customer"
	ReasonCustomerDisabled = "oidc.customer_disabled"
)

// Reasons lists every reason code, for metric label pre-registration and
// for the documentation's table.
var Reasons = []string{
	ReasonDiscovery, ReasonRequest, ReasonNoFlow, ReasonState, ReasonIssuer,
	ReasonExpiredFlow, ReasonDenied, ReasonProviderError, ReasonExchange,
	ReasonToken, ReasonNonce, ReasonUserinfo, ReasonClaimMissing,
	ReasonClaimInvalid, ReasonUnknownCustomer, ReasonCustomerDisabled,
}

// Error is a refused upstream sign-in: the customer's or the provider's
// fault, never hcidp's. Detail is short plain text for logs and the clear
// page (the page must still HTML-escape it, as every value); it never holds
// a code, a token, a verifier or the client secret.
type Error struct {
	// Reason is a stable code from the list in the package documentation.
	Reason string
	// Detail says what was wrong, in a sentence.
	Detail string
	// ProviderCode is the provider's error code for oidc.denied and
	// oidc.provider_error (e.g. "access_denied"), sanitised.
	ProviderCode string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return "upstream oidc: " + e.Reason
	}
	return "upstream oidc: " + e.Reason + ": " + e.Detail
}

// Is makes errors.Is(err, &Error{Reason: r}) match any *Error with reason r.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason && t.Detail == "" && t.ProviderCode == ""
}

// Status is the HTTP status of the clear page: 403 when the customer may
// not sign in (denied at the provider, unknown or disabled here), else 400.
// The upstream being unreachable is not answered with a 5xx either: hcidp
// itself is healthy, and the page tells the customer to try again.
func (e *Error) Status() int {
	switch e.Reason {
	case ReasonDenied, ReasonUnknownCustomer, ReasonCustomerDisabled:
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

func fail(reason, detail string) *Error { return &Error{Reason: reason, Detail: detail} }

// maxDetail bounds a Detail taken from outside (a provider's
// error_description, a library's message).
const maxDetail = 200

// jwtLike matches a compact JWS/JWE (its header is base64url JSON, "eyJ...")
// or a long opaque credential (40 or more base64 characters without a
// separator), so that a library message that quotes one is scrubbed. URLs
// and host names survive: their '.', ':' and '/' break the run.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*)*|[A-Za-z0-9_~+=-]{40,}`)

// sanitize makes outside text safe for a log line and a page: printable
// ASCII only (the error_description alphabet of RFC 6749 §4.1.2.1; a double
// quote becomes a single one, a backslash a question mark), anything
// credential-shaped and every given secret replaced, at most maxDetail
// bytes.
func sanitize(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = jwtLike.ReplaceAllString(s, "[redacted]")
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxDetail {
			b.WriteString("...")
			break
		}
		switch {
		case r == '"':
			b.WriteByte('\'')
		case r == utf8.RuneError, r < 0x20, r > 0x7e, r == '\\':
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// errorCode accepts an OAuth error code as RFC 6749 §4.1.2.1 defines it
// (NQSCHAR: printable ASCII without '"' and '\'), at most 64 bytes; anything
// else becomes "invalid".
func errorCode(s string) string {
	if s == "" || len(s) > 64 {
		return "invalid"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "invalid"
		}
	}
	return s
}
