package oidc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func noEnv(string) string { return "" }

func validConfig() Config {
	return Config{Issuer: "https://keycloak.partner.example/realms/portal", ClientID: "hcidp", ClientSecret: "0123456789abcdef"}
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig()
	if err := c.Prepare(noEnv); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, []string{"openid", "profile", "email"}) || c.ClaimXAccountID != "sub" ||
		c.DisplayName != "Partner portal" || !c.PasswordLoginEnabled() || c.CreateCustomers ||
		c.ClaimEmail != "" || c.ClaimName != "" || c.ClaimMobile != "" || c.ClaimDisplayName != "" {
		t.Fatalf("defaults: %+v", c)
	}
	off := false
	c.PasswordLogin = &off
	if c.PasswordLoginEnabled() {
		t.Fatal("password_login: false ignored")
	}
}

// TestConfigValidate has one case per message; each names its key.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		env  string // $HCIDP_UPSTREAM_OIDC_CLIENT_SECRET
		want string // "" = valid
	}{
		{"valid", func(*Config) {}, "", ""},
		{"http issuer on loopback", func(c *Config) { c.Issuer = "http://127.0.0.1:5556/dex" }, "", ""},
		{"http issuer on localhost", func(c *Config) { c.Issuer = "http://localhost:8080/realms/demo" }, "", ""},
		{"http issuer on ::1", func(c *Config) { c.Issuer = "http://[::1]:8080" }, "", ""},
		{"secret from the environment only", func(c *Config) { c.ClientSecret = "" }, "from-env-0123456789", ""},
		{"issuer missing", func(c *Config) { c.Issuer = "" }, "", "upstream_oidc.issuer: is required"},
		{"issuer not a URL", func(c *Config) { c.Issuer = "https://bad host/%zz" }, "", "upstream_oidc.issuer: \"https://bad host/%zz\" is not a URL"},
		{"issuer relative", func(c *Config) { c.Issuer = "keycloak.partner.example/realms/portal" }, "", "upstream_oidc.issuer: \"keycloak.partner.example/realms/portal\" must be an absolute https:// URL"},
		{"issuer with a query", func(c *Config) { c.Issuer = "https://idp.example/?tenant=1" }, "", "must not carry user info, a query or a fragment"},
		{"issuer plain http", func(c *Config) { c.Issuer = "http://keycloak.partner.example/realms/portal" }, "", "upstream_oidc.issuer: \"http://keycloak.partner.example/realms/portal\" uses plain http: use https"},
		{"client_id missing", func(c *Config) { c.ClientID = "" }, "", "upstream_oidc.client_id: is required"},
		{"client_id with a space", func(c *Config) { c.ClientID = "hc idp" }, "", "upstream_oidc.client_id: must be at most 255 printable characters without spaces"},
		{"secret and secret file", func(c *Config) { c.ClientSecretFile = "/etc/hcidp/oidc-secret" }, "", "upstream_oidc.client_secret_file: set either client_secret or client_secret_file, not both"},
		{"secret missing", func(c *Config) { c.ClientSecret = "" }, "", "upstream_oidc.client_secret: is required"},
		{"secret with a newline", func(c *Config) { c.ClientSecret = "abc\ndef" }, "", "upstream_oidc.client_secret: the client secret must be at most 1024 printable characters without spaces"},
		{"secret from the environment with a space", func(c *Config) {}, "abc def", "HCIDP_UPSTREAM_OIDC_CLIENT_SECRET: the client secret must be"},
		{"scopes without openid", func(c *Config) { c.Scopes = []string{"profile", "email"} }, "", "upstream_oidc.scopes: must include openid"},
		{"scope with a quote", func(c *Config) { c.Scopes = []string{"openid", `pro"file`} }, "", "upstream_oidc.scopes[1]: \"pro\\\"file\" is not a scope"},
		{"claim name with a space", func(c *Config) { c.ClaimEmail = "e mail" }, "", "upstream_oidc.claim_email: \"e mail\" is not a claim name"},
		{"claim name too long", func(c *Config) { c.ClaimDisplayName = strings.Repeat("x", 129) }, "", "upstream_oidc.claim_display_name:"},
		{"display name too long", func(c *Config) { c.DisplayName = strings.Repeat("P", 65) }, "", "upstream_oidc.display_name: must be 1 to 64 printable characters"},
		{"display name with a control character", func(c *Config) { c.DisplayName = "Portal\x07" }, "", "upstream_oidc.display_name:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Prepare(func(k string) string {
				if k == SecretEnv {
					return tc.env
				}
				return ""
			})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "abc def") {
				t.Fatalf("message reveals the secret: %v", err)
			}
		})
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	c := Config{Issuer: "http://portal.example", Scopes: []string{"profile"}}
	err := c.Validate()
	for _, key := range []string{"upstream_oidc.issuer", "upstream_oidc.client_id", "upstream_oidc.client_secret",
		"upstream_oidc.scopes", "upstream_oidc.claim_xaccount_id", "upstream_oidc.display_name"} {
		if err == nil || !strings.Contains(err.Error(), key+":") {
			t.Errorf("%s not reported in %v", key, err)
		}
	}
}

func TestConfigSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("  from-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := Config{Issuer: "https://idp.example", ClientID: "hcidp"}
	for _, tc := range []struct {
		name             string
		secret, file     string
		env, want, wantE string
	}{
		{"client_secret", "inline-0123456789", "", "", "inline-0123456789", ""},
		{"client_secret_file, trimmed", "", file, "", "from-file-0123456789", ""},
		{"environment overrides client_secret", "inline-0123456789", "", "env-0123456789", "env-0123456789", ""},
		{"environment overrides client_secret_file", "", file, "env-0123456789", "env-0123456789", ""},
		{"environment set, the file is not read", "", filepath.Join(dir, "absent"), "env-0123456789", "env-0123456789", ""},
		{"unreadable file", "", filepath.Join(dir, "absent"), "", "", "upstream_oidc.client_secret_file: cannot read the client secret"},
		{"empty file", "", empty, "", "", "upstream_oidc.client_secret_file: " + empty + " is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.ClientSecret, c.ClientSecretFile = tc.secret, tc.file
			err := c.Prepare(func(k string) string {
				if k == SecretEnv {
					return tc.env
				}
				return ""
			})
			if tc.wantE != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantE) {
					t.Fatalf("want %q, got %v", tc.wantE, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Secret(); got != tc.want {
				t.Fatalf("secret %q, want %q", got, tc.want)
			}
			if strings.Contains(c.String(), tc.want) || strings.Contains(c.LogValue().String(), tc.want) {
				t.Fatal("the printed config reveals the secret")
			}
		})
	}
}

// TestConfigYAMLKeys decodes the keys of the upstream_oidc section strictly.
func TestConfigYAMLKeys(t *testing.T) {
	const doc = `
issuer: https://keycloak.partner.example/realms/portal
client_id: hcidp
client_secret: 0123456789abcdef
scopes: [openid, profile, email, phone]
claim_xaccount_id: xaccount_id
claim_email: email
claim_name: preferred_username
claim_mobile: phone_number
claim_display_name: name
create_customers: true
display_name: Partner Portal
password_login: false
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(noEnv); err != nil {
		t.Fatal(err)
	}
	if c.ClaimXAccountID != "xaccount_id" || c.ClaimMobile != "phone_number" || !c.CreateCustomers || c.PasswordLoginEnabled() ||
		c.DisplayName != "Partner Portal" || len(c.Scopes) != 4 || c.Secret() != "0123456789abcdef" {
		t.Fatalf("decoded %+v", c)
	}
	dec = yaml.NewDecoder(strings.NewReader("client_secrets: x\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&Config{}); err == nil {
		t.Fatal("an unknown key was accepted")
	}
}
