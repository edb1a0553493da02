package idp

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"hcidp/templates"
)

// Login throttling (SECURITY.md "Browser-facing pages"): failures are
// counted per account and per client address in the database, so every
// replica sees them. After a number of free failures each further failure
// locks the key for twice as long as the previous one (1 s, 2 s, 4 s, ...,
// at most 15 minutes). A counter is forgotten after throttleQuiet without a
// failure beyond the longest lock. Unknown accounts are counted exactly like
// known ones, so the answer never tells whether an account exists.
const (
	// throttleFreeAccount failures of one account ID pass without delay.
	throttleFreeAccount = 5
	// throttleFreeAddress is higher: many customers may share one NAT address.
	throttleFreeAddress = 20
	throttleBaseLock    = time.Second
	throttleMaxLock     = 15 * time.Minute
	throttleQuiet       = 15 * time.Minute
	throttleKeep        = throttleMaxLock + throttleQuiet
)

// throttleKey is one throttled dimension of a login attempt.
type throttleKey struct {
	key  string // "acct:<id>" or "addr:<ip or /64>"
	kind string // "account" or "address", for the log
	free int
}

// loginThrottleKeys returns the keys a login attempt for username from r counts against.
func loginThrottleKeys(r *http.Request, username string) []throttleKey {
	return []throttleKey{
		{key: "acct:" + username, kind: "account", free: throttleFreeAccount},
		{key: "addr:" + addrKey(clientAddr(r)), kind: "address", free: throttleFreeAddress},
	}
}

// addrKey normalises a client address: IPv4 (also IPv4-mapped IPv6) as is,
// IPv6 as its /64, which one subscriber usually holds whole.
func addrKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// lockFor is how long after its latest failure a key with n failures is
// locked, given free failures without delay.
func lockFor(n, free int) time.Duration {
	if n < free {
		return 0
	}
	shift := n - free
	if shift >= 20 { // 2^20 s is far beyond the cap
		return throttleMaxLock
	}
	return min(throttleBaseLock<<shift, throttleMaxLock)
}

// loginWait returns how long the attempt must wait (0: it may proceed).
func (s *Server) loginWait(ctx context.Context, keys []throttleKey, now time.Time) (time.Duration, string, error) {
	var wait time.Duration
	var kind string
	for _, k := range keys {
		f, err := s.store.GetLoginFailures(ctx, k.key, now)
		if err != nil {
			return 0, "", err
		}
		if w := f.Last.Add(lockFor(f.Count, k.free)).Sub(now); f.Count > 0 && w > wait {
			wait, kind = w, k.kind
		}
	}
	return wait, kind, nil
}

// loginThrottled answers 429 with Retry-After and the login page saying
// "too many attempts" when the account or the address is locked; it
// returns true when it answered.
func (s *Server) loginThrottled(w http.ResponseWriter, r *http.Request, flow, username string) bool {
	wait, kind, err := s.loginWait(r.Context(), loginThrottleKeys(r, username), s.now())
	if err != nil {
		s.unavailable(w, r, "throttle", err)
		return true
	}
	if wait <= 0 {
		return false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	s.log.Warn("login throttled", "by", kind, "client", clientAddr(r), "retry_after_s", secs)
	p := s.page(w, r, s.navFormAction())
	d := templates.LoginData{Page: p, CSRF: s.csrfToken(r.Context()), Flow: flow, Username: username, Error: "login_throttled"}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.WriteHeader(http.StatusTooManyRequests)
	s.pages.Login(w, d)
	return true
}

// countLoginFailure records a failed attempt against the account and the
// address. A storage error is logged: the attempt has failed anyway.
func (s *Server) countLoginFailure(r *http.Request, username string) {
	now := s.now()
	for _, k := range loginThrottleKeys(r, username) {
		if _, err := s.store.RecordLoginFailure(r.Context(), k.key, now, throttleKeep); err != nil {
			s.log.Error("record login failure", "by", k.kind, "err", err)
		}
	}
}

// clearLoginFailures forgets the account's failures after a successful
// login. The address counter is kept: one customer signing in must not
// unlock an address that is guessing other accounts' passwords.
func (s *Server) clearLoginFailures(r *http.Request, username string) {
	if err := s.store.ResetLoginFailures(r.Context(), "acct:"+username); err != nil {
		s.log.Error("reset login failures", "err", err)
	}
}
