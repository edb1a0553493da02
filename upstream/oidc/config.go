package oidc

import (
	"errors"
	"fmt"
	"hcidp/huawei"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SecretEnv names the environment variable that, when set, is the client
// secret: it overrides both client_secret and client_secret_file, so the
// secret can stay out of the configuration file.
const SecretEnv = "HCIDP_UPSTREAM_OIDC_CLIENT_SECRET"

// Defaults.
const (
	DefaultClaimXAccountID = "sub"
	DefaultDisplayName     = "Partner portal"
)

// DefaultScopes are requested when scopes is not set.
var DefaultScopes = []string{"openid", "profile", "email"}

// Limits on configured values.
const (
	maxDisplayName  = 64
	maxClaimName    = 128
	maxClientSecret = 1024
	maxClientID     = 255
)

// Config is the `upstream_oidc` section of the hcidp configuration. Its
// keys are documented in docs/upstream-oidc.md.
type Config struct {
	// Issuer is the provider's issuer URL exactly as its discovery
	// document states it (https; http only for loopback hosts).
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are hcidp's confidential client at the
	// provider. ClientSecretFile names a file holding the secret instead
	// (a path the caller resolves against the configuration's directory);
	// $HCIDP_UPSTREAM_OIDC_CLIENT_SECRET overrides both.
	ClientID         string `yaml:"client_id"`
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Scopes requested (default openid, profile, email); openid is required.
	Scopes []string `yaml:"scopes"`
	// ClaimXAccountID names the claim whose value is the customer's
	// xAccountId (default sub).
	ClaimXAccountID string `yaml:"claim_xaccount_id"`
	// ClaimEmail, ClaimName, ClaimMobile and ClaimDisplayName name the
	// claims mapped to the customer's attributes; empty: not mapped.
	ClaimEmail       string `yaml:"claim_email"`
	ClaimName        string `yaml:"claim_name"`
	ClaimMobile      string `yaml:"claim_mobile"`
	ClaimDisplayName string `yaml:"claim_display_name"`
	// CreateCustomers creates a customer unknown to hcidp at its first
	// sign-in (default false: the customer must exist).
	CreateCustomers bool `yaml:"create_customers"`
	// DisplayName is the provider's name on the login page's button
	// ("Sign in with <display_name>"; default "Partner portal").
	DisplayName string `yaml:"display_name"`
	// PasswordLogin keeps hcidp's password form on the login page
	// (default true); false leaves only the upstream button.
	PasswordLogin *bool `yaml:"password_login"`

	// secret is the resolved client secret and secretSource the key it
	// came from, for messages.
	secret       string
	secretSource string
}

// PasswordLoginEnabled reports whether the password form is still offered.
func (c *Config) PasswordLoginEnabled() bool { return c.PasswordLogin == nil || *c.PasswordLogin }

// Secret returns the client secret: the one ResolveSecret found, else
// client_secret.
func (c *Config) Secret() string {
	if c.secretSource != "" {
		return c.secret
	}
	return c.ClientSecret
}

// String describes the configuration without its secret.
func (c Config) String() string {
	return fmt.Sprintf("upstream_oidc{issuer=%s client_id=%s secret=%s claim_xaccount_id=%s create_customers=%t}",
		c.Issuer, c.ClientID, redacted(c.Secret()), c.ClaimXAccountID, c.CreateCustomers)
}

// LogValue keeps the secret out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("issuer", c.Issuer), slog.String("client_id", c.ClientID),
		slog.String("client_secret", redacted(c.Secret())), slog.String("claim_xaccount_id", c.ClaimXAccountID),
		slog.Bool("create_customers", c.CreateCustomers))
}

func redacted(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "[redacted]"
}

// Prepare applies the defaults, resolves the secret (getenv is os.Getenv
// outside tests) and validates: the one call a configuration loader makes.
func (c *Config) Prepare(getenv func(string) string) error {
	c.ApplyDefaults()
	return errors.Join(c.ResolveSecret(getenv), c.Validate())
}

// ApplyDefaults fills the keys left empty.
func (c *Config) ApplyDefaults() {
	c.Issuer = strings.TrimSpace(c.Issuer)
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(DefaultScopes)
	}
	if c.ClaimXAccountID == "" {
		c.ClaimXAccountID = DefaultClaimXAccountID
	}
	if c.DisplayName == "" {
		c.DisplayName = DefaultDisplayName
	}
}

