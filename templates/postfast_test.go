package templates

import (
	"bytes"
	"strings"
	"testing"
)

// TestWritePostMatchesTemplate: the spliced page is byte for byte what
// html/template renders, for values html/template leaves as they are, and
// escapes markup in RelayState and the ACS URL.
func TestWritePostMatchesTemplate(t *testing.T) {
	r, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "zh-CN"} {
		for _, relay := range []bool{false, true} {
			d := PostData{Page: Page{Lang: lang, L: Messages(lang), Nonce: "bm9uY2U"},
				ACS: "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer", SAMLResponse: "PHNhbWwycDpSZXNwb25zZT4",
				RelayState: "rs_0123", HasRelay: relay}
			var want, got bytes.Buffer
			if err := r.t.ExecuteTemplate(&want, "post.html", d); err != nil {
				t.Fatal(err)
			}
			r.WritePost(&got, d)
			if got.String() != want.String() {
				t.Errorf("%s relay=%v:\n got: %s\nwant: %s", lang, relay, got.String(), want.String())
			}
		}
	}
	var b bytes.Buffer
	r.WritePost(&b, PostData{Page: Page{Lang: "en"}, ACS: `https://x.example/a"b<c>`, SAMLResponse: "QQ==",
		RelayState: `"><script>alert(1)</script>`, HasRelay: true})
	out := b.String()
	if strings.Contains(out, "<script>alert") || strings.Contains(out, `a"b`) || !strings.Contains(out, "&#34;&gt;&lt;script&gt;") {
		t.Fatalf("values not escaped:\n%s", out)
	}
}

// TestPostTemplateOverrideNeedsFields: an override without the required
// fields is refused at start.
func TestPostTemplateOverrideNeedsFields(t *testing.T) {
	if _, err := splitPost("<form action=\"zqxHCIDPacs1zqx\"></form>", false); err == nil {
		t.Fatal("a post page without SAMLResponse was accepted")
	}
	// A value outside a double-quoted attribute would be mis-escaped.
	if _, err := splitPost(`<form action="zqxHCIDPacs1zqx"><input value="zqxHCIDPresp2zqx"><script>var r="zqxHCIDPrelay3zqx"</script>`, true); err == nil {
		t.Fatal("RelayState inside a script was accepted")
	}
	if _, err := splitPost(`<form action=zqxHCIDPacs1zqx><input value="zqxHCIDPresp2zqx">`, false); err == nil {
		t.Fatal("an unquoted attribute was accepted")
	}
}
