package login

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/storage"
	sqlstore "hcidp/storage/sql"
	"hcidp/templates"
	"hcidp/web"
)

// newTestService returns sign-in alone on a SQLite database with the
// customer alice, and its handler.
func newTestService(t *testing.T) (*Service, http.Handler) {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "login.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, err := customer.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateCustomer(context.Background(), storage.Customer{XAccountID: "alice", PasswordHash: hash, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse("http://127.0.0.1:8080")
	s, err := New(Config{BaseURL: base, SessionLifetime: time.Hour, IdleTimeout: time.Hour},
		Options{Store: st, Pages: web.NewPages(tmpl, slog.New(slog.DiscardHandler), nil, nil),
			ContinueSAML: func(w http.ResponseWriter, r *http.Request, f Flow, id string, at time.Time) {
				io.WriteString(w, "continued "+f.RequestID+" for "+id)
			}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Mount(mux)
	return s, s.Middleware(mux)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// loginAs submits the login form with a fresh CSRF cookie and token.
func loginAs(t *testing.T, h http.Handler, user, password string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8080/login", nil))
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("login form: %d\n%s", rec.Code, rec.Body)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(m[1])}, "username": {user}, "password": {password}}
	req := httptest.NewRequest("POST", "http://127.0.0.1:8080/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://127.0.0.1:8080")
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestPasswordChecksAreBounded: with every password-check slot taken, a
// login is answered 429 (no argon2 run) instead of queueing without limit.
func TestPasswordChecksAreBounded(t *testing.T) {
	s, h := newTestService(t)
	for range cap(s.passwordSlots) {
		s.passwordSlots <- struct{}{}
	}
	r := loginAs(t, h, "alice", "whatever password")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("login with all slots taken: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	for range cap(s.passwordSlots) {
		<-s.passwordSlots
	}
	if r := loginAs(t, h, "alice", "correct horse battery"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with free slots: %d", r.StatusCode)
	}
}

// The password form is accepted only with the CSRF token of the browser's
// CSRF cookie, from the IdP's own origin; a refusal counts no attempt and
// starts no session (docs/threat-model.md "Browser-facing pages").
func TestLoginFormNeedsCSRFAndOrigin(t *testing.T) {
	s, h := newTestService(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8080/login", nil))
	token := html.UnescapeString(csrfRE.FindStringSubmatch(rec.Body.String())[1])
	cookies := rec.Result().Cookies()
	for name, tt := range map[string]struct {
		token, origin string
		cookie        bool
		reason        string
	}{
		"no CSRF cookie":   {token, "http://127.0.0.1:8080", false, "login.csrf"},
		"wrong token":      {"forged", "http://127.0.0.1:8080", true, "login.csrf"},
		"no token":         {"", "http://127.0.0.1:8080", true, "login.csrf"},
		"foreign origin":   {token, "https://evil.example", true, "login.origin"},
		"null origin":      {token, "null", true, "login.origin"},
		"other scheme":     {token, "https://127.0.0.1:8080", true, "login.origin"},
		"foreign referrer": {token, "", true, "login.origin"},
	} {
		t.Run(name, func(t *testing.T) {
			form := url.Values{"csrf_token": {tt.token}, "username": {"alice"}, "password": {"correct horse battery"}}
			req := httptest.NewRequest("POST", "http://127.0.0.1:8080/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			} else {
				req.Header.Set("Referer", "https://evil.example/page")
			}
			if tt.cookie {
				for _, c := range cookies {
					req.AddCookie(c)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), tt.reason) {
				t.Fatalf("%d, want 403 %s", rec.Code, tt.reason)
			}
			for _, c := range rec.Result().Cookies() {
				if c.Name == "hcidp_session" {
					t.Error("a refused login set a session cookie")
				}
			}
			if f, _ := s.store.GetLoginFailures(t.Context(), "acct:alice", time.Now()); f.Count != 0 {
				t.Errorf("a refused form counted %d attempts", f.Count)
			}
		})
	}
}
