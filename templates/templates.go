// Package templates holds hcidp's HTML pages, embedded in the binary, and
// renders them through typed methods. Pages exist in English and Simplified
// Chinese; Lang picks one from the Accept-Language header. An operator may
// override the files from a directory (same file names).
package templates

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"strings"
)

//go:embed *.html
var files embed.FS

// FS returns the embedded page templates.
func FS() fs.FS { return files }

// Renderer renders the pages. It is safe for concurrent use.
type Renderer struct {
	t    *template.Template
	post map[postKey]*postPage
}

// New parses the embedded templates, then, when dir is not empty, the
// operator's pages in dir (config templates_dir), which replace the
// embedded pages of the same file name. Every page is parsed at start-up,
// so a broken override fails fast.
func New(dir string) (*Renderer, error) {
	t, err := template.New("").ParseFS(files, "*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	if dir != "" {
		// The operator's pages replace the embedded ones of the same name
		// (layout.html's "head" too); pages the directory lacks stay.
		over, err := fs.Glob(os.DirFS(dir), "*.html")
		if err != nil || len(over) == 0 {
			return nil, fmt.Errorf("templates_dir %s: no *.html pages there (copy the embedded ones from templates/ and edit them)", dir)
		}
		if t, err = t.ParseFS(os.DirFS(dir), "*.html"); err != nil {
			return nil, fmt.Errorf("templates_dir %s: %w", dir, err)
		}
	}
	for _, name := range []string{"login.html", "error.html", "post.html", "message.html", "portal.html", "launch.html", "home.html"} {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("templates: %s is missing", name)
		}
	}
	r := &Renderer{t: t}
	if err := r.preparePost(); err != nil {
		return nil, err
	}
	return r, nil
}

// Page is what every page needs.
type Page struct {
	// Lang is "en" or "zh-CN"; L holds its messages.
	Lang string
	L    map[string]string
	// Nonce is the CSP nonce for the page's inline style and script.
	Nonce string
}

// LoginData is the sign-in form. Its inputs are named username and password.
type LoginData struct {
	Page
	CSRF     string
	Flow     string
	Username string
	// Error is a message key of L, or "".
	Error string
	// RetryAfter, when not 0, is how many seconds to wait before trying again.
	RetryAfter int
	// PasswordLogin shows the password form; Upstream, when not "", names
	// the partner portal's provider on the "Sign in with ..." button.
	PasswordLogin bool
	Upstream      string
}

// ErrorData is the generic refusal page.
type ErrorData struct {
	Page
	Status int
	Reason string
	// Body is the message key of the explanation; "" means error_body.
	Body string
}

// PostData is the auto-submitting HTTP-POST binding form (SAML bindings §3.5).
type PostData struct {
	Page
	ACS          string
	SAMLResponse string
	RelayState   string
	HasRelay     bool
}

// MessageData is a short result page with an optional link.
type MessageData struct {
	Page
	Title    string // message key
	Body     string // message key
	Detail   string // literal text
	LinkURL  string
	LinkText string // message key
}

// LaunchData is the confirmation page of a launch URL: it names the account
// the browser is about to be signed in as, and who is signed in now.
type LaunchData struct {
	Page
	CSRF        string
	Token       string
	XAccountID  string
	DisplayName string
	// SignedInAs is the other customer signed in in this browser, or "".
	SignedInAs string
}

// HomeData is "/" outside the demo: what this server is, and who is signed
// in (with a sign-out button).
type HomeData struct {
	Page
	Customer string
}

// PortalData is the demo portal with the "Open Huawei Cloud console" button.
type PortalData struct {
	Page
	Customer  string
	Sites     []string
	ConsoleTo string
}

func (r *Renderer) Login(w io.Writer, d LoginData) error {
	return r.t.ExecuteTemplate(w, "login.html", d)
}
func (r *Renderer) Error(w io.Writer, d ErrorData) error {
	return r.t.ExecuteTemplate(w, "error.html", d)
}
func (r *Renderer) PostForm(w io.Writer, d PostData) error {
	return r.t.ExecuteTemplate(w, "post.html", d)
}
func (r *Renderer) Message(w io.Writer, d MessageData) error {
	return r.t.ExecuteTemplate(w, "message.html", d)
}
func (r *Renderer) Launch(w io.Writer, d LaunchData) error {
	return r.t.ExecuteTemplate(w, "launch.html", d)
}
func (r *Renderer) Home(w io.Writer, d HomeData) error {
	return r.t.ExecuteTemplate(w, "home.html", d)
}
func (r *Renderer) Portal(w io.Writer, d PortalData) error {
	return r.t.ExecuteTemplate(w, "portal.html", d)
}

// Lang chooses "zh-CN" or "en" from an Accept-Language header, honouring
// q-values; English is the default.
func Lang(acceptLanguage string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
				q = 0
			}
		}
		tag = strings.ToLower(strings.TrimSpace(tag))
		var lang string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			lang = "zh-CN"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = "en"
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best
}

// Messages returns the message catalogue of lang ("en" when unknown).
func Messages(lang string) map[string]string {
	if m, ok := catalog[lang]; ok {
		return m
	}
	return catalog["en"]
}
