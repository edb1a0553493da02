package metadata

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hcidp/saml"
	"strings"
	"testing"
	"time"

	dsig "github.com/russellhaering/goxmldsig"
)

const (
	huaweiEntityID = "https://auth.huaweicloud.com/"
	huaweiACS      = "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer"
)

func TestLoadSPBuiltinHuaweiCN(t *testing.T) {
	sp, err := LoadSP("cn", builtinCN(t), LoadOptions{Now: builtinNow})
	if err != nil {
		t.Fatalf("LoadSP(builtin cn): %v", err)
	}
	if !sp.Signed {
		t.Error("Signed = false, want true")
	}
	if sp.Site != "cn" {
		t.Errorf("Site = %q", sp.Site)
	}
	if sp.EntityID != huaweiEntityID {
		t.Errorf("EntityID = %q, want %q", sp.EntityID, huaweiEntityID)
	}
	wantACS := Endpoint{Binding: saml.BindingHTTPPost, Location: huaweiACS, Index: 0, IsDefault: true}
	if len(sp.ACS) != 1 || sp.ACS[0] != wantACS {
		t.Errorf("ACS = %+v, want [%+v]", sp.ACS, wantACS)
	}
	if sp.DefaultACS != wantACS {
		t.Errorf("DefaultACS = %+v", sp.DefaultACS)
	}
	if !sp.AuthnRequestsSigned || !sp.WantAssertionsSigned {
		t.Errorf("AuthnRequestsSigned=%v WantAssertionsSigned=%v, want both true", sp.AuthnRequestsSigned, sp.WantAssertionsSigned)
	}
	if len(sp.SigningCerts) != 1 {
		t.Fatalf("%d signing certificates, want 1", len(sp.SigningCerts))
	}
	cert := sp.SigningCerts[0]
	if cert.Subject.CommonName != "auth.huaweicloud.com" {
		t.Errorf("signing certificate CN = %q", cert.Subject.CommonName)
	}
	if y, m, d := sp.NotAfter.UTC().Date(); y != 2028 || m != time.June || d != 18 {
		t.Errorf("NotAfter = %v, want 2028-06-18", sp.NotAfter)
	}
	if !sp.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("NotAfter %v differs from the certificate's %v", sp.NotAfter, cert.NotAfter)
	}
	if len(sp.EncryptionCerts) != 1 || !sp.EncryptionCerts[0].Equal(cert) {
		t.Errorf("EncryptionCerts = %d certificates, want Huawei's one", len(sp.EncryptionCerts))
	}

	if e, ok := sp.ACSByURL(huaweiACS); !ok || e != wantACS {
		t.Errorf("ACSByURL(exact) = %+v, %v", e, ok)
	}
	for _, near := range []string{huaweiACS + "/", strings.ToUpper(huaweiACS[:5]) + huaweiACS[5:], huaweiACS[:len(huaweiACS)-1], huaweiACS + "?x=1"} {
		if _, ok := sp.ACSByURL(near); ok {
			t.Errorf("ACSByURL(%q) matched; only byte-for-byte matches may", near)
		}
	}
	// The ArtifactResolutionService shares the ACS URL but is not an ACS.
	if e, ok := sp.ACSByIndex(0); !ok || e != wantACS {
		t.Errorf("ACSByIndex(0) = %+v, %v", e, ok)
	}
	for _, i := range []int{-1, 1} {
		if _, ok := sp.ACSByIndex(i); ok {
			t.Errorf("ACSByIndex(%d) matched", i)
		}
	}

	// The zero LoadOptions (Now = time.Now()) accept it too until 2028.
	if time.Now().Before(cert.NotAfter) {
		if _, err := LoadSP("cn", builtinCN(t), LoadOptions{RequireSignature: true}); err != nil {
			t.Errorf("LoadSP with RequireSignature and the real clock: %v", err)
		}
	}
}

