package metadata

import "testing"

func TestSites(t *testing.T) {
	want := []Site{
		{"cn", "auth.huaweicloud.com", "console.huaweicloud.com", "https://auth.huaweicloud.com/authui/saml/metadata.xml"},
		{"intl", "auth-intl.huaweicloud.com", "console-intl.huaweicloud.com", "https://auth-intl.huaweicloud.com/authui/saml/metadata.xml"},
		{"eu", "auth.eu.huaweicloud.com", "console.eu.huaweicloud.com", "https://auth.eu.huaweicloud.com/authui/saml/metadata.xml"},
	}
	if len(Sites) != len(want) {
		t.Fatalf("%d sites, want %d", len(Sites), len(want))
	}
	for i, w := range want {
		if Sites[i] != w {
			t.Errorf("Sites[%d] = %+v, want %+v", i, Sites[i], w)
		}
		got, ok := LookupSite(w.Name)
		if !ok || got != w {
			t.Errorf("LookupSite(%q) = %+v, %v", w.Name, got, ok)
		}
	}
	for _, name := range []string{"", "CN", "us", "cn "} {
		if _, ok := LookupSite(name); ok {
			t.Errorf("LookupSite(%q) found a site", name)
		}
	}
}
