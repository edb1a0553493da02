package templates

import (
	"maps"
	"slices"
	"testing"
)

// TestCatalogsHaveTheSameKeys: every page exists in both languages, so a
// message key missing in one catalogue would show an empty text.
func TestCatalogsHaveTheSameKeys(t *testing.T) {
	en := slices.Sorted(maps.Keys(catalog["en"]))
	for lang, m := range catalog {
		for _, k := range en {
			if m[k] == "" {
				t.Errorf("%s: message %q is missing", lang, k)
			}
		}
		if len(m) != len(en) {
			t.Errorf("%s has %d messages, en has %d", lang, len(m), len(en))
		}
	}
}
