package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hcidp/metadata"
)

const (
	pinA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	pinB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

const operatorFile = `# hcidp of Example Ltd.
base_url: https://idp.partner.example   # public URL

key_file: certs/idp.key
cert_file: certs/idp.crt

service_providers:
  # China
  - site: cn
    metadata_file: cn.xml     # from idp sp fetch

  # Europe, pinned since 2026
  - metadata_file: 'eu.xml'
    site: eu
    signing_key_pins:
      - "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"   # 2026 key
bp_id: "bp-1"
`

func TestAddSigningKeyPins(t *testing.T) {
	for _, c := range []struct {
		name, src, site string
		pins            []string
		want            string
		err             error
	}{
		{
			name: "creates the list after the site line, keeping comments, blank lines and quoting",
			src:  operatorFile, site: "cn", pins: []string{pinA, pinB},
			want: strings.Replace(operatorFile, "  - site: cn\n", "  - site: cn\n    signing_key_pins:\n      - \""+pinA+"\"\n      - \""+pinB+"\"\n", 1),
		},
		{
			name: "appends to an existing list, keeping the items' comments",
			src:  operatorFile, site: "eu", pins: []string{pinA, pinB},
			want: strings.Replace(operatorFile, "   # 2026 key\n", "   # 2026 key\n      - \""+pinB+"\"\n", 1),
		},
		{
			name: "pins already listed (in any case) change nothing",
			src:  operatorFile, site: "eu", pins: []string{strings.ToUpper(pinA[:7]) + pinA[7:]},
			want: operatorFile,
		},
		{
			name: "CRLF line endings and no final newline",
			src:  "base_url: x\r\nservice_providers:\r\n- site: CN", site: "cn", pins: []string{pinA},
			want: "base_url: x\r\nservice_providers:\r\n- site: CN\r\n  signing_key_pins:\r\n    - \"" + pinA + "\"\r\n",
		},
		{
			name: "flow-style entry is not edited",
			src:  "service_providers: [{site: cn, metadata_file: cn.xml}]\n", site: "cn", pins: []string{pinA},
			err: ErrNotEditable,
		},
		{
			name: "empty flow list",
			src:  "service_providers:\n  - site: cn\n    signing_key_pins: []\n", site: "cn", pins: []string{pinA},
			want: "service_providers:\n  - site: cn\n    signing_key_pins: [\"" + pinA + "\"]\n",
		},
		{
			name: "one-line flow list with a comment",
			src:  "service_providers:\n  - site: cn\n    signing_key_pins: [ '" + pinA + "' ]  # [old] key\n", site: "cn", pins: []string{pinB},
			want: "service_providers:\n  - site: cn\n    signing_key_pins: [ '" + pinA + "' , \"" + pinB + "\"]  # [old] key\n",
		},
		{
			name: "flow list over several lines is not edited",
			src:  "service_providers:\n  - site: cn\n    signing_key_pins: [\n      \"" + pinA + "\"]\n", site: "cn", pins: []string{pinB},
			err: ErrNotEditable,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := AddSigningKeyPins([]byte(c.src), c.site, c.pins)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
	if _, err := AddSigningKeyPins([]byte(operatorFile), "intl", []string{pinA}); err == nil || !strings.Contains(err.Error(), "no entry for site intl") {
		t.Errorf("unknown site: %v", err)
	}
	if _, err := AddSigningKeyPins([]byte(operatorFile), "cn", []string{"sha1:00"}); err == nil {
		t.Error("a malformed pin was written")
	}
}

// TestAddedPinsLoad: the edited file loads and the site is pinned to the new keys.
func TestAddedPinsLoad(t *testing.T) {
	src := "base_url: https://idp.partner.example\nkey_file: k\ncert_file: c\nbp_id: b\nx_account_type: x\nservice_providers:\n  - site: intl\n    metadata_file: intl.xml\n"
	out, err := AddSigningKeyPins([]byte(src), "intl", []string{pinB})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(out, "")
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.ServiceProviders[0].KeyPins(); len(p) != 1 || p[0] != pinB {
		t.Fatalf("pins = %v", p)
	}
}

func TestSigningKeyPins(t *testing.T) {
	base := "base_url: https://idp.partner.example\nkey_file: k\ncert_file: c\nbp_id: b\nx_account_type: x\nservice_providers:\n"
	cfg, err := Parse([]byte(base+"  - site: cn\n  - site: intl\n    metadata_file: i.xml\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.ServiceProviders[0].KeyPins(), metadata.BuiltinKeyPins("cn"); len(want) != 1 || len(got) != 1 || got[0] != want[0] {
		t.Errorf("cn without pins: %v, want the built-in key %v", got, want)
	}
	if got := cfg.ServiceProviders[1].KeyPins(); got != nil {
		t.Errorf("intl without pins: %v, want none", got)
	}

	cfg, err = Parse([]byte(base+"  - site: cn\n    signing_key_pins: [\" SHA256:"+strings.ToUpper(pinB[7:])+"\"]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ServiceProviders[0].KeyPins(); len(got) != 1 || got[0] != pinB {
		t.Errorf("explicit pin: %v, want only %s (canonical)", got, pinB)
	}

	_, err = Parse([]byte(base+"  - site: cn\n    signing_key_pins: [\"sha256:abc\", \""+pinA+"\", \"md5:"+pinA[7:]+"\"]\n"), "")
	for _, want := range []string{"service_providers[0].signing_key_pins[0]", "service_providers[0].signing_key_pins[2]", `"sha256:" and the 64 hex digits`, "idp sp show"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "signing_key_pins[1]") {
		t.Errorf("a valid pin was reported: %v", err)
	}
}

// TestPinSigningKeys: the pin is written into the file behind a symbolic
// link, keeping its mode; a site pinned by default gets its default pin
// written too (an explicit list replaces it); a layout that cannot be
// edited writes nothing and returns the list to add by hand.
func TestPinSigningKeys(t *testing.T) {
	t.Setenv("HCIDP_LISTEN", "")
	t.Setenv("HCIDP_DATABASE", "")
	t.Setenv("HCIDP_API_KEY", "")
	const head = "base_url: https://idp.partner.example\nkey_file: idp.key\ncert_file: idp.crt\nbp_id: bp-1\nx_account_type: ZXT\n"
	builtin := metadata.BuiltinKeyPins("cn")[0]
	for _, tc := range []struct {
		name     string
		src      string
		site     string
		wantPins []string // the site's signing_key_pins afterwards
		wantErr  bool
	}{
		{"built-in cn", head + "service_providers:\n  - site: cn\n", "cn", []string{builtin, pinB}, false},
		{"pinned site", head + "service_providers:\n  - site: cn\n  - site: eu\n    metadata_file: eu.xml\n    signing_key_pins:\n      - \"" + pinA + "\"\n", "eu", []string{pinA, pinB}, false},
		{"flow style", head + "service_providers:\n  - {site: cn}\n", "cn", []string{builtin, pinB}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			real := filepath.Join(dir, "real.yaml")
			if err := os.WriteFile(real, []byte(tc.src), 0o640); err != nil {
				t.Fatal(err)
			}
			os.Chmod(real, 0o640)
			link := filepath.Join(dir, "hcidp.yaml")
			if err := os.Symlink("real.yaml", link); err != nil {
				t.Fatal(err)
			}
			_, err := PinSigningKeys(link, tc.site, []string{pinB})
			if tc.wantErr {
				var pe *PinFileError
				if !errors.As(err, &pe) || strings.Join(pe.Pins, ",") != strings.Join(tc.wantPins, ",") || !strings.Contains(err.Error(), "nothing was written") {
					t.Fatalf("error %v, want a *PinFileError listing %v", err, tc.wantPins)
				}
				if b, _ := os.ReadFile(real); string(b) != tc.src {
					t.Error("the file was written")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Error("the symbolic link was replaced by a file")
			}
			if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
			}
			c, err := Load(link)
			if err != nil {
				t.Fatal(err)
			}
			for _, sp := range c.ServiceProviders {
				if sp.Site == tc.site && strings.Join(sp.SigningKeyPins, ",") != strings.Join(tc.wantPins, ",") {
					t.Errorf("signing_key_pins %v, want %v", sp.SigningKeyPins, tc.wantPins)
				}
			}
		})
	}
}