func TestBuiltinSPMetadata(t *testing.T) {
	a, ok := BuiltinSPMetadata("cn")
	if !ok || len(a) == 0 {
		t.Fatal("no built-in metadata for cn")
	}
	a[0] = 'X' // callers get a copy
	if b, _ := BuiltinSPMetadata("cn"); b[0] == 'X' {
		t.Error("BuiltinSPMetadata returned the shared embedded slice")
	}
	for _, site := range []string{"intl", "eu", "", "CN"} {
		if _, ok := BuiltinSPMetadata(site); ok {
			t.Errorf("BuiltinSPMetadata(%q) returned metadata", site)
		}
	}
}

func TestLoadSPBuiltinXmlsec1(t *testing.T) {
	sp, err := LoadSP("cn", builtinCN(t), LoadOptions{Now: builtinNow})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := xmlsec1Verify(t, builtinCN(t), sp.SigningCerts[0]); err != nil {
		t.Fatalf("xmlsec1 does not verify the built-in metadata: %v\n%s", err, out)
	}
	// Sanity: the same check fails on a tampered copy.
	tampered := replaceOnce(t, builtinCN(t), `entityID="https://auth.huaweicloud.com/"`, `entityID="https://auth.huaweicloud.con/"`)
	if out, err := xmlsec1Verify(t, tampered, sp.SigningCerts[0]); err == nil {
		t.Fatalf("xmlsec1 verified a tampered file:\n%s", out)
	}
}

