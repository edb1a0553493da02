package login

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"hcidp/storage"
	"hcidp/web"
)

// Login throttling (docs/threat-model.md "Browser-facing pages"): attempts
// are counted per account and per client address in the database, so every
// replica sees them, before the password is checked; a successful attempt
// is taken back. After a number of free failures each further failure
// locks the key for twice as long as the previous one (1 s, 2 s, 4 s, ...,
// at most 15 minutes). A counter is forgotten after throttleQuiet without a
// failure beyond the longest lock. Unknown accounts are counted exactly like
// known ones, so the answer never tells whether an account exists.
const (
	// FreeAccountAttempts failures of one account ID pass without delay.
	FreeAccountAttempts = 5
	// FreeAddressAttempts is higher: many customers may share one NAT address.
	FreeAddressAttempts = 20
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
		{key: "acct:" + username, kind: "account", free: FreeAccountAttempts},
		{key: "addr:" + addrKey(web.ClientAddr(r)), kind: "address", free: FreeAddressAttempts},
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

// throttleWait is how long an attempt must still wait given the states of
// keys at now (0: it may proceed), and the kind of key that decides it.
func throttleWait(keys []throttleKey, states []storage.LoginFailures, now time.Time) (time.Duration, string) {
	var wait time.Duration
	var kind string
	for i, k := range keys {
		f := states[i]
		if w := f.Last.Add(lockFor(f.Count, k.free)).Sub(now); f.Count > 0 && w > wait {
			wait, kind = w, k.kind
		}
	}
	return wait, kind
}

// reserveLogin counts the attempt against the account and the address
// before the password is checked (docs/threat-model.md "Browser-facing
// pages"): ReserveLoginAttempt reads, decides and counts in one step shared
// by every replica, so a parallel burst gets no more guesses than a
// sequence. A locked account or address is answered 429 with Retry-After
// and the login page saying how long to wait, and nothing is counted; a
// storage fault is answered 503. It returns true when the attempt may go on.
func (s *Service) reserveLogin(w http.ResponseWriter, r *http.Request, flow, username string) bool {
	keys := loginThrottleKeys(r, username)
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.key
	}
	now := s.now()
	states, ok, err := s.store.ReserveLoginAttempt(r.Context(), names, now, throttleKeep, func(st []storage.LoginFailures) bool {
		wait, _ := throttleWait(keys, st, now)
		return wait <= 0
	})
	if err != nil {
		s.pages.Unavailable(w, r, "throttle", err)
		return false
	}
	if ok {
		return true
	}
	wait, kind := throttleWait(keys, states, now)
	secs := int((wait + time.Second - 1) / time.Second)
	s.metrics.Login("throttled")
	s.log.WarnContext(r.Context(), "login throttled", "by", kind, "account", username, "client", web.ClientAddr(r), "retry_after_s", secs)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.renderLoginWait(w, r, http.StatusTooManyRequests, flow, username, "login_throttled", secs)
	return false
}

// loginSucceeded forgets the account's attempts and takes this attempt back
// from the address: one customer signing in must not lock the address, nor
// unlock an address that is guessing other accounts' passwords. A storage
// error is logged: the customer is signed in anyway.
func (s *Service) loginSucceeded(r *http.Request, username string) {
	keys := loginThrottleKeys(r, username)
	if err := s.store.ResetLoginFailures(r.Context(), keys[0].key); err != nil {
		s.log.ErrorContext(r.Context(), "reset login failures", "err", err)
	}
	if err := s.store.RefundLoginAttempt(r.Context(), keys[1].key, s.now()); err != nil {
		s.log.ErrorContext(r.Context(), "refund login attempt", "err", err)
	}
}
