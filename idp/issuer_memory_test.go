package idp

import (
	"runtime"
	"strings"
	"testing"
)

// TestIssuerTextReadInLinearMemory: the reader joins the Issuer's text
// runs; a comment or CDATA section between every character makes 16,000
// runs in a 128 KiB request, and joining them with += copies the text so
// far each time (about 128 MB allocated for one request; xml.Unmarshal,
// which the reader replaced, appends to one buffer). What one request may
// allocate must stay proportional to its size.
func TestIssuerTextReadInLinearMemory(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>`)
	for b.Len() < maxInflatedRequest-64 {
		b.WriteString("a<!---->")
	}
	b.WriteString(`</saml:Issuer></samlp:AuthnRequest>`)
	doc := []byte(b.String())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	req, ref := parseAuthnRequest(doc)
	runtime.ReadMemStats(&after)
	if ref != nil {
		t.Fatalf("refused: %v", ref)
	}
	if n := strings.Count(req.Issuer.Value, "a"); n < 16000 {
		t.Fatalf("Issuer has %d characters", n)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(doc)); got > limit {
		t.Errorf("reading a %d-byte AuthnRequest allocated %d bytes, more than %d", len(doc), got, limit)
	}
}
