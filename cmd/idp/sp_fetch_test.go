package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hcidp/app"
	"hcidp/config"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/mockiam"
)

// TestSPFetch downloads SP metadata from a loopback server, verifies it and
// writes it; tampered metadata is refused and nothing is written.
func TestSPFetch(t *testing.T) {
	good, _ := metadata.BuiltinSPMetadata("cn")
	bad := bytes.Replace(good, []byte("SAMLAssertionConsumer\" index"), []byte("SAMLAssertionConsumeX\" index"), 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad.xml" {
			w.Write(bad)
			return
		}
		w.Write(good)
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "cn.xml")
	if _, _, err := idpCmd(t, "", "sp", "fetch", "--site", "cn", "--url", srv.URL+"/metadata.xml", "--out", out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, good) {
		t.Fatal("fetched metadata not written verbatim")
	}
	out2 := filepath.Join(t.TempDir(), "bad.xml")
	if _, _, err := idpCmd(t, "", "sp", "fetch", "--site", "cn", "--url", srv.URL+"/bad.xml", "--out", out2); err == nil {
		t.Fatal("tampered metadata accepted")
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Fatal("a file was written for refused metadata")
	}
	if _, _, err := idpCmd(t, "", "sp", "fetch", "--site", "cn", "--url", "http://example.com/x.xml", "--out", out2); err == nil {
		t.Fatal("plain http to a non-loopback host accepted")
	}
	// Nothing answers: a download failure, said as such, not a refusal.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	_, _, err := idpCmd(t, "", "sp", "fetch", "--site", "cn", "--url", closed.URL+"/x.xml", "--out", out2)
	if err == nil || !strings.Contains(err.Error(), "could not download") || strings.Contains(err.Error(), "metadata was refused") {
		t.Fatalf("unreachable server: %v", err)
	}
	_ = time.Now
}

