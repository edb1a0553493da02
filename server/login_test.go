package server

// docs/threat-model.md "Browser-facing pages", sign-in through the whole
// server: throttling per account and per client address with back-off,
// counted before the password check; the same message and cost for unknown
// accounts; length limits; a new session ID at login; logout destroying the
// session.

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/login"
)

// newThrottleEnv is newHardenEnv with the clock standing still, so that a
// lock lasts until the test moves the clock: on a slow machine (the race
// detector makes each argon2id hash take about a second) real time would
// outlast a one-second lock between two attempts.
func newThrottleEnv(t *testing.T) *hardenEnv {
	e := newHardenEnv(t, "", nil)
	e.clock.Set(time.Now())
	return e
}

// fail posts a wrong password for id and returns the answer.
func (c *hxClient) fail(id string) *hxResp {
	return c.login(id, "wrong password")
}

func TestLoginThrottlePerAccount(t *testing.T) {
	e := newThrottleEnv(t)
	cl := e.client()
	for i := 1; i <= login.FreeAccountAttempts; i++ {
		if r := cl.fail("alice"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i, r.StatusCode)
		}
	}
	// Locked: even the right password gets 429, with Retry-After and the
	// login page saying so in the customer's language.
	f := cl.loginForm("")
	f.Set("username", "alice")
	f.Set("password", hxPassword)
	req := func() *hxResp { return cl.post("/login", f) }
	r := req()
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("locked account: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.Body, "Too many attempts") || !strings.Contains(r.Body, `name="password"`) {
		t.Errorf("429 page is not the login page with the throttle message:\n%s", r.Body)
	}
	zh := httpReqWithLang(cl, f, "zh-CN")
	if zh.StatusCode != http.StatusTooManyRequests || !strings.Contains(zh.Body, "尝试次数过多") {
		t.Errorf("zh-CN throttle page: %d\n%s", zh.StatusCode, zh.Body)
	}
	// Another account from another address is not affected.
	other := e.client()
	other.remote = "198.51.100.9:1234"
	if r := other.login("bob", hxPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("another account: %d", r.StatusCode)
	}
	// The same account from another address is locked too.
	if r := other.login("alice", hxPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked account from another address: %d", r.StatusCode)
	}
	// Back-off: after the lock, one more failure locks for 2 s.
	e.clock.Advance(1100 * time.Millisecond)
	if r := cl.fail("alice"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the lock: %d", r.StatusCode)
	}
	if r := cl.fail("alice"); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("second lock: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	// After it, the right password works and resets the account counter.
	e.clock.Advance(2100 * time.Millisecond)
	cl.mustLogin("alice")
	if got, _ := e.store.GetLoginFailures(t.Context(), "acct:alice", e.clock.Now()); got.Count != 0 {
		t.Errorf("successful login left %d failures", got.Count)
	}
}

