// Package config reads and validates the hcidp YAML configuration file.
//
// Every key is documented in README.md ("Configuration"). Validation names the
// offending key and says how to fix it. Secrets may come from the environment:
// HCIDP_LISTEN overrides `listen`, HCIDP_DATABASE overrides `database`, HCIDP_API_KEY overrides `api_key`.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"hcidp/huawei"
	"hcidp/metadata"
	"hcidp/upstream/oidc"
)

// Config is the decoded configuration file.
type Config struct {
	// Listen is the TCP address of the HTTP server (default 127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// BaseURL is the public URL of this IdP, without a trailing slash.
	BaseURL string `yaml:"base_url"`
	// EntityID defaults to BaseURL + "/saml/metadata".
	EntityID string `yaml:"entity_id"`
	// KeyFile and CertFile hold the signing key (PEM) and certificate.
	KeyFile  string `yaml:"key_file"`
	CertFile string `yaml:"cert_file"`
	// BpID is the partner ID shown in Partner Center (assertion attribute bpId).
	BpID string `yaml:"bp_id"`
	// XAccountType is the partner platform ID from Partner Center.
	XAccountType string `yaml:"x_account_type"`
	// Database is "sqlite:PATH" or a postgres:// DSN.
	Database string `yaml:"database"`
	// ServiceProviders lists the Huawei Cloud sites this IdP serves.
	ServiceProviders []ServiceProvider `yaml:"service_providers"`

	// SignResponse also signs the Response element (default: Assertion only).
	SignResponse bool `yaml:"sign_response"`
	// ClockSkew, RequestLifetime and AssertionLifetime bound message times.
	ClockSkew         Duration `yaml:"clock_skew"`
	RequestLifetime   Duration `yaml:"request_lifetime"`
	AssertionLifetime Duration `yaml:"assertion_lifetime"`
	// SessionLifetime is the absolute lifetime of a browser session;
	// SessionIdleTimeout ends it earlier when unused.
	SessionLifetime    Duration `yaml:"session_lifetime"`
	SessionIdleTimeout Duration `yaml:"session_idle_timeout"`
	// AllowSHA1 accepts rsa-sha1 request signatures (refused by default).
	AllowSHA1 bool `yaml:"allow_sha1"`
	// BindWindow is how long after an assertion for a site a bind-result
	// notification for that customer and site is accepted (docs/profile.md
	// §4): Huawei's documents carry no timestamp or nonce, so this is what
	// stops an old signed document from being replayed later.
	BindWindow Duration `yaml:"bind_window"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// LogFormat is auto (default: human-readable text when standard error
	// is a terminal, JSON otherwise), json or text.
	LogFormat string `yaml:"log_format"`
	// TemplatesDir holds page templates that replace the embedded ones of
	// the same file name (branding); empty: the embedded pages.
	TemplatesDir string `yaml:"templates_dir"`

	// APIKey enables the portal hand-off API (/api/v1/) and is the bearer
	// token its callers present; empty disables the API. $HCIDP_API_KEY
	// overrides it; APIKeyFile names a file holding it instead.
	APIKey     string `yaml:"api_key"`
	APIKeyFile string `yaml:"api_key_file"`

	// NextKeyFile and NextCertFile are the next signing key pair during a
	// key rollover: the metadata lists both certificates until
	// `idp keys rotate` makes the next pair the current one.
	NextKeyFile  string `yaml:"next_key_file"`
	NextCertFile string `yaml:"next_cert_file"`
	// TLSCertFile and TLSKeyFile enable native TLS (re-read on SIGHUP).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// TrustedProxies lists the addresses (IPs or CIDRs) of reverse proxies
	// whose X-Forwarded-For header is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SessionStore is "database" (default) or a redis:// URL.
	SessionStore string `yaml:"session_store"`
	// MetricsListen serves /metrics (and pprof when enabled) on a separate
	// address; empty serves /metrics on the main listener.
	MetricsListen string `yaml:"metrics_listen"`
	// Pprof exposes /debug/pprof/ on the metrics listener.
	Pprof bool `yaml:"pprof"`

	// UpstreamOIDC, when set, signs customers in through the partner
	// portal's OpenID provider (docs/upstream-oidc.md); its keys are
	// checked by oidc.Config.Validate.
	UpstreamOIDC *oidc.Config `yaml:"upstream_oidc"`

	// dir is the directory of the configuration file; relative paths in the
	// file are resolved against it.
	dir string
	// file is the configuration file Load read, if any.
	file string
	// apiKeySource names where APIKey came from, for error messages;
	// listenSource and databaseSource name the environment variable that
	// set Listen or Database, if one did.
	apiKeySource, listenSource, databaseSource string
}

// ServiceProvider is one Huawei Cloud site trusted by this IdP.
type ServiceProvider struct {
	// Site is cn, intl or eu.
	Site string `yaml:"site"`
	// MetadataFile is the SP metadata downloaded from Partner Center; empty
	// means the built-in copy (site cn only).
	MetadataFile string `yaml:"metadata_file"`
	// RequireSignedMetadata refuses metadata without a signature.
	RequireSignedMetadata bool `yaml:"require_signed_metadata"`
	// AllowExpiredCertificate loads metadata whose certificate has expired,
	// and keeps trusting its keys once they expire while running.
	AllowExpiredCertificate bool `yaml:"allow_expired_certificate"`
	// SigningKeyPins are the SHA-256 pins ("sha256:<hex>" of the
	// SubjectPublicKeyInfo, metadata.KeyPin) of the site's signing keys:
	// metadata with a signing key outside them is refused. None configured
	// means the built-in metadata's key for cn (KeyPins) and no pinning for
	// the other sites.
	SigningKeyPins []string `yaml:"signing_key_pins"`
	// AuthURL overrides the site's IAM base URL (https://auth.huaweicloud.com);
	// used to point at the mock IAM in tests and the demo.
	AuthURL string `yaml:"auth_url"`
	// ConsoleURL overrides the site's console home (https://console.huaweicloud.com/console/).
	ConsoleURL string `yaml:"console_url"`
}

// Duration is a time.Duration written as "3m", "90s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (write e.g. \"3m\" or \"90s\")", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads, decodes, applies defaults and environment overrides, and validates.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.file = path
	return c, nil
}

// File is the configuration file this Config was loaded from ("" when it
// was parsed from bytes). A reload (SIGHUP) re-reads its service_providers.
func (c *Config) File() string { return c.file }

// KeyPins returns the signing-key pins metadata of this site must match:
// signing_key_pins, or when the operator set none, the pins of the built-in
// metadata's keys (cn). Nil means the site is not pinned.
func (sp ServiceProvider) KeyPins() []string {
	if len(sp.SigningKeyPins) > 0 {
		return sp.SigningKeyPins
	}
	return metadata.BuiltinKeyPins(sp.Site)
}

// Parse decodes YAML (unknown keys are errors), applies defaults and
// environment overrides, and validates. dir resolves relative paths.
//
// Unknown keys, values of the wrong shape or kind and keys set twice are
// reported all at once, each with its line, the key as the README names it
// and the fix (checkDocument).
func Parse(b []byte, dir string) (*Config, error) {
	if err := checkDocument(b); err != nil {
		return nil, err
	}
	c := &Config{dir: dir}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, decodeError(err)
	}
	if v := os.Getenv("HCIDP_LISTEN"); v != "" {
		c.Listen, c.listenSource = v, "HCIDP_LISTEN"
	}
	if v := os.Getenv("HCIDP_DATABASE"); v != "" {
		c.Database, c.databaseSource = v, "HCIDP_DATABASE"
	}
	c.applyDefaults()
	if err := c.resolveAPIKey(); err != nil {
		return nil, err
	}
	var secretErr error
	if c.UpstreamOIDC != nil {
		secretErr = c.UpstreamOIDC.ResolveSecret(os.Getenv)
	}
	if err := errors.Join(secretErr, c.Validate()); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) applyDefaults() {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.EntityID == "" && c.BaseURL != "" {
		c.EntityID = c.BaseURL + "/saml/metadata"
	}
	if c.Database == "" {
		c.Database = "sqlite:hcidp.db"
	}
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&c.ClockSkew, 3*time.Minute)
	def(&c.RequestLifetime, 5*time.Minute)
	def(&c.AssertionLifetime, 5*time.Minute)
	def(&c.SessionLifetime, 8*time.Hour)
	def(&c.SessionIdleTimeout, time.Hour)
	def(&c.BindWindow, time.Hour)
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = "auto"
	}
	if o := c.UpstreamOIDC; o != nil {
		o.ApplyDefaults()
		if o.ClientSecretFile != "" {
			o.ClientSecretFile = c.Path(o.ClientSecretFile)
		}
	}
	if strings.HasPrefix(c.Database, "sqlite:") {
		p := strings.TrimPrefix(c.Database, "sqlite:")
		if p != ":memory:" {
			c.Database = "sqlite:" + c.Path(p)
		}
	}
	if c.KeyFile != "" {
		c.KeyFile = c.Path(c.KeyFile)
	}
	for _, p := range []*string{&c.CertFile, &c.NextKeyFile, &c.NextCertFile, &c.TLSCertFile, &c.TLSKeyFile, &c.TemplatesDir} {
		if *p != "" {
			*p = c.Path(*p)
		}
	}
	if c.SessionStore == "" {
		c.SessionStore = "database"
	}
	for i := range c.ServiceProviders {
		sp := &c.ServiceProviders[i]
		sp.Site = strings.ToLower(strings.TrimSpace(sp.Site))
		if sp.MetadataFile != "" {
			sp.MetadataFile = c.Path(sp.MetadataFile)
		}
		for j, p := range sp.SigningKeyPins {
			if canon, err := metadata.ParseKeyPin(p); err == nil {
				sp.SigningKeyPins[j] = canon
			}
		}
	}
}

// Path resolves p against the configuration file's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Validate checks every key and returns all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.BaseURL == "" {
		bad("base_url", "is required: the public URL of this IdP, e.g. https://idp.partner.example")
	} else if err := huawei.CheckPublicURL(c.BaseURL); err != nil {
		bad("base_url", "%v", err)
	}
	if c.EntityID != "" {
		if u, err := url.Parse(c.EntityID); err != nil || u.Scheme == "" {
			bad("entity_id", "must be an absolute URI, e.g. https://idp.partner.example/saml/metadata")
		}
	}
	if c.KeyFile == "" {
		bad("key_file", "is required: the PEM private key (create one with `idp keys generate --out certs`)")
	}
	if c.CertFile == "" {
		bad("cert_file", "is required: the PEM certificate that matches key_file")
	}
	if c.BpID == "" {
		bad("bp_id", "is required: the partner ID shown in Partner Center")
	} else if len(c.BpID) > 128 || hasControl(c.BpID) {
		bad("bp_id", "must be at most 128 printable characters")
	}
	if c.XAccountType == "" {
		bad("x_account_type", "is required: the partner platform ID (xAccountType) shown in Partner Center")
	} else if len(c.XAccountType) > 64 || hasControl(c.XAccountType) {
		bad("x_account_type", "must be at most 64 printable characters")
	}
	if err := checkListen(c.ListenKey(), c.Listen); err != nil {
		errs = append(errs, err)
	}
	if c.MetricsListen != "" {
		if err := checkListen("metrics_listen", c.MetricsListen); err != nil {
			errs = append(errs, err)
		}
	}
	if !strings.HasPrefix(c.Database, "sqlite:") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		bad(c.DatabaseKey(), "must be sqlite:PATH (e.g. sqlite:/var/lib/hcidp/hcidp.db) or a postgres:// DSN")
	}
	if len(c.ServiceProviders) == 0 {
		bad("service_providers", "list at least one site, e.g. `- site: cn`")
	}
	seen := map[string]bool{}
	for i, sp := range c.ServiceProviders {
		key := fmt.Sprintf("service_providers[%d]", i)
		site, ok := huawei.LookupSite(sp.Site)
		if !ok {
			bad(key+".site", "%q is not a site: use one of %s", sp.Site, strings.Join(huawei.SiteNames(), ", "))
			continue
		}
		if seen[sp.Site] {
			bad(key+".site", "%s is listed twice", sp.Site)
		}
		seen[sp.Site] = true
		if sp.MetadataFile == "" && sp.Site != "cn" {
			bad(key+".metadata_file", "is required for site %s (download it with `idp sp fetch --site %s`, from %s)", sp.Site, sp.Site, site.MetadataURL)
		}
		if sp.AuthURL != "" {
			if err := huawei.CheckPublicURL(sp.AuthURL); err != nil {
				bad(key+".auth_url", "%v", err)
			}
		}
		if sp.ConsoleURL != "" {
			if err := huawei.CheckPublicURL(sp.ConsoleURL); err != nil {
				bad(key+".console_url", "%v", err)
			}
		}
		for j, p := range sp.SigningKeyPins {
			if _, err := metadata.ParseKeyPin(p); err != nil {
				bad(fmt.Sprintf("%s.signing_key_pins[%d]", key, j), "%v", err)
			}
		}
	}
	for key, d := range map[string]Duration{"clock_skew": c.ClockSkew, "request_lifetime": c.RequestLifetime, "assertion_lifetime": c.AssertionLifetime, "session_lifetime": c.SessionLifetime, "session_idle_timeout": c.SessionIdleTimeout, "bind_window": c.BindWindow} {
		if d <= 0 {
			bad(key, "must be positive")
		}
	}
	if c.ClockSkew.D() > 10*time.Minute {
		bad("clock_skew", "%s is too lax: use at most 10m", c.ClockSkew.D())
	}
	if c.AssertionLifetime.D() > 10*time.Minute {
		bad("assertion_lifetime", "%s is too long: use at most 10m", c.AssertionLifetime.D())
	}
	if c.BindWindow.D() > 24*time.Hour {
		bad("bind_window", "%s is too long: a bind follows the login within minutes; use at most 24h", c.BindWindow.D())
	}
	if (c.NextKeyFile == "") != (c.NextCertFile == "") {
		bad("next_key_file", "next_key_file and next_cert_file go together: set both or neither")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("tls_cert_file", "tls_cert_file and tls_key_file go together: set both or neither")
	}
	for i, p := range c.TrustedProxies {
		if _, err := ParseNet(p); err != nil {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not an IP address or CIDR (e.g. 10.0.0.0/8)", p)
		}
	}
	if c.SessionStore != "database" && !strings.HasPrefix(c.SessionStore, "redis://") && !strings.HasPrefix(c.SessionStore, "rediss://") {
		bad("session_store", "%q: use database (default) or a redis:// URL", c.SessionStore)
	}
	if c.Pprof && c.MetricsListen == "" {
		bad("pprof", "pprof needs metrics_listen (a separate, private address such as 127.0.0.1:9090)")
	}
	if err := c.validateAPIKey(); err != nil {
		errs = append(errs, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q: use debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		bad("log_format", "%q: use auto (text on a terminal, JSON otherwise), json or text", c.LogFormat)
	}
	if c.UpstreamOIDC != nil {
		if err := c.UpstreamOIDC.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ParseNet parses an IP address or a CIDR into a network.
func ParseNet(s string) (*net.IPNet, error) {
	if strings.Contains(s, "/") {
		_, n, err := net.ParseCIDR(s)
		return n, err
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is not an IP address", s)
	}
	bits := 128
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits = ip4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}
