package config

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// goTypeName matches what a message must never show an operator: Go type
// names and the YAML decoder's internal words.
var goTypeName = regexp.MustCompile(`\bconfig\.|\boidc\.|\[\]\w|map\[|!!(map|str|seq|int|bool)|unmarshal|in type|Go type|AllowExpired`)

// checkMessage fails unless err's text has every want and no Go type name.
func checkMessage(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	if m := goTypeName.FindString(err.Error()); m != "" {
		t.Errorf("error shows %q, a Go type name or decoder word:\n%v", m, err)
	}
}

// TestConfigErrorsNameTheKeyAndTheFix: one case per message an operator
// meets on the first day; each names the key (as the README writes it),
// the line where there is one, and the fix, without a Go type name.
func TestConfigErrorsNameTheKeyAndTheFix(t *testing.T) {
	const head = "base_url: https://idp.partner.example\nkey_file: idp.key\ncert_file: idp.crt\nx_account_type: ZXT\n"
	const sites = "service_providers:\n  - site: cn\n"
	const valid = head + "bp_id: bp-1\n"
	for _, tc := range []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{name: "misspelt key", yaml: head + "bpid: bp-1\n" + sites,
			want: []string{"line 5: unknown key `bpid`; did you mean `bp_id`?"}},
		{name: "misspelt key without the underscore", yaml: valid + "baseurl: https://x\n" + sites,
			want: []string{"unknown key `baseurl`; did you mean `base_url`?"}},
		{name: "misspelt key in a service_providers entry", yaml: valid + sites + "    metdata_file: cn.xml\n",
			want: []string{"line 8: unknown key `metdata_file` in service_providers[0]; did you mean `metadata_file`?"}},
		{name: "misspelt key in upstream_oidc", yaml: valid + sites + "upstream_oidc:\n  issuer: https://op.example\n  client_id: hcidp\n  client_secert: s\n",
			want: []string{"line 11: unknown key `client_secert` in upstream_oidc; did you mean `client_secret`?"}},
		{name: "key of an entry at the top level", yaml: valid + "metadata_file: cn.xml\n" + sites,
			want: []string{"unknown key `metadata_file`; `metadata_file` is a key of each service_providers entry"}},
		{name: "top-level key in an entry", yaml: valid + sites + "    bp_id: bp-1\n",
			want: []string{"unknown key `bp_id` in service_providers[0]; `bp_id` is a key of the top level"}},
		{name: "unknown key, nothing near", yaml: valid + "frobnicate: 1\n" + sites,
			want: []string{"unknown key `frobnicate`", "README.md"}},
		{name: "unknown key in an entry, nothing near", yaml: valid + sites + "    colour: blue\n",
			want: []string{"unknown key `colour` in service_providers[0]; the keys of each service_providers entry are allow_expired_certificate, auth_url"}},
		{name: "service_providers as a mapping", yaml: valid + "service_providers:\n  site: cn\n",
			want: []string{"line 7: service_providers must be a list", "found a mapping (`site: ...`)", "For example:\n    service_providers:\n      - site: cn\n"}},
		{name: "service_providers as one value", yaml: valid + "service_providers: cn\n",
			want: []string{"service_providers must be a list", `found the single value "cn"`, "- site: cn"}},
		{name: "a service_providers entry as one value", yaml: valid + "service_providers:\n  - cn\n",
			want: []string{"line 7: service_providers[0] must be a mapping of keys", `found the single value "cn"`, "- site: cn"}},
		{name: "signing_key_pins as one value", yaml: valid + sites + "    signing_key_pins: sha256:00\n",
			want: []string{"service_providers[0].signing_key_pins must be a list", "signing_key_pins:\n      - \"sha256:"}},
		{name: "trusted_proxies as one value", yaml: valid + sites + "trusted_proxies: 10.0.0.1\n",
			want: []string{"trusted_proxies must be a list", "- 10.0.0.0/8"}},
		{name: "upstream_oidc scopes as one value", yaml: valid + sites + "upstream_oidc:\n  issuer: https://op.example\n  client_id: hcidp\n  client_secret: s\n  scopes: openid\n",
			want: []string{"upstream_oidc.scopes must be a list", "scopes: [openid, profile, email]"}},
		{name: "a list where one value goes", yaml: valid + sites + "listen: [\":8080\"]\n",
			want: []string{"listen must be a single value; found a list"}},
		{name: "listen as a port", yaml: valid + sites + "listen: 8080\n",
			want: []string{`listen: "8080" has no host: write ":8080" (every network interface) or "127.0.0.1:8080" (this machine only)`}},
		{name: "HCIDP_LISTEN as a port", yaml: valid + sites, env: map[string]string{"HCIDP_LISTEN": "8080"},
			want: []string{`HCIDP_LISTEN: "8080" has no host: write ":8080"`}},
		{name: "listen as a URL", yaml: valid + sites + "listen: http://127.0.0.1:8080\n",
			want: []string{"listen: \"http://127.0.0.1:8080\" is a URL: write host:port"}},
		{name: "listen without a port", yaml: valid + sites + "listen: localhost\n",
			want: []string{`listen: "localhost" has no port: write "localhost:8080"`}},
		{name: "listen with a bad port", yaml: valid + sites + "listen: 127.0.0.1:http80\n",
			want: []string{`listen: "127.0.0.1:http80": the port "http80" is not a number`}},
		{name: "metrics_listen as a port", yaml: valid + sites + "metrics_listen: 9090\n",
			want: []string{`metrics_listen: "9090" has no host: write ":9090"`}},
		{name: "not a boolean", yaml: valid + sites + "sign_response: yes please\n",
			want: []string{`line 8: sign_response is "yes please"; write true or false`}},
		{name: "not a duration", yaml: valid + sites + "clock_skew: 3 minutes\n",
			want: []string{`line 8: clock_skew: "3 minutes" is not a duration (write e.g. "3m" or "90s")`}},
		{name: "key set twice", yaml: valid + "bp_id: bp-2\n" + sites,
			want: []string{"line 6: `bp_id` is set twice at the top level (first on line 5); keep one"}},
		{name: "not a mapping", yaml: "- base_url\n- key_file\n",
			want: []string{"line 1: the configuration must be a mapping of keys", "found a list"}},
		{name: "tab indentation", yaml: valid + "service_providers:\n\t- site: cn\n",
			want: []string{"line 7: not valid YAML", "YAML indents with spaces", "tab"}},
		{name: "log_format", yaml: valid + sites + "log_format: pretty\n",
			want: []string{`log_format: "pretty": use auto (text on a terminal, JSON otherwise), json or text`}},
		{name: "database form", yaml: valid + sites + "database: mysql://db/hcidp\n",
			want: []string{"database: must be sqlite:PATH (e.g. sqlite:/var/lib/hcidp/hcidp.db) or a postgres:// DSN"}},
		{name: "database form from the environment", yaml: valid + sites, env: map[string]string{"HCIDP_DATABASE": "mysql://db/hcidp"},
			want: []string{"HCIDP_DATABASE: must be sqlite:PATH"}},
		{name: "upstream_oidc is validated", yaml: valid + sites + "upstream_oidc:\n  issuer: http://op.example\n",
			want: []string{"upstream_oidc.issuer: \"http://op.example\" uses plain http", "upstream_oidc.client_id: is required"}},
		{name: "missing key_file", yaml: "base_url: https://idp.partner.example\nbp_id: b\nx_account_type: x\n" + sites,
			want: []string{"key_file: is required", "idp keys generate --out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"HCIDP_LISTEN", "HCIDP_DATABASE", "HCIDP_API_KEY", "HCIDP_UPSTREAM_OIDC_CLIENT_SECRET"} {
				t.Setenv(k, tc.env[k])
			}
			_, err := Parse([]byte(tc.yaml), t.TempDir())
			checkMessage(t, err, tc.want...)
		})
	}
}

