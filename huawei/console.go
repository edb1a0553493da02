package huawei

import (
	"fmt"
	"net/url"
	"strings"
)

// Console is where a site's "Open console" link goes (docs/profile.md §1):
// the IAM that starts the SAML login, and the console the customer lands on.
type Console struct {
	// AuthURL is the IAM base URL, e.g. https://auth.huaweicloud.com.
	AuthURL string
	// Home is the default landing page; Host the only host a service URL
	// may name.
	Home string
	Host string
}

// NewConsole returns the site's console endpoints; authURL and consoleURL,
// when not empty, override the site table (the demo and tests point them at
// the mock IAM).
func NewConsole(site Site, authURL, consoleURL string) (Console, error) {
	c := Console{AuthURL: site.AuthURL(), Home: site.ConsoleHome()}
	if authURL != "" {
		c.AuthURL = strings.TrimRight(authURL, "/")
	}
	if consoleURL != "" {
		c.Home = consoleURL
	}
	u, err := url.Parse(c.Home)
	if err != nil || u.Host == "" {
		return Console{}, fmt.Errorf("console URL %q is not an absolute URL", c.Home)
	}
	c.Host = u.Host
	return c, nil
}

// maxServiceURL bounds a service URL.
const maxServiceURL = 2048

// Allows reports whether raw may be the link's service parameter: a URL on
// the site's console host over https (http only for a loopback console in
// tests), without user info. The landing page is chosen from this
// allow-list, never taken as an arbitrary URL from the request.
func (c Console) Allows(raw string) bool {
	if len(raw) > maxServiceURL || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host != c.Host {
		return false
	}
	return SecureScheme(u)
}

// LoginLink is the "Open console" link: the site's IAM login with
// xAccountType, isFirstLogin (true while no Huawei Cloud account is bound
// to the customer on this site) and service, each escaped as JavaScript's
// encodeURIComponent, which Huawei's guide names.
func (c Console) LoginLink(xAccountType string, firstLogin bool, service string) string {
	return c.AuthURL + "/authui/saml/login?xAccountType=" + EncodeURIComponent(xAccountType) +
		"&isFirstLogin=" + fmt.Sprint(firstLogin) + "&service=" + EncodeURIComponent(service)
}

// EncodeURIComponent escapes like JavaScript's encodeURIComponent (spaces as
// %20, not '+').
func EncodeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