// TestSPFetchKeyPinning: `idp sp fetch` refuses metadata whose signing key
// is not pinned (cn is pinned to Huawei's built-in key by default) and
// writes nothing; --accept-key installs it and writes the pin into the
// configuration file, keeping the operator's comments and layout, so that
// start and SIGHUP accept it.
func TestSPFetchKeyPinning(t *testing.T) {
	newKey, newCert, err := keys.Generate(2048, "auth.huaweicloud.com (renewed)", 365*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	iam, err := mockiam.New(mockiam.Config{Site: "cn", BaseURL: "https://auth.huaweicloud.com", XAccountType: "HCTEST", Key: newKey, Cert: newCert})
	if err != nil {
		t.Fatal(err)
	}
	rolled := iam.Metadata()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(rolled) }))
	defer srv.Close()
	builtinPin, newPin := metadata.BuiltinKeyPins("cn")[0], metadata.KeyPin(newCert)

	cfgPath := testConfig(t)
	dir := filepath.Dir(cfgPath)
	cfgText, _ := os.ReadFile(cfgPath)
	cfgText = []byte(strings.Replace(string(cfgText), "  - site: cn\n", "  # China site, metadata from Huawei\n  - site: cn   # the first site we sold\n    metadata_file: cn.xml\n", 1))
	os.WriteFile(cfgPath, cfgText, 0o600)
	os.Chmod(cfgPath, 0o640)
	good, _ := metadata.BuiltinSPMetadata("cn")
	cnXML := filepath.Join(dir, "cn.xml")
	os.WriteFile(cnXML, good, 0o644)
	unchanged := func(what string) {
		t.Helper()
		if b, _ := os.ReadFile(cnXML); !bytes.Equal(b, good) {
			t.Fatalf("%s: the metadata file was written", what)
		}
		if b, _ := os.ReadFile(cfgPath); !bytes.Equal(b, cfgText) {
			t.Fatalf("%s: the configuration was written:\n%s", what, b)
		}
	}
	fetch := func(extra ...string) (string, string, error) {
		return idpCmd(t, "", append([]string{"sp", "fetch", "--site", "cn", "--url", srv.URL + "/metadata.xml", "--config", cfgPath}, extra...)...)
	}

	_, _, err = fetch()
	if err == nil {
		t.Fatal("metadata signed with a new key was installed without --accept-key")
	}
	// The command to run again repeats this one's flags (--url too).
	for _, want := range []string{"site cn", builtinPin, newPin,
		"idp sp fetch --site cn --accept-key " + newPin + " --config " + cfgPath + " --url " + srv.URL + "/metadata.xml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal lacks %q: %v", want, err)
		}
	}
	unchanged("refused")

	if _, _, err := fetch("--accept-key", newPin, "--accept-key", "sha256:"+strings.Repeat("00", 32)); err == nil || !strings.Contains(err.Error(), "is not a signing key of the downloaded metadata") {
		t.Fatalf("--accept-key of a key the metadata does not have: %v", err)
	}
	unchanged("unknown accepted key")
	if _, _, err := fetch("--accept-key", "sha256:12"); err == nil {
		t.Fatal("a malformed --accept-key was taken")
	}
	unchanged("malformed accepted key")

	out, _, err := fetch("--accept-key", strings.ToUpper(newPin))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "pinned "+newPin) {
		t.Errorf("output: %s", out)
	}
	if b, _ := os.ReadFile(cnXML); !bytes.Equal(b, rolled) {
		t.Fatal("the accepted metadata was not installed")
	}
	want := strings.Replace(string(cfgText), "# the first site we sold\n", "# the first site we sold\n    signing_key_pins:\n      - \""+builtinPin+"\"\n      - \""+newPin+"\"\n", 1)
	if b, _ := os.ReadFile(cfgPath); string(b) != want {
		t.Fatalf("configuration after --accept-key:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(cfgPath); fi.Mode().Perm() != 0o640 {
		t.Errorf("configuration mode %v, want 0640 kept", fi.Mode().Perm())
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.LoadServiceProviders(cfg, time.Now(), nil); err != nil {
		t.Fatalf("the installation does not start with what sp fetch wrote: %v", err)
	}
	// Pinned now: a second fetch needs no flag and changes nothing.
	before, _ := os.ReadFile(cfgPath)
	if _, _, err := fetch(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(cfgPath); !bytes.Equal(before, after) {
		t.Fatal("a fetch of pinned metadata rewrote the configuration")
	}
}

// TestSPFetchPinsThatCannotBeWrittenAreShown: a layout the editor does not
// touch (flow style) is refused with the exact YAML to add, and nothing is
// written.
func TestSPFetchPinsThatCannotBeWrittenAreShown(t *testing.T) {
	newKey, newCert, _ := keys.Generate(2048, "auth-intl (test)", 365*24*time.Hour, time.Now())
	iam, err := mockiam.New(mockiam.Config{Site: "intl", BaseURL: "https://auth-intl.huaweicloud.com", XAccountType: "HCTEST", Key: newKey, Cert: newCert})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(iam.Metadata()) }))
	defer srv.Close()
	cfgPath := testConfig(t)
	cfgText, _ := os.ReadFile(cfgPath)
	cfgText = []byte(strings.Replace(string(cfgText), "  - site: cn\n", "  - {site: intl, metadata_file: intl.xml}\n", 1))
	os.WriteFile(cfgPath, cfgText, 0o600)
	pin := metadata.KeyPin(newCert)

	// Unpinned site: installed, with a note on how to pin it.
	_, stderr, err := idpCmd(t, "", "sp", "fetch", "--site", "intl", "--url", srv.URL, "--config", cfgPath)
	if err != nil || !strings.Contains(stderr, "not pinned") || !strings.Contains(stderr, "--accept-key "+pin) {
		t.Fatalf("unpinned site: %v\n%s", err, stderr)
	}
	intlXML := filepath.Join(filepath.Dir(cfgPath), "intl.xml")
	os.Remove(intlXML)
	_, _, err = idpCmd(t, "", "sp", "fetch", "--site", "intl", "--url", srv.URL, "--config", cfgPath, "--accept-key", pin)
	if err == nil || !strings.Contains(err.Error(), "nothing was written") || !strings.Contains(err.Error(), "signing_key_pins:\n    - \""+pin+"\"") {
		t.Fatalf("flow-style entry: %v", err)
	}
	if _, err := os.Stat(intlXML); !os.IsNotExist(err) {
		t.Error("the metadata was written although the pin could not be")
	}
	if b, _ := os.ReadFile(cfgPath); !bytes.Equal(b, cfgText) {
		t.Errorf("the configuration was changed:\n%s", b)
	}
}

