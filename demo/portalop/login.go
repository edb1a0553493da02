package portalop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The login page op redirects to (Client.LoginURL). It is CSRF-safe enough
// for a demo: the form carries the authorization request's ID (random, 192
// bits, known only to the browser that was sent here) and an HMAC of it
// under a key of this server, and a POST whose Origin is another site is
// refused. Every value on the page goes through html/template.

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · {{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0}
main{max-width:22rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.5rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem}
.buttons{margin-top:1.2rem;display:flex;gap:.5rem}button{padding:.5rem 1rem}
.error{color:#b91c1c}.note{color:#6b7280;font-size:.85rem}
</style></head><body><main>
<h1>{{.Title}}</h1>
<p class="note">Sign in to continue to your cloud console.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password">
<div class="buttons"><button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="action" value="cancel">Cancel</button></div>
</form></main></body></html>
`))

type loginData struct {
	Title, ID, CSRF, Username, Error string
}

// csrf binds a form to its authorization request.
func (s *Server) csrf(id string) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) renderLogin(w http.ResponseWriter, status int, d loginData) {
	d.Title, d.CSRF = s.title, s.csrf(d.ID)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// No form-action: browsers apply it to every redirect that follows the
	// form's submission, and this login form's answer is a redirect chain
	// through the relying party's callback to wherever it continues (for
	// hcidp: the Huawei Cloud IAM), which a provider cannot know.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, d)
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	if _, err := s.store.AuthRequestByID(r.Context(), id); err != nil {
		http.Error(w, "This sign-in has expired or is unknown. Go back to the application and start again.", http.StatusBadRequest)
		return
	}
	s.renderLogin(w, http.StatusOK, loginData{ID: id})
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != s.issuer {
		http.Error(w, "cross-origin sign-in refused", http.StatusForbidden)
		return
	}
	id := r.PostForm.Get("authRequestID")
	if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrf(id))) {
		http.Error(w, "the form is stale or forged; go back to the application and start again", http.StatusForbidden)
		return
	}
	req, err := s.store.AuthRequestByID(r.Context(), id)
	if err != nil {
		http.Error(w, "This sign-in has expired or is unknown. Go back to the application and start again.", http.StatusBadRequest)
		return
	}
	ctx := op.ContextWithIssuer(r.Context(), s.issuer)
	r = r.WithContext(ctx)
	if r.PostForm.Get("action") == "cancel" {
		s.log.InfoContext(ctx, "portalop: sign-in cancelled", "client", req.GetClientID())
		_ = s.store.DeleteAuthRequest(ctx, id)
		op.AuthRequestError(w, r, req, oidc.ErrAccessDenied().WithDescription("The user cancelled the sign-in."), s.provider)
		return
	}
	username := r.PostForm.Get("username")
	u, ok := s.store.checkPassword(username, r.PostForm.Get("password"))
	if !ok {
		s.log.InfoContext(ctx, "portalop: sign-in failed", "client", req.GetClientID())
		s.renderLogin(w, http.StatusUnauthorized, loginData{ID: id, Username: username, Error: "Wrong username or password."})
		return
	}
	a, err := s.store.signIn(id, u)
	if err != nil {
		http.Error(w, "This sign-in has expired or is already complete. Go back to the application and start again.", http.StatusBadRequest)
		return
	}
	s.log.InfoContext(ctx, "portalop: signed in", "subject", u.Subject, "client", a.clientID)
	// The code is issued here, in the response to the POST that carried
	// the password, rather than through op's callback endpoint.
	op.AuthResponse(a, s.provider, w, r)
}
