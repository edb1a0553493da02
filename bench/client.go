package bench

import (
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"hcidp/login"
	"hcidp/mockiam"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// SignIn signs in through GET and POST /login with a fresh cookie jar and
// returns the session cookie.
func SignIn(base *http.Client, idpURL, username, password string) (*http.Cookie, error) {
	jar, _ := cookiejar.New(nil)
	c := *base
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(idpURL + "/login")
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("GET /login: %d, no CSRF token", resp.StatusCode)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(string(m[1]))}, "username": {username}, "password": {password}}
	req, _ := http.NewRequest("POST", idpURL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", idpURL)
	resp, err = c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("POST /login: status %d, want 303", resp.StatusCode)
	}
	u, _ := url.Parse(idpURL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == login.SessionCookieHTTP || ck.Name == login.SessionCookieHTTPS {
			return ck, nil
		}
	}
	return nil, fmt.Errorf("POST /login set no session cookie")
}

// PresignRequests returns n unique signed AuthnRequest redirect URLs made by
// the mock IAM (opts.Destination redirects them to another IdP), signing on
// every core.
func PresignRequests(iam *mockiam.Server, n int, opts mockiam.RequestOptions) ([]string, error) {
	urls := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	const workers = 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				u, _, err := iam.NewAuthnRequestURL(opts)
				if err != nil {
					errs <- err
					return
				}
				urls[i] = u
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	return urls, <-errs
}

var samlResponseRE = regexp.MustCompile(`name="SAMLResponse" value="([^"]*)"`)

// ResponseFromPage extracts and decodes the SAMLResponse of an auto-POST page.
func ResponseFromPage(body []byte) ([]byte, error) {
	m := samlResponseRE.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("no SAMLResponse on the page")
	}
	return base64.StdEncoding.DecodeString(html.UnescapeString(string(m[1])))
}
