package idp

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Session keys. Sessions live in the configured database (storage.Storage
// implements scs.CtxStore), so every replica sees every session.
const (
	sessCustomer = "customer" // xAccountId of the signed-in customer
	sessAuthAt   = "auth_at"  // login time, Unix nanoseconds
	sessSeen     = "seen"     // last activity, Unix seconds (rewritten at most once a minute)
	sessCSRF     = "csrf"     // login form token
	sessPending  = "pending"  // JSON map flow ID -> pendingFlow
	sessConsole  = "console:" // + site: the service URL last asked for
	maxPending   = 5          // flows kept per session
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

// pendingFlow is what waits in the session while the customer signs in: a
// verified AuthnRequest, or a console link to build afterwards.
type pendingFlow struct {
	Kind       string    `json:"k"` // "saml" or "console"
	Created    time.Time `json:"t"`
	Site       string    `json:"s,omitempty"`
	RequestID  string    `json:"id,omitempty"`
	ACS        string    `json:"acs,omitempty"`
	RelayState *string   `json:"rs,omitempty"`
	ForceAuthn bool      `json:"fa,omitempty"`
	Console    string    `json:"c,omitempty"` // the /console URL to continue to
}

func (s *Server) pendingFlows(ctx context.Context) map[string]pendingFlow {
	m := map[string]pendingFlow{}
	if raw := s.sessions.GetString(ctx, sessPending); raw != "" {
		json.Unmarshal([]byte(raw), &m)
	}
	now := s.now()
	for k, f := range m {
		if now.Sub(f.Created) > pendingTTL {
			delete(m, k)
		}
	}
	return m
}

func (s *Server) putPendingFlows(ctx context.Context, m map[string]pendingFlow) {
	if len(m) == 0 {
		s.sessions.Remove(ctx, sessPending)
		return
	}
	b, _ := json.Marshal(m)
	s.sessions.Put(ctx, sessPending, string(b))
}

// addPending stores f and returns its flow ID, dropping the oldest flows
// beyond maxPending.
func (s *Server) addPending(ctx context.Context, f pendingFlow) string {
	m := s.pendingFlows(ctx)
	for len(m) >= maxPending {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return m[keys[i]].Created.Before(m[keys[j]].Created) })
		delete(m, keys[0])
	}
	id := s.token(16)
	f.Created = s.now()
	m[id] = f
	s.putPendingFlows(ctx, m)
	return id
}

// takePending removes and returns a flow: each is continued at most once.
func (s *Server) takePending(ctx context.Context, id string) (pendingFlow, bool) {
	m := s.pendingFlows(ctx)
	f, ok := m[id]
	if ok {
		delete(m, id)
		s.putPendingFlows(ctx, m)
	}
	return f, ok
}

// seenRefresh is how stale "seen" may get before a request rewrites it.
const seenRefresh = time.Minute

// startSession signs customerID in on the (already renewed) session.
func (s *Server) startSession(ctx context.Context, customerID string, now time.Time) {
	s.sessions.Put(ctx, sessCustomer, customerID)
	s.sessions.Put(ctx, sessAuthAt, now.UnixNano())
	s.sessions.Put(ctx, sessSeen, now.Unix())
	s.sessions.Remove(ctx, sessCSRF)
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

// csrfToken returns the session's login-form token, creating it when absent.
func (s *Server) csrfToken(ctx context.Context) string {
	t := s.sessions.GetString(ctx, sessCSRF)
	if t == "" {
		t = s.token(32)
		s.sessions.Put(ctx, sessCSRF, t)
	}
	return t
}

func (s *Server) checkCSRF(ctx context.Context, got string) bool {
	want := s.sessions.GetString(ctx, sessCSRF)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// token returns n random bytes, base64url-encoded.
func (s *Server) token(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		panic("idp: random source failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