func httpReqWithLang(cl *hxClient, f url.Values, lang string) *hxResp {
	req, _ := http.NewRequest(http.MethodPost, cl.e.origin+"/login", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", cl.e.origin)
	req.Header.Set("Accept-Language", lang)
	return cl.do(req)
}

var volatileRE = regexp.MustCompile(`(nonce|value)="[^"]*"|nonce-[^']*`)

// Unknown accounts get the same statuses, the same page and the same lock
// as known ones: the answers do not tell whether an account exists.
func TestLoginThrottleUnknownAccountSameAsKnown(t *testing.T) {
	e := newThrottleEnv(t)
	run := func(id string) (statuses []int, retry []string, bodies []string) {
		cl := e.client()
		cl.remote = "203.0.113." + map[string]string{"alice": "1", "nobody": "2"}[id] + ":1"
		for range login.FreeAccountAttempts + 1 {
			r := cl.fail(id)
			statuses = append(statuses, r.StatusCode)
			retry = append(retry, r.Header.Get("Retry-After"))
			bodies = append(bodies, volatileRE.ReplaceAllString(strings.ReplaceAll(r.Body, id, "ID"), ""))
		}
		return
	}
	ks, kr, kb := run("alice")
	us, ur, ub := run("nobody")
	if !equal(ks, us) || !equal(kr, ur) {
		t.Fatalf("known %v %v, unknown %v %v", ks, kr, us, ur)
	}
	if ks[len(ks)-1] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v: the last attempt should be throttled", ks)
	}
	for i := range kb {
		if kb[i] != ub[i] {
			t.Errorf("attempt %d: pages differ\nknown:\n%s\nunknown:\n%s", i+1, kb[i], ub[i])
		}
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// An unknown account costs an argon2id verification like a known one. Not
// measured in time (a loaded machine makes that flaky) but in memory: each
// argon2id verification allocates its 19 MiB working area, so a login that
// skips it allocates a few kilobytes.
func TestLoginUnknownAccountSameCost(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	allocated := func(id string) uint64 {
		cl := e.client()
		cl.remote = "203.0.113.90:1"
		f := cl.loginForm("")
		f.Set("username", id)
		f.Set("password", "wrong password")
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if r := cl.post("/login", f); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %d", id, r.StatusCode)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	const argonMemory = 19 << 20
	for _, id := range []string{"alice", "nobody-at-all"} {
		if got := allocated(id); got < argonMemory {
			t.Errorf("a failed login as %s allocated %d bytes, less than one argon2id verification (%d): the password hash is skipped", id, got, argonMemory)
		}
	}
}

func TestLoginThrottlePerAddress(t *testing.T) {
	e := newThrottleEnv(t)
	cl := e.client()
	for i := range login.FreeAddressAttempts {
		if r := cl.fail("guess-" + string(rune('a'+i))); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, r.StatusCode)
		}
	}
	if r := cl.login("alice", hxPassword); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("address locked: %d %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	other := e.client()
	other.remote = "198.51.100.20:1"
	other.mustLogin("alice")
	// The successful login elsewhere does not unlock the guessing address.
	if r := cl.login("bob", hxPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("address unlocked by another customer's login: %d", r.StatusCode)
	}
}

// The counters live in the database: failures on one replica lock the
// account on another.
func TestLoginThrottleSharedByReplicas(t *testing.T) {
	e := newThrottleEnv(t)
	a, b := e.client(), e.replica().client()
	for range login.FreeAccountAttempts {
		a.fail("alice")
	}
	if r := b.login("alice", hxPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("replica B let a locked account in: %d", r.StatusCode)
	}
}

func TestLoginLengthLimits(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	for name, tt := range map[string]struct {
		user, pass string
		status     int
	}{
		"username too long": {strings.Repeat("a", customer.MaxIDLength+1), hxPassword, http.StatusUnauthorized},
		"password too long": {"alice", strings.Repeat("p", customer.MaxPasswordLength+1), http.StatusUnauthorized},
		"empty password":    {"alice", "", http.StatusUnauthorized},
		"body over 8 KiB":   {"alice", strings.Repeat("p", 8<<10), http.StatusRequestEntityTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			f := cl.loginForm("")
			f.Set("username", tt.user)
			f.Set("password", tt.pass)
			if r := cl.post("/login", f); r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			if id, _ := e.store.GetLoginFailures(t.Context(), "acct:alice", e.clock.Now()); id.Count != 0 {
				t.Errorf("a malformed attempt was counted as a password guess")
			}
		})
	}
}

// isSessionCookie tells the session cookie from the CSRF and flow cookies.
func isSessionCookie(name string) bool { return name == "hcidp_session" || name == "__Host-hcidp" }

func sessionCookie(c *hxClient) string {
	for name, ck := range c.cookies {
		if isSessionCookie(name) {
			return ck.Value
		}
	}
	return ""
}

// A new session ID at login: a token planted before login (fixation) is
// not the signed-in session.
func TestLoginRotatesSessionID(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	// The attacker signs in with an account of their own and plants that
	// session's token in the victim's browser.
	attackerSession := e.client()
	attackerSession.mustLogin("bob")
	before := sessionCookie(attackerSession)
	if before == "" {
		t.Fatal("login set no session cookie")
	}
	cl := e.client()
	cl.cookies[cookieName(attackerSession)] = &http.Cookie{Name: cookieName(attackerSession), Value: before}
	f := cl.loginForm("")
	f.Set("username", "alice")
	f.Set("password", hxPassword)
	if r := cl.post("/login", f); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	after := sessionCookie(cl)
	if after == "" || after == before {
		t.Fatalf("session ID not renewed at login: before %q after %q", before, after)
	}
	if _, found, _ := e.store.FindCtx(t.Context(), before); found {
		t.Error("the pre-login session still exists")
	}
	// The attacker who planted the old token is not signed in.
	attacker := e.client()
	attacker.cookies[cookieName(cl)] = &http.Cookie{Name: cookieName(cl), Value: before}
	if r := attacker.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_fix1", time.Now(), e.ssoURL()), "")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("old token after login: %d, want the login redirect", r.StatusCode)
	}
}