// ResolveSecret finds the client secret: $HCIDP_UPSTREAM_OIDC_CLIENT_SECRET
// when set, else the content of client_secret_file (trimmed), else
// client_secret. client_secret_file must already be resolved to a path.
func (c *Config) ResolveSecret(getenv func(string) string) error {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(SecretEnv); v != "" {
		c.secret, c.secretSource = v, SecretEnv
		return nil
	}
	if c.ClientSecretFile == "" || c.ClientSecret != "" {
		// Both set is reported by Validate.
		return nil
	}
	b, err := os.ReadFile(c.ClientSecretFile)
	if err != nil {
		return fmt.Errorf("upstream_oidc.client_secret_file: cannot read the client secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return fmt.Errorf("upstream_oidc.client_secret_file: %s is empty: put the client secret from the provider's client settings in it", c.ClientSecretFile)
	}
	c.secret, c.secretSource = s, "upstream_oidc.client_secret_file"
	return nil
}

// Validate checks every key and returns all problems at once, each naming
// its key as upstream_oidc.<key> and saying how to fix it. No message
// quotes the client secret.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("upstream_oidc.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.Issuer == "" {
		bad("issuer", "is required: the provider's issuer URL, e.g. https://keycloak.partner.example/realms/portal")
	} else if err := checkIssuer(c.Issuer); err != nil {
		bad("issuer", "%v", err)
	}
	switch {
	case c.ClientID == "":
		bad("client_id", "is required: the client ID registered for hcidp at the provider")
	case len(c.ClientID) > maxClientID || !printableNoSpace(c.ClientID):
		bad("client_id", "must be at most %d printable characters without spaces", maxClientID)
	}
	if c.ClientSecret != "" && c.ClientSecretFile != "" {
		bad("client_secret_file", "set either client_secret or client_secret_file, not both")
	}
	switch sec := c.Secret(); {
	case sec == "" && c.ClientSecretFile == "":
		bad("client_secret", "is required: the client secret from the provider's client settings (or set client_secret_file, or $%s)", SecretEnv)
	case sec == "":
		bad("client_secret_file", "has not been read (the loader calls ResolveSecret before Validate)")
	case len(sec) > maxClientSecret || !printableNoSpace(sec):
		key := "client_secret"
		if c.secretSource != "" {
			key = strings.TrimPrefix(c.secretSource, "upstream_oidc.")
		}
		if key == SecretEnv {
			errs = append(errs, fmt.Errorf("%s: the client secret must be at most %d printable characters without spaces", SecretEnv, maxClientSecret))
		} else {
			bad(key, "the client secret must be at most %d printable characters without spaces", maxClientSecret)
		}
	}
	if !slices.Contains(c.Scopes, "openid") {
		bad("scopes", "must include openid (the default is openid, profile, email)")
	}
	for i, s := range c.Scopes {
		if !scopeToken(s) {
			bad(fmt.Sprintf("scopes[%d]", i), "%q is not a scope: one word of printable ASCII without quotes or backslashes", s)
		}
	}
	for _, k := range []struct{ key, v string }{
		{"claim_xaccount_id", c.ClaimXAccountID}, {"claim_email", c.ClaimEmail}, {"claim_name", c.ClaimName},
		{"claim_mobile", c.ClaimMobile}, {"claim_display_name", c.ClaimDisplayName},
	} {
		if k.v == "" {
			if k.key == "claim_xaccount_id" {
				bad(k.key, "is required: the claim holding the customer's xAccountId (default sub)")
			}
			continue
		}
		if len(k.v) > maxClaimName || !printableNoSpace(k.v) {
			bad(k.key, "%q is not a claim name: at most %d printable characters without spaces", k.v, maxClaimName)
		}
	}
	if n := utf8.RuneCountInString(c.DisplayName); c.DisplayName == "" || n > maxDisplayName || !printable(c.DisplayName) {
		bad("display_name", "must be 1 to %d printable characters (the button reads \"Sign in with <display_name>\")", maxDisplayName)
	}
	return errors.Join(errs...)
}

// checkIssuer accepts an absolute https URL without query, fragment or user
// info; http only for a loopback host (tests and `idp demo`).
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: use the issuer from the provider's /.well-known/openid-configuration", s)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q must be an absolute https:// URL, exactly the issuer of the provider's discovery document", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry user info, a query or a fragment", s)
	}
	if u.Scheme == "http" && !huawei.IsLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%q uses plain http: use https (http is accepted only for 127.0.0.1, ::1 and localhost)", s)
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

func printableNoSpace(s string) bool {
	return printable(s) && !strings.ContainsFunc(s, unicode.IsSpace)
}

// scopeToken is RFC 6749 §3.3's scope-token: %x21 / %x23-5B / %x5D-7E.
func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
