package portalop

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Lifetimes and bounds of the in-memory storage.
const (
	authRequestTTL  = 10 * time.Minute
	accessTokenTTL  = 5 * time.Minute
	maxAuthRequests = 10000
)

var (
	errNotFound     = errors.New("not found")
	errUnsupported  = errors.New("not supported by the demo provider")
	errCodeAssigned = errors.New("a code was already issued for this authorization request")
)

// store is the provider's storage: everything in memory, guarded by mu.
type store struct {
	mu       sync.Mutex
	now      func() time.Time
	clients  map[string]*client
	users    map[string]*User // by username
	subjects map[string]*User // by subject
	requests map[string]*authRequest
	codes    map[string]string // code -> request ID
	tokens   map[string]*accessToken
	key      signingKey
	loginURL func(id string) string
	idTTL    time.Duration
	userinfo bool // ClaimsInUserinfoOnly
}

var _ op.Storage = (*store)(nil)

func newStore(cfg Config, clients []Client) (*store, error) {
	st := &store{
		now: cfg.Now, clients: map[string]*client{}, users: map[string]*User{}, subjects: map[string]*User{},
		requests: map[string]*authRequest{}, codes: map[string]string{}, tokens: map[string]*accessToken{},
		idTTL: cfg.IDTokenLifetime, userinfo: cfg.ClaimsInUserinfoOnly,
	}
	for _, c := range clients {
		if c.ID == "" || c.Secret == "" || c.RedirectURI == "" {
			return nil, errors.New("portalop: a client needs an ID, a secret and a redirect URI")
		}
		if _, dup := st.clients[c.ID]; dup {
			return nil, fmt.Errorf("portalop: client %q registered twice", c.ID)
		}
		st.clients[c.ID] = &client{Client: c, st: st}
	}
	for i := range cfg.Users {
		u := cfg.Users[i]
		if u.Subject == "" || u.Username == "" || u.Password == "" {
			return nil, fmt.Errorf("portalop: user %d needs a subject, a username and a password", i)
		}
		if st.users[u.Username] != nil || st.subjects[u.Subject] != nil {
			return nil, fmt.Errorf("portalop: user %q or subject %q listed twice", u.Username, u.Subject)
		}
		st.users[u.Username], st.subjects[u.Subject] = &u, &u
	}
	k, err := newSigningKey()
	if err != nil {
		return nil, err
	}
	st.key = signingKey{id: randomID(8), key: k}
	return st, nil
}

// checkPassword compares in constant time whatever the lengths, and spends
// the same work for unknown users.
func (st *store) checkPassword(username, password string) (*User, bool) {
	st.mu.Lock()
	u := st.users[username]
	st.mu.Unlock()
	want := "\x00no such user"
	if u != nil {
		want = u.Password
	}
	a, b := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(want))
	ok := subtle.ConstantTimeCompare(a[:], b[:]) == 1 && u != nil
	return u, ok
}

// --- authorization requests -------------------------------------------------

// authRequest is one authorization request (op.AuthRequest).
type authRequest struct {
	id, clientID, redirectURI, state, nonce string
	scopes                                  []string
	responseType                            oidc.ResponseType
	responseMode                            oidc.ResponseMode
	challenge                               *oidc.CodeChallenge
	created                                 time.Time
	// set by the login page
	subject  string
	authTime time.Time
	done     bool
	code     string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// CreateAuthRequest stores a validated request. op has checked the
// client, the exact redirect URI, the response type and the challenge
// method; the demo also requires PKCE with S256 and a nonce.
func (st *store) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required")
	}
	if r.Nonce == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("a nonce is required")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expireLocked()
	if len(st.requests) >= maxAuthRequests {
		return nil, oidc.ErrServerError().WithDescription("too many pending sign-ins")
	}
	a := &authRequest{
		id: randomID(24), clientID: r.ClientID, redirectURI: r.RedirectURI, state: r.State, nonce: r.Nonce,
		scopes: slices.Clone([]string(r.Scopes)), responseType: r.ResponseType, responseMode: r.ResponseMode,
		challenge: &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod},
		created:   st.now(),
	}
	st.requests[a.id] = a
	return a, nil
}

// expireLocked drops requests and tokens past their lifetime.
func (st *store) expireLocked() {
	now := st.now()
	for id, a := range st.requests {
		if now.Sub(a.created) > authRequestTTL {
			delete(st.requests, id)
			delete(st.codes, a.code)
		}
	}
	for id, t := range st.tokens {
		if now.After(t.expires) {
			delete(st.tokens, id)
		}
	}
}

func (st *store) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.requests[id]
	if !ok || st.now().Sub(a.created) > authRequestTTL {
		return nil, errNotFound
	}
	return a, nil
}

