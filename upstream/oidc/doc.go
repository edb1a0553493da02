// Package oidc is hcidp's relying party for an upstream OpenID Connect
// provider: the partner portal's own identity provider (Keycloak, Azure AD
// B2C, Auth0, Authing, an in-house one) signs the customer in, and a claim
// of its ID token names the hcidp customer (xAccountId). See
// docs/upstream-oidc.md for the set-up and docs/threat-model.md for the
// threats it answers.
//
// The protocol is the authorization code flow of OpenID Connect Core 1.0
// §3.1 with PKCE (RFC 7636, method S256), a state bound to the browser and a
// nonce bound to the ID token. Discovery, the JWKS and the ID token's
// signature, issuer, audience and expiry are checked by
// github.com/coreos/go-oidc/v3; the code exchange is
// golang.org/x/oauth2. Nothing here parses a JWT or a JWK by hand.
//
// The web layer drives it in two steps:
//
//	p, authURL, err := provider.Begin(ctx)     // keep p bound to the browser, redirect to authURL
//	id, err := provider.Finish(ctx, r.URL.Query(), p) // at {base_url}/oidc/callback
//	c, created, err := provider.ResolveCustomer(ctx, store, id)
//
// Begin and Finish keep no server-side state: the Pending value carries the
// state, the nonce and the PKCE verifier, and the caller stores it in an
// encrypted, browser-bound cookie. A callback is answered once per code: the
// provider refuses a second exchange.
//
// # Reason codes
//
// Every refusal is an *Error whose Reason is one of these stable codes (the
// web layer shows a clear page and uses the code as a metric label):
//
//	oidc.discovery          the provider's discovery document or keys cannot be fetched
//	oidc.request            the callback is malformed: a parameter missing or repeated
//	oidc.no_flow            no sign-in is pending in this browser
//	oidc.state              the state does not match the pending sign-in
//	oidc.issuer             the callback's iss parameter (RFC 9207) names another issuer
//	oidc.expired_flow       the pending sign-in is older than the flow lifetime
//	oidc.denied             the provider answered error=access_denied
//	oidc.provider_error     the provider answered another error code
//	oidc.exchange           the token endpoint refused the code or cannot be reached
//	oidc.token              the ID token is missing, badly signed, expired, for another audience or issuer
//	oidc.nonce              the ID token's nonce is not the pending sign-in's
//	oidc.userinfo           the userinfo endpoint failed or named another subject
//	oidc.claim_missing      the claim naming the customer is absent
//	oidc.claim_invalid      a claim breaks hcidp's attribute rules where it is needed
//	oidc.unknown_customer   no such customer and create_customers is false
//	oidc.customer_disabled  the customer is disabled
//
// Other errors (from ResolveCustomer: the database) are faults of hcidp,
// answered 503 by the web layer.
//
// No authorization code, token, PKCE verifier or client secret ever appears
// in an error message or a log line of this package.
package oidc