// TestUpstreamOIDCSection: upstream_oidc decodes into the OIDC package's
// Config, with its defaults and its secret file resolved against the
// configuration's directory; without it the field is nil.
func TestUpstreamOIDCSection(t *testing.T) {
	t.Setenv("HCIDP_UPSTREAM_OIDC_CLIENT_SECRET", "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(minimalYAML+"upstream_oidc:\n  issuer: https://op.example/realms/portal\n  client_id: hcidp\n  client_secret_file: secret\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	o := c.UpstreamOIDC
	if o == nil || o.Issuer != "https://op.example/realms/portal" || o.Secret() != "s3cret" || o.ClaimXAccountID != "sub" ||
		o.ClientSecretFile != filepath.Join(dir, "secret") {
		t.Fatalf("upstream_oidc = %+v", o)
	}
	if c, err := Parse([]byte(minimalYAML), dir); err != nil || c.UpstreamOIDC != nil || c.LogFormat != "auto" {
		t.Fatalf("without upstream_oidc: %v, %+v, log_format %q", err, c.UpstreamOIDC, c.LogFormat)
	}
}

// TestCheckDatabase: a SQLite database whose directory is missing, is a
// file or is not writable is named by its key with the fix.
func TestCheckDatabase(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	readOnly := filepath.Join(dir, "ro")
	os.Mkdir(readOnly, 0o500)
	missing := filepath.Join(dir, "missing", "sub")
	for _, tc := range []struct {
		name     string
		database string
		env      bool // set through HCIDP_DATABASE
		want     []string
	}{
		{name: "directory exists", database: "sqlite:" + filepath.Join(dir, "hcidp.db")},
		{name: "relative to the file", database: "sqlite:hcidp.db"},
		{name: "in memory", database: "sqlite::memory:"},
		{name: "postgres is checked by connecting", database: "postgres://127.0.0.1:1/x"},
		{name: "missing directory", database: "sqlite:" + filepath.Join(missing, "hcidp.db"),
			want: []string{"database: the directory " + missing + " of sqlite:" + filepath.Join(missing, "hcidp.db") + " does not exist", "mkdir -p " + missing}},
		{name: "missing directory from the environment", database: "sqlite:" + filepath.Join(missing, "hcidp.db"), env: true,
			want: []string{"HCIDP_DATABASE: the directory " + missing, "or set HCIDP_DATABASE to"}},
		{name: "directory is a file", database: "sqlite:" + filepath.Join(file, "hcidp.db"),
			want: []string{"database: " + file + ", the directory of sqlite:", "is not a directory"}},
		{name: "the path is a directory", database: "sqlite:" + dir,
			want: []string{"database: " + dir + " is a directory", "sqlite:" + filepath.Join(dir, "hcidp.db")}},
		{name: "directory not writable", database: "sqlite:" + filepath.Join(readOnly, "hcidp.db"),
			want: []string{"database: the directory " + readOnly, "is not writable", "StateDirectory="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "directory not writable" && unix.Access(readOnly, unix.W_OK) == nil {
				t.Skip("this user (root?) may write a mode 0500 directory; the check cannot be shown here")
			}
			t.Setenv("HCIDP_LISTEN", "")
			t.Setenv("HCIDP_DATABASE", "")
			y := minimalYAML
			if tc.env {
				t.Setenv("HCIDP_DATABASE", tc.database)
			} else {
				y += "database: " + strconv.Quote(tc.database) + "\n"
			}
			c, err := Parse([]byte(y), dir)
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckDatabase()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckDatabase: %v", err)
				}
				return
			}
			checkMessage(t, err, tc.want...)
		})
	}
}

