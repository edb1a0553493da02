package huawei

import (
	"strings"
	"testing"
)

func TestSites(t *testing.T) {
	want := []Site{
		{"cn", "auth.huaweicloud.com", "console.huaweicloud.com", "https://auth.huaweicloud.com/authui/saml/metadata.xml"},
		{"intl", "auth-intl.huaweicloud.com", "console-intl.huaweicloud.com", "https://auth-intl.huaweicloud.com/authui/saml/metadata.xml"},
		{"eu", "auth.eu.huaweicloud.com", "console.eu.huaweicloud.com", "https://auth.eu.huaweicloud.com/authui/saml/metadata.xml"},
	}
	got := Sites()
	if len(got) != len(want) || strings.Join(SiteNames(), ",") != "cn,intl,eu" {
		t.Fatalf("%d sites (%v), want %d", len(got), SiteNames(), len(want))
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("Sites()[%d] = %+v, want %+v", i, got[i], w)
		}
		if s, ok := LookupSite(w.Name); !ok || s != w {
			t.Errorf("LookupSite(%q) = %+v, %v", w.Name, s, ok)
		}
	}
	for _, name := range []string{"", "CN", "us", "cn "} {
		if _, ok := LookupSite(name); ok {
			t.Errorf("LookupSite(%q) found a site", name)
		}
	}
	got[0].Name = "changed"
	if s, _ := LookupSite("cn"); s.Name != "cn" {
		t.Error("Sites returned the table itself")
	}
}

func TestCheckPublicURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://idp.partner.example":      true,
		"https://idp.partner.example/base": true,
		"http://127.0.0.1:8080":            true,
		"http://[::1]:8080":                true,
		"http://localhost:8080":            true,
		"http://idp.partner.example":       false,
		"ftp://idp.partner.example":        false,
		"idp.partner.example":              false,
		"https://u:p@idp.partner.example":  false,
		"https://idp.partner.example/?x=1": false,
		"https://idp.partner.example/#f":   false,
		"http://127.0.0.1.example.com":     false,
	} {
		if err := CheckPublicURL(u); (err == nil) != ok {
			t.Errorf("CheckPublicURL(%q) = %v, want ok=%v", u, err, ok)
		}
	}
}

func TestConsoleLink(t *testing.T) {
	cn, _ := LookupSite("cn")
	c, err := NewConsole(cn, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthURL != "https://auth.huaweicloud.com" || c.Home != "https://console.huaweicloud.com/console/" || c.Host != "console.huaweicloud.com" {
		t.Fatalf("console = %+v", c)
	}
	got := c.LoginLink("ZXT", true, "https://console.huaweicloud.com/iam/?a=b c")
	want := "https://auth.huaweicloud.com/authui/saml/login?xAccountType=ZXT&isFirstLogin=true&service=https%3A%2F%2Fconsole.huaweicloud.com%2Fiam%2F%3Fa%3Db%20c"
	if got != want {
		t.Errorf("LoginLink =\n %s\nwant\n %s", got, want)
	}
	for raw, ok := range map[string]bool{
		"https://console.huaweicloud.com/ecs/":                         true,
		"https://console.huaweicloud.com":                              true,
		"http://console.huaweicloud.com/":                              false,
		"https://evil.example/":                                        false,
		"https://console.huaweicloud.com.evil.example/":                false,
		"https://u@console.huaweicloud.com/":                           false,
		"https://console.huaweicloud.com/\x00":                         false,
		"javascript:alert(1)":                                          false,
		"https://console.huaweicloud.com/" + strings.Repeat("a", 2100): false,
	} {
		if c.Allows(raw) != ok {
			t.Errorf("Allows(%q) = %v", raw, !ok)
		}
	}
	mock, err := NewConsole(cn, "http://localhost:8081/", "http://localhost:8081/console")
	if err != nil || mock.AuthURL != "http://localhost:8081" || !mock.Allows("http://localhost:8081/console/ecs") {
		t.Errorf("overridden console = %+v, %v", mock, err)
	}
}

func TestEncodeURIComponent(t *testing.T) {
	for in, want := range map[string]string{
		"https://console.huaweicloud.com/iam/?a=b c&d": "https%3A%2F%2Fconsole.huaweicloud.com%2Fiam%2F%3Fa%3Db%20c%26d",
		"a b": "a%20b", "a+b": "a%2Bb", "é/?&=": "%C3%A9%2F%3F%26%3D", "-_.~": "-_.~"} {
		if got := EncodeURIComponent(in); got != want {
			t.Errorf("EncodeURIComponent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckDomainID(t *testing.T) {
	for id, ok := range map[string]bool{"0f1e2d3c": true, "": false, strings.Repeat("d", 128): true, strings.Repeat("d", 129): false,
		" d": false, "d\u202e": false, "d\x00": false} {
		if err := CheckDomainID(id); (err == nil) != ok {
			t.Errorf("CheckDomainID(%q) = %v", id, err)
		}
	}
}
