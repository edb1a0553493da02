package login

import (
	"context"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Session keys. Sessions live in the configured database (storage.Storage
// implements scs.CtxStore) or Redis, so every replica sees every session.
// A session is created only when a customer signs in: what an anonymous
// browser needs travels in cookies (browser.go).
const (
	sessCustomer = "customer" // xAccountId of the signed-in customer
	sessAuthAt   = "auth_at"  // login time, Unix nanoseconds
	sessSeen     = "seen"     // last activity, Unix seconds (rewritten at most once a minute)
	sessConsole  = "console:" // + site: the service URL last asked for
	maxPending   = 5          // flows a browser keeps
	pendingTTL   = 30 * time.Minute
)

// The session cookie's name: with the __Host- prefix when the IdP is served
// over HTTPS (Secure, Path=/, no Domain: no subdomain can set or shadow it),
// and a plain name on a plain-HTTP development base URL, where browsers
// refuse the prefix.
const (
	SessionCookieHTTPS = "__Host-hcidp"
	SessionCookieHTTP  = "hcidp_session"
)

func (s *Service) newSessionManager(store scs.Store, https bool) *scs.SessionManager {
	sm := scs.New()
	sm.Store = s.store
	if store != nil {
		sm.Store = store
	}
	sm.Codec = sessionCodec{}
	sm.Lifetime = s.cfg.SessionLifetime
	// The idle timeout is enforced by signedIn, not by scs: scs would
	// rewrite the session on every request to move its idle deadline, a
	// database write on every SSO. "seen" is refreshed once a minute instead.
	sm.IdleTimeout = 0
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode // Huawei's redirects are cross-site top-level GETs
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = false
	if https {
		sm.Cookie.Name = SessionCookieHTTPS
		sm.Cookie.Secure = true
	} else {
		sm.Cookie.Name = SessionCookieHTTP
	}
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.pages.Unavailable(w, r, "session", err)
	}
	return sm
}

// seenRefresh is how stale "seen" may get before a request rewrites it.
const seenRefresh = time.Minute

// startSession signs customerID in on the (already renewed) session.
func (s *Service) startSession(ctx context.Context, customerID string, now time.Time) {
	s.sessions.Put(ctx, sessCustomer, customerID)
	s.sessions.Put(ctx, sessAuthAt, now.UnixNano())
	s.sessions.Put(ctx, sessSeen, now.Unix())
}

// SignedIn returns the customer signed in for r and their sign-in time
// ("" when nobody is). A session idle for longer than the idle timeout is
// destroyed.
func (s *Service) SignedIn(r *http.Request) (string, time.Time) { return s.signedIn(r.Context()) }

func (s *Service) signedIn(ctx context.Context) (string, time.Time) {
	id := s.sessions.GetString(ctx, sessCustomer)
	if id == "" {
		return "", time.Time{}
	}
	now := s.now()
	seen := time.Unix(s.sessions.GetInt64(ctx, sessSeen), 0)
	if now.Sub(seen) > s.cfg.IdleTimeout {
		s.sessions.Destroy(ctx)
		return "", time.Time{}
	}
	if now.Sub(seen) >= seenRefresh {
		s.sessions.Put(ctx, sessSeen, now.Unix())
	}
	return id, time.Unix(0, s.sessions.GetInt64(ctx, sessAuthAt)).UTC()
}

// EndSession ends the browser's session (its customer is disabled or gone).
func (s *Service) EndSession(ctx context.Context) error { return s.sessions.Destroy(ctx) }

// RememberConsole keeps, in the signed-in customer's session, the console
// page they were heading for on site: the bind-result page continues there.
func (s *Service) RememberConsole(ctx context.Context, site, service string) {
	s.sessions.Put(ctx, sessConsole+site, service)
}

// ConsoleTarget returns what RememberConsole kept for site, or "".
func (s *Service) ConsoleTarget(ctx context.Context, site string) string {
	return s.sessions.GetString(ctx, sessConsole+site)
}

// SwitchTo signs customerID in on this browser at now after the person
// confirmed it (a launch URL's confirmation page): another customer's
// session is cleared, not inherited, and the session gets a new ID (no
// fixation).
func (s *Service) SwitchTo(ctx context.Context, customerID string, now time.Time) error {
	if other, _ := s.signedIn(ctx); other != "" && other != customerID {
		if err := s.sessions.Clear(ctx); err != nil {
			return err
		}
	}
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.startSession(ctx, customerID, now)
	return nil
}
