package metadata

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"hcidp/saml"
)

// TestFetch downloads from a loopback server: a document LoadSP accepts
// with a signature required and every signing key pinned or accepted; the
// rest is refused, naming why.
func TestFetch(t *testing.T) {
	builtin := builtinCN(t)
	builtinPins := BuiltinKeyPins("cn")
	key, cert := freshPair(t)
	rolled, err := SignMetadata(spXML(keyDescriptor("signing", certB64(cert)),
		acs(saml.BindingHTTPPost, "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer", ` index="0" isDefault="true"`)), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	newPin := KeyPin(cert)
	tampered := bytes.Replace(builtin, []byte("SAMLAssertionConsumer\" index"), []byte("SAMLAssertionConsumeX\" index"), 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/builtin.xml":
			w.Write(builtin)
		case "/rolled.xml":
			w.Write(rolled)
		case "/tampered.xml":
			w.Write(tampered)
		case "/unsigned.xml":
			w.Write(stripSignature(t, builtin))
		case "/huge.xml":
			w.Write(bytes.Repeat([]byte(" "), MaxMetadataSize+1))
		case "/to-plain-http":
			http.Redirect(w, r, "http://auth.huaweicloud.example/metadata.xml", http.StatusFound)
		case "/to-builtin":
			http.Redirect(w, r, "/builtin.xml", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name      string
		site      string
		opts      FetchOptions
		wantErr   []string
		errIs     error
		unpinned  []string // the keys an *UnpinnedKeyError names
		wantKeys  []string
		wantNew   []string
		wantStale []string
	}{
		{name: "pinned by default", site: "cn", opts: FetchOptions{URL: srv.URL + "/builtin.xml", Pins: builtinPins, Now: builtinNow},
			wantKeys: builtinPins},
		{name: "a redirect within the rule", site: "cn", opts: FetchOptions{URL: srv.URL + "/to-builtin", Pins: builtinPins, Now: builtinNow},
			wantKeys: builtinPins},
		{name: "not pinned", site: "intl", opts: FetchOptions{URL: srv.URL + "/rolled.xml"}, wantKeys: []string{newPin}},
		{name: "new key refused", site: "cn", opts: FetchOptions{URL: srv.URL + "/rolled.xml", Pins: builtinPins},
			errIs: ErrKeyNotPinned, unpinned: []string{newPin}},
		{name: "new key accepted", site: "cn", opts: FetchOptions{URL: srv.URL + "/rolled.xml", Pins: builtinPins, Accept: []string{newPin}},
			wantKeys: []string{newPin}, wantNew: []string{newPin}, wantStale: builtinPins},
		{name: "accepted key that does not sign it", site: "cn",
			opts:    FetchOptions{URL: srv.URL + "/builtin.xml", Pins: builtinPins, Accept: []string{newPin}, Now: builtinNow},
			wantErr: []string{"accepted key " + newPin + " is not a signing key of the downloaded metadata", builtinPins[0]}},
		{name: "tampered", site: "cn", opts: FetchOptions{URL: srv.URL + "/tampered.xml", Pins: builtinPins, Now: builtinNow},
			wantErr: []string{"signature does not verify"}},
		{name: "unsigned", site: "cn", opts: FetchOptions{URL: srv.URL + "/unsigned.xml", Pins: builtinPins, Now: builtinNow},
			wantErr: []string{"not signed"}},
		{name: "larger than the cap", site: "cn", opts: FetchOptions{URL: srv.URL + "/huge.xml"}, wantErr: []string{"more than 2097152 bytes"}},
		{name: "not found", site: "cn", opts: FetchOptions{URL: srv.URL + "/absent.xml"}, wantErr: []string{"answered 404"}},
		{name: "plain http off loopback", site: "cn", opts: FetchOptions{URL: "http://auth.huaweicloud.example/metadata.xml"}, errIs: ErrInsecureURL},
		{name: "redirect to plain http", site: "cn", opts: FetchOptions{URL: srv.URL + "/to-plain-http"}, errIs: ErrInsecureURL},
		{name: "another scheme", site: "cn", opts: FetchOptions{URL: "file:///etc/passwd"}, errIs: ErrInsecureURL},
		{name: "unknown site", site: "moon", wantErr: []string{`site "moon": use one of cn, intl, eu`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Fetch(t.Context(), srv.Client(), tc.site, tc.opts)
			if len(tc.wantErr) > 0 || tc.errIs != nil {
				if err == nil {
					t.Fatal("Fetch succeeded")
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("error %q is not %v", err, tc.errIs)
				}
				var unpinned *UnpinnedKeyError
				if tc.unpinned != nil && (!errors.As(err, &unpinned) || !equal(unpinned.Unpinned, tc.unpinned)) {
					t.Errorf("error %q does not list the unpinned keys %v", err, tc.unpinned)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equal(f.Keys, tc.wantKeys) || !equal(f.NewPins, tc.wantNew) || !equal(f.StalePins, tc.wantStale) {
				t.Errorf("keys %v, new %v, stale %v; want %v, %v, %v", f.Keys, f.NewPins, f.StalePins, tc.wantKeys, tc.wantNew, tc.wantStale)
			}
			if !f.SP.Signed || (!bytes.Equal(f.Data, builtin) && !bytes.Equal(f.Data, rolled)) {
				t.Error("the document is not returned verbatim, or not as signed")
			}
		})
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}
