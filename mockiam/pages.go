package mockiam

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"

	"hcidp/check"
)

const layoutHTML = `{{define "layout"}}<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} — Mock Huawei Cloud IAM ({{.Site}})</title>
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
header{border-bottom:2px solid #c7000b;margin-bottom:1.5rem}
header p{color:#c7000b;font-weight:600;margin:.3rem 0}
code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}
pre{padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
li{margin:.4rem 0}button{font-size:1rem;padding:.5rem 1.2rem}
</style>
</head>
<body>
<header><p>Mock Huawei Cloud IAM ({{.Site}}) — a local test double, not the real Huawei Cloud</p></header>
<main>
<h1>{{.Title}}</h1>
{{template "content" .}}
</main>
</body>
</html>{{end}}`

const attrsHTML = `{{define "attrs"}}{{if .}}<table><tr><th>Attribute</th><th>Value</th></tr>
{{range .}}<tr><td><code>{{.Name}}</code></td><td>{{.Value}}</td></tr>
{{end}}</table>{{end}}{{end}}`

var pageBodies = map[string]string{
	"error": `{{define "content"}}<p>{{.Data.Message}}</p>
{{with .Data.Findings}}<ol>{{range .}}<li><code>{{.Rule}}</code>: {{.Message}}</li>{{end}}</ol>{{end}}{{end}}`,
	"bind": `{{define "content"}}<p>The SAML login succeeded, but no Huawei Cloud account is bound to the partner
account <code>{{.Data.XAccountID}}</code>{{if .Data.FirstLogin}} (isFirstLogin=true){{end}}.
The real IAM would now offer "Create and bind" or "Bind existing account".</p>
<h2>Attributes received</h2>
{{template "attrs" .Data.Attributes}}
<form method="post" action="{{.Data.Action}}">
<input type="hidden" name="pending" value="{{.Data.PendingID}}">
<input type="hidden" name="csrf" value="{{.Data.CSRF}}">
<p><button type="submit">Create and bind</button></p>
</form>{{end}}`,
	"bound": `{{define "content"}}<p>Partner account <code>{{.Data.XAccountID}}</code> is now bound to the mock
Huawei Cloud account <code>{{.Data.DomainName}}</code> (domain ID <code>{{.Data.DomainID}}</code>).
No Notification URL is configured, so the IdP is not notified.</p>
<p><a href="{{.Data.Console}}">Go to the mock console</a></p>{{end}}`,
	"console": `{{define "content"}}<p>Huawei Cloud console (mock {{.Site}}) — signed in as <code>{{.Data.XAccountID}}</code>
(domain <code>{{.Data.DomainName}}</code>)</p>
{{with .Data.Service}}<p>Requested service: <code>{{.}}</code></p>{{end}}
<h2>Attributes received</h2>
{{template "attrs" .Data.Attributes}}
<h2>Binding</h2>
<form method="post" action="{{.Data.Unbind}}" id="unbind">
<input type="hidden" name="csrf" value="{{.Data.CSRF}}">
<p>Unbinding removes the link between the partner account and this Huawei Cloud account and notifies the partner's IdP
(bindAction "1"); the next "Open console" asks to bind again.</p>
<p><button type="submit">Unbind</button></p>
</form>{{end}}`,
	"notify": `{{define "content"}}<p>{{if .Data.Unbind}}The account was unbound.{{else}}The account was bound.{{end}}
Huawei Cloud now notifies the partner's Notification URL (POST form data: bindRequest, SigAlg, Signature).
If nothing happens, press the button.</p>
<form method="post" action="{{.Data.Action}}" id="notify">
<input type="hidden" name="bindRequest" value="{{.Data.BindRequest}}">
<input type="hidden" name="SigAlg" value="{{.Data.SigAlg}}">
<input type="hidden" name="Signature" value="{{.Data.Signature}}">
<p><button type="submit">Continue to the partner</button></p>
</form>
<script nonce="{{.Data.Nonce}}">document.getElementById("notify").submit();</script>{{end}}`,
	"unbound": `{{define "content"}}<p>Partner account <code>{{.Data.XAccountID}}</code> is no longer bound to the mock
Huawei Cloud account <code>{{.Data.DomainName}}</code> (domain ID <code>{{.Data.DomainID}}</code>).
No Notification URL is configured, so the IdP is not notified.</p>{{end}}`,
}

var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for name, body := range pageBodies {
		t := template.Must(template.New(name).Parse(layoutHTML))
		template.Must(t.Parse(attrsHTML))
		out[name] = template.Must(t.Parse(body))
	}
	return out
}()

type pageData struct {
	Title string
	Site  string
	Data  any
}

type attrRow struct{ Name, Value string }

type errorPage struct {
	Message  string
	Findings []check.Finding
}

type bindPage struct {
	XAccountID string
	FirstLogin bool
	Attributes []attrRow
	PendingID  string
	CSRF       string
	Action     string
}

type boundPage struct {
	XAccountID, DomainID, DomainName, Console string
}

type consolePage struct {
	XAccountID, DomainName, Service string
	Attributes                      []attrRow
	// Unbind is the action of the "Unbind" form, CSRF its token.
	Unbind, CSRF string
}

// notifyPage auto-submits the bind-result notification to the IdP.
type notifyPage struct {
	Action                         string
	BindRequest, SigAlg, Signature string
	Nonce                          string
	Unbind                         bool
}

var pageTitles = map[string]string{
	"bind":    "Create and bind a Huawei Cloud account",
	"bound":   "Account bound",
	"unbound": "Account unbound",
	"notify":  "Notifying the partner",
	"console": "Console",
}

func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	s.renderTitled(w, status, name, pageTitles[name], data)
}

func (s *Server) renderTitled(w http.ResponseWriter, status int, name, title string, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", pageData{Title: title, Site: s.cfg.Site, Data: data}); err != nil {
		s.log.Error("template failed", "page", name, "err", err)
		http.Error(w, "Mock Huawei Cloud IAM: page rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) errorPage(w http.ResponseWriter, status int, title, msg string, findings []check.Finding) {
	s.renderTitled(w, status, "error", title, errorPage{Message: msg, Findings: findings})
}

func sortedAttrs(m map[string]string) []attrRow {
	rows := make([]attrRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, attrRow{k, v})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}