// TestListenError: a failed listen names the key, the address and the fix,
// and keeps the cause for errors.Is.
func TestListenError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	port := taken.Addr().(*net.TCPAddr).Port
	_, inUse := net.Listen("tcp", addr)
	_, notHere := net.Listen("tcp", "192.0.2.1:0")
	denied := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}
	for _, tc := range []struct {
		name, key, addr string
		err             error
		is              error
		want            []string
	}{
		{"in use", "listen", addr, inUse, syscall.EADDRINUSE,
			[]string{"listen: " + addr + " is already in use", "set listen to a free address such as 127.0.0.1:" + strconv.Itoa(port+1)}},
		{"in use, from the environment", "HCIDP_LISTEN", addr, inUse, syscall.EADDRINUSE,
			[]string{"HCIDP_LISTEN: " + addr + " is already in use", "set HCIDP_LISTEN to a free address"}},
		{"in use, demo flag", "--iam-listen", addr, inUse, syscall.EADDRINUSE,
			[]string{"--iam-listen: " + addr + " is already in use", "set --iam-listen to a free address"}},
		{"privileged port", "listen", ":443", denied, syscall.EACCES,
			[]string{"listen: :443: permission denied", "CAP_NET_BIND_SERVICE", "set listen to a port from 1024"}},
		{"not an address of this machine", "metrics_listen", "192.0.2.1:0", notHere, syscall.EADDRNOTAVAIL,
			[]string{"metrics_listen: 192.0.2.1:0 is not an address of this machine", "127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Skipf("listening on %s succeeded here", tc.addr)
			}
			err := ListenError(tc.key, tc.addr, tc.err)
			checkMessage(t, err, tc.want...)
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
		})
	}
}