func TestLoadSPRefusesTamperedSignedDocument(t *testing.T) {
	for _, tc := range []struct{ name, old, new string }{
		{
			"ACS location",
			`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer"`,
			`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://autx.huaweicloud.com/authui/saml/SAMLAssertionConsumer"`,
		},
		{"entityID", `entityID="https://auth.huaweicloud.com/"`, `entityID="https://auth.huaweicloud.con/"`},
		{"WantAssertionsSigned", `WantAssertionsSigned="true"`, `WantAssertionsSigned="1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := replaceOnce(t, builtinCN(t), tc.old, tc.new)
			_, err := LoadSP("cn", doc, LoadOptions{Now: builtinNow})
			if err == nil || !strings.Contains(err.Error(), "signature does not verify") {
				t.Fatalf("err = %v, want a signature failure", err)
			}
		})
	}
}

func TestLoadSPUnsigned(t *testing.T) {
	doc := stripSignature(t, builtinCN(t))
	_, err := LoadSP("cn", doc, LoadOptions{Now: builtinNow, RequireSignature: true})
	if err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("RequireSignature: err = %v, want refusal of unsigned metadata", err)
	}
	sp, err := LoadSP("cn", doc, LoadOptions{Now: builtinNow})
	if err != nil {
		t.Fatalf("unsigned without RequireSignature: %v", err)
	}
	if sp.Signed {
		t.Error("Signed = true for an unsigned document")
	}
}

func TestLoadSPRefusesSignatureByAnotherKey(t *testing.T) {
	key, cert := freshPair(t)
	// Re-sign Huawei's document with a fresh key; the KeyDescriptors still
	// carry Huawei's certificate.
	resigned, err := SignMetadata(stripSignature(t, builtinCN(t)), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSP("cn", resigned, LoadOptions{Now: builtinNow}); err == nil {
		t.Error("accepted a signature whose KeyInfo certificate is not in the KeyDescriptors")
	}

	// Same, but the signature's KeyInfo claims Huawei's certificate.
	claimed := bytes.Replace(resigned, []byte(certB64(cert)), []byte(huaweiCertB64(t)), 1)
	if bytes.Equal(claimed, resigned) {
		t.Fatal("could not swap the KeyInfo certificate")
	}
	_, err = LoadSP("cn", claimed, LoadOptions{Now: builtinNow})
	if err == nil || !strings.Contains(err.Error(), "signature does not verify") {
		t.Errorf("err = %v, want a signature failure", err)
	}

	// Signed by a key that is only published for encryption.
	doc := spXML(keyDescriptor("signing", huaweiCertB64(t))+keyDescriptor("encryption", certB64(cert)),
		acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`))
	signed, err := SignMetadata(doc, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSP("test", signed, LoadOptions{Now: builtinNow}); err == nil {
		t.Error("accepted a signature made with an encryption-only key")
	}
}

func TestLoadSPRefusesWeakAlgorithms(t *testing.T) {
	key, cert := freshPair(t)
	doc := spXML(keyDescriptor("signing", certB64(cert)), acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`))

	sha1, err := signMetadata(doc, key, cert, dsig.RSASHA1SignatureMethod)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadSP("test", sha1, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "signed with rsa-sha1") {
		t.Errorf("rsa-sha1: err = %v, want refusal naming rsa-sha1", err)
	}

	// Control: the same document signed with rsa-sha256 loads.
	sha256, err := signMetadata(doc, key, cert, dsig.RSASHA256SignatureMethod)
	if err != nil {
		t.Fatal(err)
	}
	if sp, err := LoadSP("test", sha256, LoadOptions{DisallowSHA1Digest: true}); err != nil || !sp.Signed {
		t.Errorf("rsa-sha256: %v (signed %v)", err, sp != nil && sp.Signed)
	}

	// Huawei's SHA-1 reference digest: accepted by default, refused on demand.
	_, err = LoadSP("cn", builtinCN(t), LoadOptions{Now: builtinNow, DisallowSHA1Digest: true})
	if err == nil || !strings.Contains(err.Error(), "SHA-1") {
		t.Errorf("DisallowSHA1Digest: err = %v, want refusal naming SHA-1", err)
	}
}

func TestLoadSPCertificateExpiry(t *testing.T) {
	after := time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := LoadSP("cn", builtinCN(t), LoadOptions{Now: after})
	if err == nil {
		t.Fatal("expired certificate accepted")
	}
	for _, want := range []string{"expired", "2028-06-18", "allow_expired_certificate: true", "idp sp fetch --site cn"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "AllowExpired") {
		t.Errorf("error %q names the Go field, not the configuration key", err)
	}
	sp, err := LoadSP("cn", builtinCN(t), LoadOptions{Now: after, AllowExpired: true})
	if err != nil {
		t.Fatalf("AllowExpired: %v", err)
	}
	if !sp.Signed {
		t.Error("AllowExpired: Signed = false; the signature must still be verified")
	}
	// The override does not switch off signature checking.
	tampered := replaceOnce(t, builtinCN(t), `entityID="https://auth.huaweicloud.com/"`, `entityID="https://auth.huaweicloud.con/"`)
	if _, err := LoadSP("cn", tampered, LoadOptions{Now: after, AllowExpired: true}); err == nil {
		t.Error("AllowExpired accepted a tampered document")
	}

	// Before the certificate's validity: refused, pointing at the clock.
	before := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := LoadSP("cn", builtinCN(t), LoadOptions{Now: before}); err == nil || !strings.Contains(err.Error(), "clock") {
		t.Errorf("not-yet-valid certificate: err = %v", err)
	}
}

func TestLoadSPValidUntil(t *testing.T) {
	doc := replaceOnce(t, simpleSP(t, "https://sp.test/acs"), `ID="_sp1"`, `ID="_sp1" validUntil="2026-01-01T00:00:00Z"`)
	if _, err := LoadSP("test", doc, LoadOptions{Now: builtinNow}); err == nil || !strings.Contains(err.Error(), "validUntil") ||
		!strings.Contains(err.Error(), "allow_expired_certificate: true") || strings.Contains(err.Error(), "AllowExpired") {
		t.Errorf("err = %v, want validUntil refusal naming allow_expired_certificate", err)
	}
	if _, err := LoadSP("test", doc, LoadOptions{Now: builtinNow, AllowExpired: true}); err != nil {
		t.Errorf("AllowExpired: %v", err)
	}
}

func TestLoadSPACSLocations(t *testing.T) {
	for _, tc := range []struct {
		location string
		ok       bool
	}{
		{"https://sp.test/acs", true},
		{"https://sp.test:8443/acs?x=1", true},
		{"http://127.0.0.1/acs", true},
		{"http://127.0.0.1:8081/acs", true},
		{"http://127.5.6.7:8081/acs", true},
		{"http://localhost:8081/acs", true},
		{"http://[::1]:8081/acs", true},
		{"http://sp.test/acs", false},
		{"http://128.0.0.1/acs", false},
		{"http://localhost.evil.test/acs", false},
		{"http://127.0.0.1.evil.test/acs", false},
		{"https://user:pw@sp.test/acs", false},
		{"https://sp.test@evil.test/acs", false},
		{"https://sp.test/acs#frag", false},
		{"https://sp.test/acs#", false},
		{"javascript:alert(1)", false},
		{"ftp://sp.test/acs", false},
		{"/acs", false},
		{"//sp.test/acs", false},
		{"https:///acs", false},
		{"https://sp.test/a cs", false},
		{" https://sp.test/acs", false},
		{"", false},
	} {
		t.Run(tc.location, func(t *testing.T) {
			doc := spXML(keyDescriptor("signing", huaweiCertB64(t)),
				acs(saml.BindingHTTPPost, escapeAttr(tc.location), ` index="0"`))
			sp, err := LoadSP("test", doc, LoadOptions{Now: builtinNow})
			if tc.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if sp.DefaultACS.Location != tc.location {
					t.Errorf("DefaultACS = %q", sp.DefaultACS.Location)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "AssertionConsumerService #1 Location") {
				t.Errorf("error %q does not point at the ACS Location", err)
			}
		})
	}

	// A non-POST ACS is checked as well, though not offered.
	doc := spXML(keyDescriptor("signing", huaweiCertB64(t)),
		acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`),
		acs(saml.BindingHTTPArtifact, "http://sp.test/artifact", ` index="1"`))
	if _, err := LoadSP("test", doc, LoadOptions{Now: builtinNow}); err == nil || !strings.Contains(err.Error(), "#2") {
		t.Errorf("http artifact ACS: err = %v", err)
	}
}