func cookieName(c *hxClient) string {
	for name := range c.cookies {
		if isSessionCookie(name) {
			return name
		}
	}
	return ""
}

func TestLogoutDestroysSession(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	cl.mustLogin("alice")
	token, name := sessionCookie(cl), cookieName(cl)
	r := cl.post("/logout", nil)
	if r.StatusCode != http.StatusOK || sessionCookie(cl) != "" {
		t.Fatalf("logout: %d, cookie %q left", r.StatusCode, sessionCookie(cl))
	}
	if _, found, _ := e.store.FindCtx(t.Context(), token); found {
		t.Error("the session row survived logout")
	}
	// Replaying the old cookie does not sign anyone in.
	old := e.client()
	old.cookies[name] = &http.Cookie{Name: name, Value: token}
	if r := old.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_out1", time.Now(), e.ssoURL()), "")); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("old cookie after logout: %d, want the login redirect", r.StatusCode)
	}
}

func TestLogoutRefusesCrossOrigin(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	cl.mustLogin("alice")
	req, _ := http.NewRequest(http.MethodPost, e.origin+"/logout", nil)
	req.Header.Set("Origin", "https://evil.example")
	if r := cl.do(req); r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin logout: %d", r.StatusCode)
	}
	if r := cl.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_x1", time.Now(), e.ssoURL()), "")); r.StatusCode != http.StatusOK {
		t.Fatalf("still signed in after a refused logout? %d", r.StatusCode)
	}
}

// The attempt is counted before the password is checked, atomically for
// every replica: a parallel burst at the end of a lock window gets exactly
// the one guess a sequence would, not one per password-check slot.
func TestLoginThrottleParallelBurst(t *testing.T) {
	e := newThrottleEnv(t)
	replica := e.replica()
	cl := e.client()
	for range login.FreeAccountAttempts {
		if r := cl.fail("alice"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure: %d", r.StatusCode)
		}
	}
	e.clock.Advance(time.Second + 100*time.Millisecond) // the first lock lasts a second
	const n = 16
	forms := make([]url.Values, n)
	clients := make([]*hxClient, n)
	for i := range n {
		env := e
		if i%2 == 1 {
			env = replica // half the burst reaches the other replica
		}
		clients[i] = env.client()
		clients[i].remote = fmt.Sprintf("198.51.100.%d:4000", 10+i) // many addresses: only the account limits
		forms[i] = clients[i].loginForm("")
		forms[i].Set("username", "alice")
		forms[i].Set("password", "wrong password")
	}
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = clients[i].post("/login", forms[i]).StatusCode
		})
	}
	close(start)
	wg.Wait()
	checked := 0
	for _, st := range statuses {
		switch st {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
		default:
			t.Errorf("unexpected status %d", st)
		}
	}
	if checked != 1 {
		t.Errorf("%d of %d parallel guesses had their password checked, want exactly 1 (statuses %v)", checked, n, statuses)
	}
	if f, _ := e.store.GetLoginFailures(t.Context(), "acct:alice", e.clock.Now()); f.Count != login.FreeAccountAttempts+1 {
		t.Errorf("account counts %d attempts, want %d", f.Count, login.FreeAccountAttempts+1)
	}
}