// AuthRequestByCode spends the code: a second exchange of the same code
// finds nothing, even when the first one failed later (RFC 6749 §4.1.2:
// a code is used once).
func (st *store) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	id, ok := st.codes[code]
	if !ok {
		return nil, errNotFound
	}
	delete(st.codes, code)
	a, ok := st.requests[id]
	if !ok || !a.done || st.now().Sub(a.created) > authRequestTTL {
		return nil, errNotFound
	}
	return a, nil
}

// SaveAuthCode records the one code of a signed-in request.
func (st *store) SaveAuthCode(_ context.Context, id, code string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.requests[id]
	switch {
	case !ok:
		return errNotFound
	case !a.done:
		return errors.New("the user has not signed in")
	case a.code != "":
		return errCodeAssigned
	}
	a.code = code
	st.codes[code] = id
	return nil
}

func (st *store) DeleteAuthRequest(_ context.Context, id string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if a, ok := st.requests[id]; ok {
		delete(st.codes, a.code)
		delete(st.requests, id)
	}
	return nil
}

// signIn marks a request as authenticated by user.
func (st *store) signIn(id string, u *User) (*authRequest, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.requests[id]
	if !ok || st.now().Sub(a.created) > authRequestTTL {
		return nil, errNotFound
	}
	if a.done {
		return nil, errors.New("this sign-in is already complete")
	}
	a.subject, a.authTime, a.done = u.Subject, st.now(), true
	return a, nil
}

// --- tokens -------------------------------------------------------------------

type accessToken struct {
	subject, clientID string
	scopes            []string
	expires           time.Time
}

func (st *store) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	clientID := ""
	if a, ok := r.(*authRequest); ok {
		clientID = a.clientID
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	id := randomID(24)
	exp := st.now().Add(accessTokenTTL)
	st.tokens[id] = &accessToken{subject: r.GetSubject(), clientID: clientID, scopes: slices.Clone(r.GetScopes()), expires: exp}
	return id, exp, nil
}

func (st *store) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errUnsupported
}

func (st *store) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (st *store) TerminateSession(context.Context, string, string) error { return nil }

func (st *store) RevokeToken(_ context.Context, tokenOrID, _, _ string) *oidc.Error {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.tokens, tokenOrID)
	return nil
}

func (st *store) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// --- keys -----------------------------------------------------------------------

// signingKey is the provider's one RS256 key; publicKey its JWKS entry.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

func (st *store) SigningKey(context.Context) (op.SigningKey, error) { return st.key, nil }

func (st *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (st *store) KeySet(context.Context) ([]op.Key, error) { return []op.Key{publicKey{st.key}}, nil }

// --- clients --------------------------------------------------------------------

func (st *store) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if c, ok := st.clients[id]; ok {
		return c, nil
	}
	return nil, errNotFound
}

func (st *store) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := st.clients[id]
	if !ok {
		return errNotFound
	}
	a, b := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(c.Secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return errors.New("wrong client secret")
	}
	return nil
}

// client is a registered confidential web client (op.Client).
type client struct {
	Client
	st *store
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                       { return c.ID }
func (c *client) RedirectURIs() []string              { return []string{c.RedirectURI} }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType         { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string            { return c.st.loginURL(id) }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return c.st.idTTL }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return !c.st.userinfo }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// --- claims ---------------------------------------------------------------------

// setClaims fills info with user's claims for the given scopes; extra
// claims go along with the openid scope.
func setClaims(info *oidc.UserInfo, u *User, scopes []string, extra bool) {
	info.Subject = u.Subject
	for _, s := range scopes {
		switch s {
		case oidc.ScopeProfile:
			info.PreferredUsername, info.Name = u.Username, u.Name
		case oidc.ScopeEmail:
			info.Email, info.EmailVerified = u.Email, oidc.Bool(u.EmailVerified)
		case oidc.ScopePhone:
			info.PhoneNumber = u.Mobile
		}
	}
	if extra {
		for k, v := range u.Claims {
			info.AppendClaims(k, v)
		}
	}
}

func (st *store) user(subject string) (*User, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	u, ok := st.subjects[subject]
	if !ok {
		return nil, errNotFound
	}
	return u, nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does it.
func (st *store) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims. op has already
// removed the profile, email and phone scopes when the client does not
// want them in the ID token (ClaimsInUserinfoOnly).
func (st *store) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	u, err := st.user(r.GetSubject())
	if err != nil {
		return err
	}
	setClaims(info, u, scopes, !st.userinfo)
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for a live access token.
func (st *store) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	st.mu.Lock()
	t, ok := st.tokens[tokenID]
	st.mu.Unlock()
	if !ok || t.subject != subject || st.now().After(t.expires) {
		return errNotFound
	}
	u, err := st.user(subject)
	if err != nil {
		return err
	}
	setClaims(info, u, t.scopes, true)
	return nil
}

func (st *store) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errUnsupported
}

func (st *store) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (st *store) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errUnsupported
}

func (st *store) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errUnsupported
}

func (st *store) Health(context.Context) error { return nil }
