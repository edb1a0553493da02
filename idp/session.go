package idp

import (
	"context"
	"encoding/base64"
	"io"
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

func (s *Server) newSessionManager(store scs.Store) *scs.SessionManager {
	sm := scs.New()
	sm.Store = s.store
	if store != nil {
		sm.Store = store
	}
	sm.Lifetime = s.cfg.SessionLifetime.D()
	// The idle timeout is enforced by signedIn, not by scs: scs would
	// rewrite the session on every request to move its idle deadline, a
	// database write on every SSO. "seen" is refreshed once a minute instead.
	sm.IdleTimeout = 0
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode // Huawei's redirects are cross-site top-level GETs
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = false
	if s.https {
		sm.Cookie.Name = "__Host-hcidp"
		sm.Cookie.Secure = true
	} else {
		sm.Cookie.Name = "hcidp_session"
	}
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.unavailable(w, r, "session", err)
	}
	return sm
}

// seenRefresh is how stale "seen" may get before a request rewrites it.
const seenRefresh = time.Minute

// startSession signs customerID in on the (already renewed) session.
func (s *Server) startSession(ctx context.Context, customerID string, now time.Time) {
	s.sessions.Put(ctx, sessCustomer, customerID)
	s.sessions.Put(ctx, sessAuthAt, now.UnixNano())
	s.sessions.Put(ctx, sessSeen, now.Unix())
}

// signedIn returns the signed-in customer's ID and login time. A session
// idle for longer than session_idle_timeout is destroyed.
func (s *Server) signedIn(ctx context.Context) (string, time.Time) {
	id := s.sessions.GetString(ctx, sessCustomer)
	if id == "" {
		return "", time.Time{}
	}
	now := s.now()
	seen := time.Unix(s.sessions.GetInt64(ctx, sessSeen), 0)
	if now.Sub(seen) > s.cfg.SessionIdleTimeout.D() {
		s.sessions.Destroy(ctx)
		return "", time.Time{}
	}
	if now.Sub(seen) >= seenRefresh {
		s.sessions.Put(ctx, sessSeen, now.Unix())
	}
	return id, time.Unix(0, s.sessions.GetInt64(ctx, sessAuthAt)).UTC()
}

// token returns n random bytes, base64url-encoded.
func (s *Server) token(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic("idp: random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
