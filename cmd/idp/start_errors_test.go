package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"hcidp/keys"
	"hcidp/mockiam"
)

// TestStartErrorsNameTheKeyAndTheFix: what an operator meets at the first
// start, through the commands: each message names the key (or the
// environment variable) and the fix, without a Go type name.
func TestStartErrorsNameTheKeyAndTheFix(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()

	// Expired SP metadata of site intl, signed like Huawei's.
	oldKey, oldCert, err := keys.Generate(2048, "auth-intl (expired)", 24*time.Hour, time.Now().Add(-10*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	iam, err := mockiam.New(mockiam.Config{Site: "intl", BaseURL: "https://auth-intl.huaweicloud.com", XAccountType: "HCTEST", Key: oldKey, Cert: oldCert})
	if err != nil {
		t.Fatal(err)
	}
	expired := iam.Metadata()

	for _, tc := range []struct {
		name string
		edit func(cfg, dir string) string // returns the new configuration text
		env  map[string]string
		args []string // the command, before --config
		want []string
	}{
		{name: "missing key_file", args: []string{"metadata"},
			edit: func(cfg, dir string) string {
				return strings.Replace(cfg, "key_file: certs/idp.key", "key_file: certs/missing.key", 1)
			},
			want: []string{"key_file {dir}/certs/missing.key does not exist", "`idp keys generate --out {dir}/certs`", "or set key_file to the right file"}},
		{name: "missing cert_file", args: []string{"serve"},
			edit: func(cfg, dir string) string {
				return strings.Replace(cfg, "cert_file: certs/idp.crt", "cert_file: certs/missing.crt", 1)
			},
			want: []string{"cert_file {dir}/certs/missing.crt does not exist", "idp keys generate --out {dir}/certs"}},
		{name: "certificate of another key", args: []string{"metadata"},
			edit: func(cfg, dir string) string {
				k, c, _ := keys.Generate(2048, "other", time.Hour, time.Now())
				keys.WriteFiles(filepath.Join(dir, "other"), k, c, false)
				return strings.Replace(cfg, "cert_file: certs/idp.crt", "cert_file: other/idp.crt", 1)
			},
			want: []string{"cert_file {dir}/other/idp.crt does not match key_file {dir}/certs/idp.key", "set cert_file to the certificate generated with this key"}},
		{name: "database directory missing", args: []string{"users", "list"},
			edit: func(cfg, dir string) string {
				return strings.Replace(cfg, "database: sqlite:idp.db", "database: sqlite:data/idp.db", 1)
			},
			want: []string{"database: the directory {dir}/data of sqlite:{dir}/data/idp.db does not exist", "mkdir -p {dir}/data"}},
		{name: "database directory missing at serve", args: []string{"serve"},
			edit: func(cfg, dir string) string {
				return strings.Replace(cfg, "database: sqlite:idp.db", "database: sqlite:data/idp.db", 1)
			},
			want: []string{"database: the directory {dir}/data of sqlite:{dir}/data/idp.db does not exist"}},
		{name: "database directory from the environment", args: []string{"audit", "list"}, env: map[string]string{"HCIDP_DATABASE": "sqlite:/nonexistent/hcidp.db"},
			want: []string{"HCIDP_DATABASE: the directory /nonexistent of sqlite:/nonexistent/hcidp.db does not exist"}},
		{name: "listen as a port", args: []string{"serve"},
			edit: func(cfg, dir string) string { return strings.Replace(cfg, "listen: 127.0.0.1:0", "listen: 8080", 1) },
			want: []string{`listen: "8080" has no host: write ":8080" (every network interface) or "127.0.0.1:8080" (this machine only)`}},
		{name: "port in use", args: []string{"serve"},
			edit: func(cfg, dir string) string { return strings.Replace(cfg, "listen: 127.0.0.1:0", "listen: "+busy, 1) },
			want: []string{"listen: " + busy + " is already in use", "set listen to a free address", "(listen is set in {dir}/idp.yaml; $HCIDP_LISTEN overrides it)"}},
		{name: "port in use from the environment", args: []string{"serve"}, env: map[string]string{"HCIDP_LISTEN": busy},
			want: []string{"HCIDP_LISTEN: " + busy + " is already in use", "set HCIDP_LISTEN to a free address"}},
		{name: "misspelt key", args: []string{"metadata"},
			edit: func(cfg, dir string) string { return strings.Replace(cfg, "bp_id:", "bpid:", 1) },
			want: []string{"line 5: unknown key `bpid`; did you mean `bp_id`?"}},
		{name: "service_providers as a mapping", args: []string{"sp", "show"},
			edit: func(cfg, dir string) string { return strings.Replace(cfg, "  - site: cn", "  site: cn", 1) },
			want: []string{"service_providers must be a list", "found a mapping (`site: ...`)", "- site: cn"}},
		{name: "expired SP metadata", args: []string{"sp", "show"},
			edit: func(cfg, dir string) string {
				os.WriteFile(filepath.Join(dir, "intl.xml"), expired, 0o644)
				return strings.Replace(cfg, "  - site: cn", "  - site: intl\n    metadata_file: intl.xml", 1)
			},
			want: []string{"service_providers[0] (intl", "expired on", "`idp sp fetch --site intl --config FILE`", "set `allow_expired_certificate: true` in the service_providers entry of site intl"}},
		{name: "missing metadata_file", args: []string{"sp", "show"},
			edit: func(cfg, dir string) string {
				return strings.Replace(cfg, "  - site: cn", "  - site: intl\n    metadata_file: intl-missing.xml", 1)
			},
			want: []string{"service_providers[0].metadata_file: {dir}/intl-missing.xml does not exist", "`idp sp fetch --site intl --out {dir}/intl-missing.xml`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"HCIDP_LISTEN", "HCIDP_DATABASE"} {
				t.Setenv(k, tc.env[k])
			}
			cfgPath := testConfig(t)
			dir := filepath.Dir(cfgPath)
			if tc.edit != nil {
				b, _ := os.ReadFile(cfgPath)
				if err := os.WriteFile(cfgPath, []byte(tc.edit(string(b), dir)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errOut strings.Builder
			err := run(ctx, append(tc.args, "--config", cfgPath), strings.NewReader(""), &out, &errOut)
			if err == nil {
				t.Fatal("the command succeeded")
			}
			for _, want := range tc.want {
				want = strings.ReplaceAll(want, "{dir}", dir)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if m := goTypeName.FindString(err.Error()); m != "" {
				t.Errorf("error shows %q:\n%v", m, err)
			}
		})
	}
}

// goTypeName matches Go type names and decoder words an operator must not
// see in a message.
var goTypeName = regexp.MustCompile(`\bconfig\.|\boidc\.|\[\]\w|!!(map|str|seq)|unmarshal|in type|AllowExpired|\*rsa|\*ecdsa`)

// TestDemoListenErrorNamesTheFlag: the demo's failed listener is reported
// with the flag that chose its address.
func TestDemoListenErrorNamesTheFlag(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	_, inUse := net.Listen("tcp", busy)
	for _, tc := range []struct {
		name             string
		err              error
		idpAddr, iamAddr string
		want             string
	}{
		{"IdP port", fmt.Errorf("demo: IdP listener: %w", inUse), busy, "127.0.0.1:8081", "--listen: " + busy + " is already in use"},
		{"mock IAM port", fmt.Errorf("demo: mock IAM listener: %w", inUse), "127.0.0.1:8080", busy, "--iam-listen: " + busy + " is already in use"},
		{"mock IAM port by name", fmt.Errorf("demo: mock IAM listener: %w", inUse), "127.0.0.1:8080", "localhost:" + busy[strings.LastIndex(busy, ":")+1:], "--iam-listen: localhost:"},
		{"another error", errors.New("demo: something else"), "127.0.0.1:8080", "127.0.0.1:8081", "demo: something else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := demoListenError(tc.err, tc.idpAddr, tc.iamAddr)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if tc.name != "another error" && !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error %v does not wrap EADDRINUSE", err)
			}
		})
	}
}
