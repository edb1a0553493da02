package metadata

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzLoadSPMetadata: LoadSP never panics, and metadata it accepts meets
// SECURITY.md "SP metadata loading": one entity ID, at least one HTTP-POST
// ACS over https (http only on loopback) without user info, at least one
// RSA signing certificate, and an unexpired one at the given time.
func FuzzLoadSPMetadata(f *testing.F) {
	data, ok := BuiltinSPMetadata("cn")
	if !ok {
		f.Fatal("no built-in metadata for cn")
	}
	f.Add(data, false)
	m := firstCertRE.FindSubmatch(data)
	cert := strings.Join(strings.Fields(string(m[1])), "")
	simple := spXML(keyDescriptor("signing", cert), acs(BindingHTTPPost, "https://sp.test/acs", ` index="0" isDefault="true"`))
	f.Add(simple, false)
	f.Add(simple, true)
	f.Add(spXML(keyDescriptor("encryption", cert), acs(BindingHTTPPost, "https://sp.test/acs", "")), false)
	f.Add(spXML(keyDescriptor("", cert), acs(BindingHTTPPost, "http://127.0.0.1:9/acs", ""), acs(BindingHTTPPost, "https://u@sp.test/acs", "")), false)
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE md [<!ENTITY e SYSTEM "http://evil.example/">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&e;"/>`), false)
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:EntityDescriptor entityID="a"/><md:EntityDescriptor entityID="b"/></md:EntitiesDescriptor>`), false)
	f.Fuzz(func(t *testing.T, doc []byte, requireSig bool) {
		sp, err := LoadSP("cn", doc, LoadOptions{RequireSignature: requireSig, Now: builtinNow})
		if err != nil {
			if sp != nil {
				t.Fatal("an error with a result")
			}
			return
		}
		if sp.EntityID == "" || len(sp.EntityID) > maxEntityIDLen {
			t.Fatalf("accepted entityID %q", sp.EntityID)
		}
		if requireSig && !sp.Signed {
			t.Fatal("accepted unsigned metadata although a signature is required")
		}
		if len(sp.SigningCerts) == 0 || builtinNow.After(sp.NotAfter) {
			t.Fatalf("accepted %d signing certificates, NotAfter %s", len(sp.SigningCerts), sp.NotAfter)
		}
		if len(sp.ACS) == 0 {
			t.Fatal("accepted metadata without an HTTP-POST ACS")
		}
		for _, e := range append(sp.ACS, sp.DefaultACS) {
			u, err := url.Parse(e.Location)
			if err != nil || e.Binding != BindingHTTPPost || u.User != nil || u.Fragment != "" ||
				!(u.Scheme == "https" || (u.Scheme == "http" && IsLoopbackHost(u.Hostname()))) {
				t.Fatalf("accepted ACS %+v", e)
			}
		}
	})
}
