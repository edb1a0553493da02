package huawei

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Site is one Huawei Cloud site. Each site is its own SAML SP with its own
// metadata; an installation may trust several (docs/profile.md, "Roles and
// sites").
type Site struct {
	// Name is the short name used in configuration: "cn", "intl" or "eu".
	Name string
	// AuthHost is the host of the site's IAM (the SP): the "Open console"
	// link and the SP endpoints live here.
	AuthHost string
	// ConsoleHost is the host of the site's management console, the landing
	// page after login.
	ConsoleHost string
	// MetadataURL is where the site publishes its signed SP metadata
	// (append "?unsigned=true" for an unsigned copy). hcidp never fetches it
	// while parsing; `idp sp fetch` downloads it on the operator's request.
	MetadataURL string
}

var sites = []Site{
	{Name: "cn", AuthHost: "auth.huaweicloud.com", ConsoleHost: "console.huaweicloud.com",
		MetadataURL: "https://auth.huaweicloud.com/authui/saml/metadata.xml"},
	{Name: "intl", AuthHost: "auth-intl.huaweicloud.com", ConsoleHost: "console-intl.huaweicloud.com",
		MetadataURL: "https://auth-intl.huaweicloud.com/authui/saml/metadata.xml"},
	{Name: "eu", AuthHost: "auth.eu.huaweicloud.com", ConsoleHost: "console.eu.huaweicloud.com",
		MetadataURL: "https://auth.eu.huaweicloud.com/authui/saml/metadata.xml"},
}

// Sites returns every Huawei Cloud site, China first.
func Sites() []Site { return append([]Site(nil), sites...) }

// SiteNames returns the sites' names ("cn", "intl", "eu").
func SiteNames() []string {
	names := make([]string, len(sites))
	for i, s := range sites {
		names[i] = s.Name
	}
	return names
}

// LookupSite returns the site with the given name (exact match).
func LookupSite(name string) (Site, bool) {
	for _, s := range sites {
		if s.Name == name {
			return s, true
		}
	}
	return Site{}, false
}

// AuthURL is the site's IAM base URL, e.g. https://auth.huaweicloud.com.
func (s Site) AuthURL() string { return "https://" + s.AuthHost }

// ConsoleHome is the site's console landing page.
func (s Site) ConsoleHome() string { return "https://" + s.ConsoleHost + "/console/" }

// IsLoopbackHost reports whether host (a URL's Hostname(), without port or
// brackets) is "localhost" or an IP address in 127.0.0.0/8 or ::1: the hosts
// for which plain http is tolerated (tests and the local demo).
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SecureScheme reports whether u is https, or http on a loopback host: the
// rule for every URL hcidp publishes, trusts or sends a browser to.
func SecureScheme(u *url.URL) bool {
	return u.Scheme == "https" || (u.Scheme == "http" && IsLoopbackHost(u.Hostname()))
}

// CheckPublicURL accepts an absolute https URL, or http only for loopback
// hosts (tests and the demo), without user info, query or fragment: the
// rule for base_url and the sites' auth_url and console_url.
func CheckPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q must be an absolute https:// URL", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry user info, a query or a fragment", s)
	}
	if !SecureScheme(u) {
		return fmt.Errorf("%q uses plain http: use https (http is accepted only for 127.0.0.1, ::1 and localhost)", s)
	}
	return nil
}
