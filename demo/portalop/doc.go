// Package portalop is the demo partner portal's OpenID provider: a real
// OpenID Connect provider on a loopback listener, for `idp demo` (so a
// person can click "Sign in with Demo Portal") and for the end-to-end tests
// of hcidp's upstream sign-in (package hcidp/upstream/oidc).
//
// The protocol is github.com/zitadel/oidc/v3/pkg/op, a maintained and
// certified provider library: discovery, the JWKS, the authorization
// endpoint, the token endpoint (client_secret_basic) with PKCE, userinfo and
// the ID token's signature are its code. This package writes only what op
// leaves to its user: an in-memory storage (clients, users, authorization
// requests, codes, access tokens, one RSA signing key) and the login page.
// zitadel/oidc was chosen over github.com/oauth2-proxy/mockoidc because it
// is a full provider with a login step of the integrator's own, so a person
// and the browser test sign in with a username and password exactly as at a
// portal; mockoidc answers every authorization request at once with a
// queued user.
//
// Policy enforced on top of op: PKCE with S256 and a nonce are required on
// every authorization request; response_type is code only; redirect URIs
// match exactly; a code is spent by its first exchange, successful or not;
// an authorization request lives 10 minutes; no refresh tokens.
//
// Test hooks (Server.SignIDToken, Server.OnTokenResponse, Config.Clients)
// let the attack tests make the provider answer what a broken or hostile
// provider would: an ID token for another audience, expired, with another
// nonce, or unsigned.
package portalop
