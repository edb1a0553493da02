package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimalYAML = `base_url: https://idp.partner.example
key_file: idp.key
cert_file: idp.crt
bp_id: bp-1
x_account_type: ZXT
service_providers:
  - site: cn
`

func TestAPIKey(t *testing.T) {
	const good = "0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("key.txt", "  "+good+"\n")
	write("empty.txt", "\n")
	tests := []struct {
		name    string
		yaml    string
		env     string
		want    string // the resolved key
		wantErr string
	}{
		{name: "unset disables the API", yaml: ""},
		{name: "in the file", yaml: "api_key: " + good, want: good},
		{name: "environment overrides", yaml: "api_key: " + strings.Repeat("x", 40), env: good, want: good},
		{name: "environment alone", env: good, want: good},
		{name: "key file, trimmed, relative to the config", yaml: "api_key_file: key.txt", want: good},
		{name: "environment overrides the key file", yaml: "api_key_file: missing.txt", env: good, want: good},
		{name: "too short", yaml: "api_key: short", wantErr: "api_key: the API key is 5 characters long; use at least 32"},
		{name: "too short from the environment", env: "short", wantErr: "HCIDP_API_KEY: the API key is 5"},
		{name: "spaces", yaml: `api_key: "` + good + ` x"`, wantErr: "api_key: the API key must be printable ASCII"},
		{name: "both", yaml: "api_key: " + good + "\napi_key_file: key.txt", wantErr: "api_key_file: set either api_key or api_key_file"},
		{name: "missing file", yaml: "api_key_file: missing.txt", wantErr: "api_key_file: open"},
		{name: "empty file", yaml: "api_key_file: empty.txt", wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HCIDP_API_KEY", tt.env)
			t.Setenv("HCIDP_DATABASE", "")
			c, err := Parse([]byte(minimalYAML+tt.yaml+"\n"), dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(): %v", err)
			}
			if c.APIKey != tt.want || c.APIEnabled() != (tt.want != "") {
				t.Errorf("APIKey = %q (enabled %v), want %q", c.APIKey, c.APIEnabled(), tt.want)
			}
		})
	}
}