func escapeAttr(s string) string {
	return strings.NewReplacer("&", "&amp;", `"`, "&quot;", "<", "&lt;").Replace(s)
}

func TestLoadSPDefaultACS(t *testing.T) {
	kd := keyDescriptor("signing", huaweiCertB64(t))
	for _, tc := range []struct {
		name      string
		endpoints []string
		want      Endpoint
	}{
		{
			"isDefault wins",
			[]string{
				acs(saml.BindingHTTPPost, "https://sp.test/a", ` index="0"`),
				acs(saml.BindingHTTPPost, "https://sp.test/b", ` index="1" isDefault="true"`),
			},
			Endpoint{saml.BindingHTTPPost, "https://sp.test/b", 1, true},
		},
		{
			"lowest index",
			[]string{
				acs(saml.BindingHTTPPost, "https://sp.test/a", ` index="5"`),
				acs(saml.BindingHTTPPost, "https://sp.test/b", ` index="2" isDefault="false"`),
				acs(saml.BindingHTTPPost, "https://sp.test/c", ` index="3"`),
			},
			Endpoint{saml.BindingHTTPPost, "https://sp.test/b", 2, false},
		},
		{
			"first",
			[]string{
				acs(saml.BindingHTTPPost, "https://sp.test/a", ``),
				acs(saml.BindingHTTPPost, "https://sp.test/b", ``),
			},
			Endpoint{saml.BindingHTTPPost, "https://sp.test/a", -1, false},
		},
		{
			"non-POST default ignored",
			[]string{
				acs(saml.BindingHTTPArtifact, "https://sp.test/art", ` index="0" isDefault="true"`),
				acs(saml.BindingHTTPPost, "https://sp.test/post", ` index="1"`),
			},
			Endpoint{saml.BindingHTTPPost, "https://sp.test/post", 1, false},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, err := LoadSP("test", spXML(kd, tc.endpoints...), LoadOptions{Now: builtinNow})
			if err != nil {
				t.Fatal(err)
			}
			if sp.DefaultACS != tc.want {
				t.Errorf("DefaultACS = %+v, want %+v", sp.DefaultACS, tc.want)
			}
			for _, e := range sp.ACS {
				if e.Binding != saml.BindingHTTPPost {
					t.Errorf("ACS lists a %s endpoint", e.Binding)
				}
				if got, ok := sp.ACSByURL(e.Location); !ok || got != e {
					t.Errorf("ACSByURL(%q) = %+v, %v", e.Location, got, ok)
				}
			}
		})
	}
	// The artifact endpoint is not reachable by URL or index.
	sp, err := LoadSP("test", spXML(kd,
		acs(saml.BindingHTTPArtifact, "https://sp.test/art", ` index="0"`),
		acs(saml.BindingHTTPPost, "https://sp.test/post", ` index="1"`)), LoadOptions{Now: builtinNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := sp.ACSByURL("https://sp.test/art"); ok {
		t.Error("ACSByURL found a non-POST endpoint")
	}
	if _, ok := sp.ACSByIndex(0); ok {
		t.Error("ACSByIndex found a non-POST endpoint")
	}
}

func TestLoadSPRefusesBadStructure(t *testing.T) {
	cert := huaweiCertB64(t)
	kd := keyDescriptor("signing", cert)
	post := acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`)
	good := string(spXML(kd, post))

	for _, tc := range []struct {
		name string
		doc  string
		want string
	}{
		{
			"EntitiesDescriptor",
			`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` +
				strings.TrimPrefix(good, `<?xml version="1.0" encoding="UTF-8"?>`) + `</md:EntitiesDescriptor>`,
			"federation aggregate",
		},
		{"wrong namespace", strings.Replace(good, `xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"`, `xmlns:md="urn:example"`, 1), "not SAML 2.0 metadata"},
		{"no SPSSODescriptor", strings.NewReplacer("md:SPSSODescriptor", "md:Other").Replace(good), "no md:SPSSODescriptor"},
		{"IdP metadata", strings.NewReplacer("md:SPSSODescriptor", "md:IDPSSODescriptor").Replace(good), "identity provider"},
		{
			"two SPSSODescriptors",
			strings.Replace(good, "</md:EntityDescriptor>", `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`+kd+post+`</md:SPSSODescriptor></md:EntityDescriptor>`, 1),
			"2 md:SPSSODescriptor",
		},
		{"no entityID", strings.Replace(good, ` entityID="https://sp.test/"`, ``, 1), "no entityID"},
		{"empty entityID", strings.Replace(good, `entityID="https://sp.test/"`, `entityID=""`, 1), "no entityID"},
		{"not SAML 2.0", strings.Replace(good, `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"`, `protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol"`, 1), "does not include SAML 2.0"},
		{"no ACS", string(spXML(kd)), "no AssertionConsumerService with the HTTP-POST binding"},
		{"only redirect ACS", string(spXML(kd, acs(saml.BindingHTTPRedirect, "https://sp.test/acs", ` index="0"`))), "HTTP-POST"},
		{"no certificate", string(spXML("", post)), "no signing certificate"},
		{"encryption-only certificate", string(spXML(keyDescriptor("encryption", cert), post)), "no signing certificate"},
		{"bad use", string(spXML(keyDescriptor("both", cert), post)), `use="both"`},
		{"bad base64", string(spXML(keyDescriptor("signing", "!!!"), post)), "base64"},
		{"not a certificate", string(spXML(keyDescriptor("signing", base64.StdEncoding.EncodeToString([]byte("hello"))), post)), "not a valid X.509"},
		{"KeyInfo without certificate", string(spXML(`<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:KeyName>k</ds:KeyName></ds:KeyInfo></md:KeyDescriptor>`, post)), "no ds:KeyInfo/ds:X509Data/ds:X509Certificate"},
		{"duplicate index", string(spXML(kd, post, acs(saml.BindingHTTPPost, "https://sp.test/acs2", ` index="0"`))), `both have index="0"`},
		{"bad index", string(spXML(kd, acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="-1"`))), `index="-1"`},
		{"bad boolean", strings.Replace(good, `AuthnRequestsSigned="true"`, `AuthnRequestsSigned="yes"`, 1), "not a boolean"},
		{"ACS without binding", string(spXML(kd, `<md:AssertionConsumerService Location="https://sp.test/acs" index="0"/>`)), "no Binding"},
		{"nested signature", strings.Replace(good, "<md:NameIDFormat>", `<ds:Signature/><md:NameIDFormat>`, 1), "below the EntityDescriptor"},
		{"two signatures", strings.Replace(good, "<md:SPSSODescriptor", `<ds:Signature/><ds:Signature/><md:SPSSODescriptor`, 1), "2 ds:Signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadSP("test", []byte(tc.doc), LoadOptions{Now: builtinNow})
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), `metadata: SP metadata for site "test": `) {
				t.Errorf("error %q does not name the site", err)
			}
		})
	}
	if _, err := LoadSP("test", []byte(good), LoadOptions{Now: builtinNow}); err != nil {
		t.Fatalf("control document refused: %v", err)
	}
	if _, err := LoadSP("", []byte(good), LoadOptions{}); err == nil {
		t.Error("empty site name accepted")
	}
}

// A signed EntityDescriptor wrapped inside an attacker's one (signature
// wrapping, "On Breaking SAML"): the outer element is what would be used,
// and it is not what was signed.
func TestLoadSPRefusesSignatureWrapping(t *testing.T) {
	inner := string(bytes.TrimPrefix(builtinCN(t), []byte(`<?xml version="1.0" encoding="UTF-8"?>`)))
	sig := signatureRE.FindString(inner)
	evil := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="M349b8f2417d474387360e922ef39baa" entityID="https://auth.huaweicloud.com/">` +
		sig +
		`<md:Extensions>` + signatureRE.ReplaceAllString(inner, "") + `</md:Extensions>` +
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
		keyDescriptor("signing", huaweiCertB64(t)) +
		acs(saml.BindingHTTPPost, "https://evil.test/acs", ` index="0"`) +
		`</md:SPSSODescriptor></md:EntityDescriptor>`
	_, err := LoadSP("cn", []byte(evil), LoadOptions{Now: builtinNow})
	if err == nil || !strings.Contains(err.Error(), "signature does not verify") {
		t.Fatalf("err = %v, want a signature failure", err)
	}
}

func TestLoadSPRefusesUnsafeXML(t *testing.T) {
	good := string(simpleSP(t, "https://sp.test/acs"))
	body := strings.TrimPrefix(good, `<?xml version="1.0" encoding="UTF-8"?>`)
	deep := strings.Repeat("<x>", 70) + strings.Repeat("</x>", 70)
	many := strings.Repeat("<x/>", 10001)

	for _, tc := range []struct {
		name string
		doc  string
		want string
	}{
		{"DOCTYPE", `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE md:EntityDescriptor>` + body, "DOCTYPE"},
		{"internal entity", `<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE x [<!ENTITY e "https://evil.test/acs">]>` + strings.Replace(body, "https://sp.test/acs", "&e;", 1), "DOCTYPE"},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd">` + body, "DOCTYPE"},
		{"processing instruction", `<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet href="x"?>` + body, "processing instruction"},
		{"late XML declaration", ` <?xml version="1.0" encoding="UTF-8"?>` + body, "processing instruction"},
		{"PI inside", strings.Replace(good, "<md:NameIDFormat>", "<?php x?><md:NameIDFormat>", 1), "processing instruction"},
		{"XInclude", strings.Replace(good, "<md:NameIDFormat>", `<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/><md:NameIDFormat>`, 1), "XInclude"},
		{"XInclude fallback", strings.Replace(good, "<md:NameIDFormat>", `<y:fallback xmlns:y="http://www.w3.org/2001/XInclude"/><md:NameIDFormat>`, 1), "XInclude"},
		{"too deep", strings.Replace(good, "<md:NameIDFormat>", "<md:Extensions>"+deep+"</md:Extensions><md:NameIDFormat>", 1), "deeper than 64"},
		{"too many elements", strings.Replace(good, "<md:NameIDFormat>", "<md:Extensions>"+many+"</md:Extensions><md:NameIDFormat>", 1), "more than 10000 elements"},
		{
			"duplicate attribute",
			strings.Replace(good, `Location="https://sp.test/acs"`, `Location="https://sp.test/acs" Location="https://evil.test/acs"`, 1),
			"duplicate attribute",
		},
		{
			"duplicate attribute through two prefixes",
			strings.Replace(good, `<md:AssertionConsumerService `, `<md:AssertionConsumerService xmlns:a="urn:x" xmlns:b="urn:x" a:k="1" b:k="2" `, 1),
			"duplicate attribute",
		},
		{"empty attribute local name", strings.Replace(good, `<md:NameIDFormat>`, `<md:NameIDFormat x:="1">`, 1), "malformed name"},
		{"other encoding", strings.Replace(good, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1), "malformed XML"},
		{"undefined entity", strings.Replace(good, "https://sp.test/acs", "&e;", 1), "malformed XML"},
		{"not XML", "hello", "no XML element"},
		{"empty", "", "empty"},
		{"truncated", good[:len(good)-10], "malformed XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadSP("test", []byte(tc.doc), LoadOptions{Now: builtinNow})
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}

	// Within the limits, the same constructs load.
	for name, doc := range map[string]string{
		"BOM":                                   "\xEF\xBB\xBF" + good,
		"no XML declaration":                    body,
		"comments":                              strings.Replace(good, "<md:NameIDFormat>", "<!-- c --><md:NameIDFormat>", 1),
		"depth 64":                              strings.Replace(good, "<md:NameIDFormat>", "<md:Extensions>"+strings.Repeat("<x>", 61)+strings.Repeat("</x>", 61)+"</md:Extensions><md:NameIDFormat>", 1),
		"same local name, different namespaces": strings.Replace(good, `<md:AssertionConsumerService `, `<md:AssertionConsumerService xmlns:a="urn:x" xmlns:b="urn:y" a:k="1" b:k="2" `, 1),
	} {
		if _, err := LoadSP("test", []byte(doc), LoadOptions{Now: builtinNow}); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

func TestLoadSPSizeLimit(t *testing.T) {
	good := string(simpleSP(t, "https://sp.test/acs"))
	pad := "<!--" + strings.Repeat("x", MaxMetadataSize) + "-->"
	doc := strings.Replace(good, "<md:NameIDFormat>", pad+"<md:NameIDFormat>", 1)
	_, err := LoadSP("test", []byte(doc), LoadOptions{Now: builtinNow})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d-byte limit", MaxMetadataSize)) {
		t.Fatalf("err = %v, want size refusal", err)
	}
}

func TestLoadSPMultipleSigningCerts(t *testing.T) {
	_, cert := freshPair(t)
	doc := spXML(keyDescriptor("signing", huaweiCertB64(t))+keyDescriptor("", certB64(cert))+keyDescriptor("signing", huaweiCertB64(t)),
		acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`))
	sp, err := LoadSP("test", doc, LoadOptions{Now: builtinNow})
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.SigningCerts) != 2 {
		t.Fatalf("%d signing certificates, want 2 (duplicates removed)", len(sp.SigningCerts))
	}
	if !sp.SigningCerts[1].Equal(cert) {
		t.Error("the KeyDescriptor without use is not a signing certificate")
	}
	if len(sp.EncryptionCerts) != 1 || !sp.EncryptionCerts[0].Equal(cert) {
		t.Error("the KeyDescriptor without use is not an encryption certificate")
	}
	// The fresh certificate expires first.
	if !sp.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("NotAfter = %v, want the earliest expiry %v", sp.NotAfter, cert.NotAfter)
	}
	// Once it has expired, the document is refused although Huawei's is valid.
	if _, err := LoadSP("test", doc, LoadOptions{Now: cert.NotAfter.Add(time.Minute)}); err == nil || !strings.Contains(err.Error(), "mock-iam") {
		t.Errorf("err = %v, want expiry of the mock-iam certificate", err)
	}
}

func TestNilSPLookups(t *testing.T) {
	var sp *SP
	if _, ok := sp.ACSByURL("x"); ok {
		t.Error("nil SP ACSByURL matched")
	}
	if _, ok := sp.ACSByIndex(0); ok {
		t.Error("nil SP ACSByIndex matched")
	}
}
