package metadata

import (
	"net/url"
	"regexp"
	"testing"
	"time"

	"hcidp/huawei"
	"hcidp/keys"
	"hcidp/saml"
)

// maxFuzzMetadata bounds the documents FuzzLoadSPMetadata parses.
//
// Why the target once ran ~18 inputs and then 0 a second: the fuzzing
// engine minimises every new interesting input before it goes on, by
// re-running the target on shortened copies, and the last pass of its
// minimiser tries every sub-slice (O(n^2) runs). LoadSP makes three XML
// passes (pre-scan, round-trip validator, etree) and often a signature
// check, milliseconds on a 10 KiB document, so minimising one input derived
// from Huawei's file would take hours and stops only at -fuzzminimizetime
// (60 s by default): the workers spent whole runs in encoding/xml under
// internal/fuzz.minimizeBytes, counting no executions. scripts/fuzz.sh
// therefore bounds minimisation (run by hand with -fuzzminimizetime=1s
// too), and the seeds are a few times smaller and cheaper than Huawei's
// file, with this bound on what the mutator grows them to. The size limit
// itself is tested by TestLoadSPSizeLimit, the built-in file by
// TestLoadSPBuiltinHuaweiCN.
const maxFuzzMetadata = 4 << 10

// signatureKeyInfoRE finds the ds:KeyInfo of the enveloped signature. LoadSP
// reads the keys from the KeyDescriptors, so the seed can do without it.
var signatureKeyInfoRE = regexp.MustCompile(`(?s)(<ds:Signature[ >].*?)<ds:KeyInfo[ >].*?</ds:KeyInfo>`)

// FuzzLoadSPMetadata: LoadSP never panics, and metadata it accepts meets
// docs/threat-model.md "SP metadata loading": one entity ID, at least one HTTP-POST
// ACS over https (http only on loopback) without user info, at least one
// RSA signing certificate, and an unexpired one at the given time; with
// pins, only pinned signing keys.
func FuzzLoadSPMetadata(f *testing.F) {
	key, cert, err := keys.Generate(2048, "sp.test", 10*365*24*time.Hour, builtinNow.Add(-time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	c := certB64(cert)
	pins := []string{KeyPin(cert)}
	simple := spXML(keyDescriptor("signing", c), acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0" isDefault="true"`))
	signed, err := SignMetadata(simple, key, cert)
	if err != nil {
		f.Fatal(err)
	}
	signed = signatureKeyInfoRE.ReplaceAll(signed, []byte("$1"))
	if _, err := LoadSP("cn", signed, LoadOptions{RequireSignature: true, Now: builtinNow, Pins: pins}); err != nil {
		f.Fatalf("the signed seed does not load: %v", err)
	}
	for _, s := range [][]byte{simple, signed} {
		if len(s) > maxFuzzMetadata {
			f.Fatalf("a %d-byte seed is over the %d-byte bound", len(s), maxFuzzMetadata)
		}
	}
	f.Add(signed, true, true)
	f.Add(signed, false, false)
	f.Add(simple, false, true)
	f.Add(simple, true, false)
	f.Add(spXML(keyDescriptor("encryption", c), acs(saml.BindingHTTPPost, "https://sp.test/acs", "")), false, false)
	f.Add(spXML(keyDescriptor("", c), acs(saml.BindingHTTPPost, "http://127.0.0.1:9/acs", ""), acs(saml.BindingHTTPPost, "https://u@sp.test/acs", "")), false, false)
	f.Add(spXML(keyDescriptor("signing", c), acs("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "https://sp.test/r", ` index="1"`),
		acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="1"`)), false, false)
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE md [<!ENTITY e SYSTEM "http://evil.example/">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&e;"/>`), false, false)
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:EntityDescriptor entityID="a"/><md:EntityDescriptor entityID="b"/></md:EntitiesDescriptor>`), false, false)
	f.Fuzz(func(t *testing.T, doc []byte, requireSig, pinned bool) {
		if len(doc) > maxFuzzMetadata {
			return
		}
		opts := LoadOptions{RequireSignature: requireSig, Now: builtinNow}
		if pinned {
			opts.Pins = pins
		}
		sp, err := LoadSP("cn", doc, opts)
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
		if pinned {
			for _, c := range sp.SigningCerts {
				if KeyPin(c) != pins[0] {
					t.Fatalf("accepted the unpinned signing key %s", KeyPin(c))
				}
			}
		}
		if len(sp.ACS) == 0 {
			t.Fatal("accepted metadata without an HTTP-POST ACS")
		}
		for _, e := range append(sp.ACS, sp.DefaultACS) {
			u, err := url.Parse(e.Location)
			if err != nil || e.Binding != saml.BindingHTTPPost || u.User != nil || u.Fragment != "" ||
				!(u.Scheme == "https" || (u.Scheme == "http" && huawei.IsLoopbackHost(u.Hostname()))) {
				t.Fatalf("accepted ACS %+v", e)
			}
		}
	})
}
