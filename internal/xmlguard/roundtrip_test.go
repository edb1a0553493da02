package xmlguard

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	validator "github.com/mattermost/xml-roundtrip-validator"
)

// FuzzScanImpliesRoundTrip: whatever Check accepts, encoding/xml reads back
// unchanged after writing it (github.com/mattermost/xml-roundtrip-validator,
// the class of bugs behind CVE-2020-15216 and CVE-2020-27846). Check no
// longer runs the validator: its single pass refuses what the validator
// would, at a tenth of the cost. This target is the proof, with the
// validator as the oracle.
func FuzzScanImpliesRoundTrip(f *testing.F) {
	f.Add([]byte(good))
	for _, s := range roundTripSeeds {
		f.Add([]byte(s))
	}
	for _, glob := range []string{"../../idp/testdata/*.xml", "../../metadata/testdata/*.xml", "../../server/testdata/*.xml"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	l := Limits{MaxBytes: 64 << 10, MaxDepth: 32, MaxElements: 1024}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if Check(doc, l) != nil {
			return
		}
		if err := validator.Validate(bytes.NewReader(doc)); err != nil {
			t.Fatalf("Check accepted a document that does not round-trip: %v\n%q", err, doc)
		}
	})
}

// roundTripSeeds are documents that do not round-trip or that XML
// Namespaces forbids: Check refuses every one
// (TestCheckRefusesWhatDoesNotRoundTrip).
var roundTripSeeds = []string{
	`<a><!-- x -- y --></a>`,
	`<a><!-- x ---></a>`,
	`<a xmlns:x=""/>`,
	`<a xmlns:xmlns="urn:x"/>`,
	`<a xmlns:xml="urn:x"/>`,
	`<a:b:c xmlns:a="urn:a"/>`,
	`<a b:c:d="1" xmlns:b="urn:b"/>`,
	`<a xmlns:="urn:x"/>`,
	`<A:0 A00000=""/>`,
	`<a x:0="" xmlns:x="urn:x"/>`,
	`<a xmlns:0="urn:x"/>`,
	`<a xmlns="http://www.w3.org/2000/xmlns/"/>`,
	`<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>`,
}

func TestCheckRefusesWhatDoesNotRoundTrip(t *testing.T) {
	l := Limits{MaxBytes: 4096, MaxDepth: 8, MaxElements: 64}
	for _, doc := range roundTripSeeds {
		if err := Check([]byte(doc), l); err == nil {
			t.Errorf("%q: accepted", doc)
		}
	}
}
