package metadata

// Site is one Huawei Cloud site. Each site is its own SAML SP with its own
// metadata; an installation may trust several (PROFILE.md, "Roles and sites").
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
	// while parsing; the operator downloads it.
	MetadataURL string
}

// Sites lists the Huawei Cloud sites, as in PROFILE.md's table. Treat it as
// read-only.
var Sites = []Site{
	{
		Name:        "cn",
		AuthHost:    "auth.huaweicloud.com",
		ConsoleHost: "console.huaweicloud.com",
		MetadataURL: "https://auth.huaweicloud.com/authui/saml/metadata.xml",
	},
	{
		Name:        "intl",
		AuthHost:    "auth-intl.huaweicloud.com",
		ConsoleHost: "console-intl.huaweicloud.com",
		MetadataURL: "https://auth-intl.huaweicloud.com/authui/saml/metadata.xml",
	},
	{
		Name:        "eu",
		AuthHost:    "auth.eu.huaweicloud.com",
		ConsoleHost: "console.eu.huaweicloud.com",
		MetadataURL: "https://auth.eu.huaweicloud.com/authui/saml/metadata.xml",
	},
}

// LookupSite returns the site with the given name (exact match).
func LookupSite(name string) (Site, bool) {
	for _, s := range Sites {
		if s.Name == name {
			return s, true
		}
	}
	return Site{}, false
}