// TestSPFetchBuiltinChina: a cn site on the built-in metadata has no file
// to replace: without --out, sp fetch writes nothing and says how to proceed;
// with --out it writes there and says how to switch the site to that file
// (or that the download is the built-in document). Following its words
// gives a configuration that loads.
func TestSPFetchBuiltinChina(t *testing.T) {
	builtin, _ := metadata.BuiltinSPMetadata("cn")
	newKey, newCert, err := keys.Generate(2048, "auth.huaweicloud.com (renewed)", 365*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	iam, err := mockiam.New(mockiam.Config{Site: "cn", BaseURL: "https://auth.huaweicloud.com", XAccountType: "HCTEST", Key: newKey, Cert: newCert})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/rolled.xml" {
			w.Write(iam.Metadata())
			return
		}
		w.Write(builtin)
	}))
	defer srv.Close()
	cfgPath := testConfig(t) // service_providers: - site: cn, no metadata_file
	dir := filepath.Dir(cfgPath)
	before, _ := os.ReadFile(cfgPath)

	_, _, err = idpCmd(t, "", "sp", "fetch", "--site", "cn", "--url", srv.URL+"/metadata.xml", "--config", cfgPath)
	for _, want := range []string{"site cn uses the metadata built into idp", "no file to replace", "give --out FILE", "metadata_file: FILE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without --out: %v, want it to say %q", err, want)
		}
	}

	same := filepath.Join(dir, "cn-same.xml")
	out, _, err := idpCmd(t, "", "sp", "fetch", "--site", "cn", "--url", srv.URL+"/metadata.xml", "--config", cfgPath, "--out", same)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(same); !bytes.Equal(b, builtin) || !strings.Contains(out, "the same document as the metadata built into idp") {
		t.Errorf("--out with the built-in document: %s", out)
	}
	if b, _ := os.ReadFile(cfgPath); !bytes.Equal(b, before) {
		t.Error("the configuration was changed")
	}

	// A renewed key, accepted: pinned in the configuration, written to --out,
	// and the site switched by hand as the output says.
	rolled := filepath.Join(dir, "cn-rolled.xml")
	pin := metadata.KeyPin(newCert)
	out, _, err = idpCmd(t, "", "sp", "fetch", "--site", "cn", "--url", srv.URL+"/rolled.xml", "--config", cfgPath, "--out", rolled, "--accept-key", pin)
	if err != nil {
		t.Fatal(err)
	}
	want := "site cn still uses the metadata built into idp: to use the file you downloaded, add to its service_providers entry in " + cfgPath +
		":\n      metadata_file: " + rolled + "\nthen reload (SIGHUP)"
	if !strings.Contains(out, want) || !strings.Contains(out, "pinned "+pin) {
		t.Fatalf("output:\n%s\nwant:\n%s", out, want)
	}
	cfgText, _ := os.ReadFile(cfgPath)
	switched := strings.Replace(string(cfgText), "  - site: cn\n", "  - site: cn\n    metadata_file: "+rolled+"\n", 1)
	os.WriteFile(cfgPath, []byte(switched), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sps, err := app.LoadServiceProviders(cfg, time.Now(), nil)
	if err != nil {
		t.Fatalf("the configuration the output describes does not load: %v", err)
	}
	if got := metadata.KeyPin(sps[0].Meta.SigningCerts[0]); got != pin {
		t.Errorf("site cn loads key %s, want the downloaded %s", got, pin)
	}
}
