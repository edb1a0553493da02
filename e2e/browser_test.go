package e2e

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is a minimal cookie-keeping HTTP client that follows redirects
// and submits HTML forms, enough to walk the SSO flow like a person would.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar}}
}

// page is a fetched response with its body.
type page struct {
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
}

func (b *browser) do(req *http.Request) *page {
	b.t.Helper()
	req.Header.Set("Accept-Language", "en")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

func (b *browser) get(u string) *page {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// noRedirect fetches u without following redirects.
func (b *browser) noRedirect(u string) *http.Response {
	b.t.Helper()
	c := *b.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// form is an HTML form found on a page.
type form struct {
	Method, Action string
	Fields         url.Values
}

var (
	formRE  = regexp.MustCompile(`(?s)<form([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input([^>]*)>`)
	attrRE  = regexp.MustCompile(`([a-zA-Z-]+)="([^"]*)"`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// form returns the first form whose action contains actionPart.
func (p *page) form(t *testing.T, actionPart string) *form {
	t.Helper()
	for _, m := range formRE.FindAllStringSubmatch(p.Body, -1) {
		fa := attrs(m[1])
		if !strings.Contains(fa["action"], actionPart) {
			continue
		}
		f := &form{Method: strings.ToUpper(fa["method"]), Action: fa["action"], Fields: url.Values{}}
		if f.Method == "" {
			f.Method = "GET"
		}
		for _, in := range inputRE.FindAllStringSubmatch(m[2], -1) {
			ia := attrs(in[1])
			if ia["name"] != "" {
				f.Fields.Set(ia["name"], ia["value"])
			}
		}
		return f
	}
	t.Fatalf("no form with action containing %q on %s (status %d):\n%s", actionPart, p.URL, p.Status, p.Body)
	return nil
}

// submit sends the form as a browser would (relative actions resolved
// against the page URL, Origin set on POST).
func (b *browser) submit(p *page, f *form) *page {
	b.t.Helper()
	target, err := p.URL.Parse(f.Action)
	if err != nil {
		b.t.Fatal(err)
	}
	var req *http.Request
	if f.Method == "POST" {
		req, _ = http.NewRequest("POST", target.String(), strings.NewReader(f.Fields.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", p.URL.Scheme+"://"+p.URL.Host)
	} else {
		target.RawQuery = f.Fields.Encode()
		req, _ = http.NewRequest("GET", target.String(), nil)
	}
	return b.do(req)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
