package metadata

import (
	"bytes"
	"hcidp/saml"
	"strings"
	"testing"
	"time"
)

func TestSignMetadataShape(t *testing.T) {
	key, cert := freshPair(t)
	doc := spXML(keyDescriptor("signing", certB64(cert)), acs(saml.BindingHTTPPost, "http://127.0.0.1:8081/authui/saml/SAMLAssertionConsumer", ` index="0" isDefault="true"`))
	signed, err := SignMetadata(doc, key, cert)
	if err != nil {
		t.Fatalf("SignMetadata: %v", err)
	}

	// Shaped like Huawei's: the Signature is the first child of the root.
	afterRoot := signed[bytes.Index(signed, []byte("<md:EntityDescriptor")):]
	afterRoot = afterRoot[bytes.IndexByte(afterRoot, '>')+1:]
	if !bytes.HasPrefix(afterRoot, []byte("<ds:Signature")) {
		t.Errorf("ds:Signature is not the first child of EntityDescriptor:\n%.200s", afterRoot)
	}
	for _, want := range []string{
		`<ds:CanonicalizationMethod Algorithm="` + saml.AlgExcC14N + `"/>`,
		`<ds:SignatureMethod Algorithm="` + saml.AlgRSASHA256 + `"/>`,
		`<ds:Reference URI="#_sp1">`,
		`<ds:Transform Algorithm="` + saml.AlgEnvelopedSignature + `"/>`,
		`<ds:Transform Algorithm="` + saml.AlgExcC14N + `"/>`,
		`<ds:DigestMethod Algorithm="` + saml.AlgDigestSHA256 + `"/>`,
		certB64(cert),
	} {
		if !bytes.Contains(signed, []byte(want)) {
			t.Errorf("signed document lacks %s", want)
		}
	}
	if bytes.Contains(signed, []byte("PRIVATE")) {
		t.Error("signed document contains private key material")
	}
	if bytes.Count(signed, []byte("<ds:Signature ")) != 1 {
		t.Error("want exactly one signature")
	}

	sp, err := LoadSP("mock", signed, LoadOptions{Now: time.Now(), RequireSignature: true, DisallowSHA1Digest: true})
	if err != nil {
		t.Fatalf("LoadSP(signed): %v", err)
	}
	if !sp.Signed || sp.DefaultACS.Location != "http://127.0.0.1:8081/authui/saml/SAMLAssertionConsumer" {
		t.Errorf("loaded %+v", sp)
	}

	// Apart from the inserted Signature, the document is written back as
	// it came in: comments, whitespace and namespace declarations included.
	withComment := bytes.Replace(doc, []byte("<md:NameIDFormat>"), []byte("<!-- kept --><md:NameIDFormat>"), 1)
	signed2, err := SignMetadata(withComment, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if got := stripSignature(t, signed2); !bytes.Equal(got, withComment) {
		t.Errorf("SignMetadata changed the document beyond adding the signature:\n got %s\nwant %s", got, withComment)
	}
	if _, err := LoadSP("mock", signed2, LoadOptions{RequireSignature: true}); err != nil {
		t.Errorf("LoadSP(signed with comment): %v", err)
	}

	// Huawei's own document, stripped and re-signed with a key its
	// KeyDescriptors do not hold, must not load.
	resigned, err := SignMetadata(stripSignature(t, builtinCN(t)), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSP("cn", resigned, LoadOptions{Now: builtinNow}); err == nil {
		t.Error("the re-signed Huawei document loaded although its KeyDescriptors do not hold the signing key")
	}
}

// TestSignMetadataXmlsec1 checks SignMetadata's output with an independent
// implementation.
func TestSignMetadataXmlsec1(t *testing.T) {
	requireXmlsec1(t)
	key, cert := freshPair(t)
	doc := spXML(keyDescriptor("signing", certB64(cert)), acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`))
	for name, in := range map[string][]byte{
		"test document":       doc,
		"with a comment":      bytes.Replace(doc, []byte("<md:NameIDFormat>"), []byte("<!-- kept --><md:NameIDFormat>"), 1),
		"Huawei's, re-signed": stripSignature(t, builtinCN(t)),
	} {
		signed, err := SignMetadata(in, key, cert)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out, err := xmlsec1Verify(t, signed, cert); err != nil {
			t.Errorf("%s: xmlsec1 does not verify SignMetadata's output: %v\n%s", name, err, out)
		}
	}
}

func TestSignMetadataRejects(t *testing.T) {
	key, cert := freshPair(t)
	doc := spXML(keyDescriptor("signing", certB64(cert)), acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`))

	for _, tc := range []struct {
		name string
		doc  []byte
		want string
	}{
		{"no ID", bytes.Replace(doc, []byte(` ID="_sp1"`), nil, 1), "needs an ID attribute"},
		{"bad ID", bytes.Replace(doc, []byte(`ID="_sp1"`), []byte(`ID="1 x"`), 1), "needs an ID attribute"},
		{"already signed", builtinCN(t), "already contains a ds:Signature"},
		{"not metadata", []byte(`<x ID="_a"/>`), "not md:EntityDescriptor"},
		{"DOCTYPE", append([]byte(`<!DOCTYPE x>`), doc[bytes.IndexByte(doc, '\n')+1:]...), "DOCTYPE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SignMetadata(tc.doc, key, cert)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := SignMetadata(doc, nil, cert); err == nil {
		t.Error("nil key accepted")
	}
	sp, err := LoadSP("cn", builtinCN(t), LoadOptions{Now: builtinNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SignMetadata(doc, key, sp.SigningCerts[0]); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("mismatched certificate: err = %v", err)
	}
}
