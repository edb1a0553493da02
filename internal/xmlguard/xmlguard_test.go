package xmlguard

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const good = `<?xml version="1.0" encoding="UTF-8"?>
<r:Root xmlns:r="urn:r" xmlns:a="urn:a" ID="_1" a:k="v"><r:A>text</r:A><r:B/><!-- comment --></r:Root>`

var loose = Limits{MaxBytes: 4096, MaxDepth: 4, MaxElements: 6}

func TestCheck(t *testing.T) {
	strict := loose
	strict.UniqueRootChildren, strict.UniqueAttributeLocalNames = true, true
	tests := []struct {
		name   string
		doc    string
		limits Limits
		reason string // "" = accepted
	}{
		{"good", good, loose, ""},
		{"good strict", good, strict, ""},
		{"no declaration", strings.TrimPrefix(good, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"), loose, ""},
		{"too large", good + strings.Repeat(" ", 4096), loose, ReasonSize},
		{"invalid UTF-8", strings.Replace(good, "text", "te\xffxt", 1), loose, ReasonCharset},
		{"control character", strings.Replace(good, "text", "te\x01xt", 1), loose, ReasonCharset},
		{"DOCTYPE", strings.Replace(good, "<r:Root", `<!DOCTYPE r:Root><r:Root`, 1), loose, ReasonDoctype},
		{"entity", strings.Replace(good, "<r:Root", `<!DOCTYPE r [<!ENTITY e "x">]><r:Root`, 1), loose, ReasonDoctype},
		{"processing instruction", strings.Replace(good, "<r:A>", `<?php x?><r:A>`, 1), loose, ReasonProcInst},
		{"late declaration", " " + good, loose, ReasonProcInst},
		{"XInclude", strings.Replace(good, "<r:B/>", `<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"/>`, 1), loose, ReasonXInclude},
		{"other encoding", strings.Replace(good, "UTF-8", "ISO-8859-1", 1), loose, ReasonMalformed},
		{"too deep", strings.Replace(good, "<r:B/>", "<x><y><z><w/></z></y></x>", 1), loose, ReasonLimits},
		{"too many elements", strings.Replace(good, "<r:B/>", "<x/><x/><x/><x/><x/>", 1), loose, ReasonLimits},
		{"duplicate attribute", strings.Replace(good, `ID="_1"`, `ID="_1" ID="_2"`, 1), loose, ReasonDuplicateAttribute},
		{"duplicate attribute through two prefixes", strings.Replace(good, `a:k="v"`, `a:k="v" xmlns:b="urn:a" b:k="w"`, 1), loose, ReasonDuplicateAttribute},
		{"duplicate namespace declaration", strings.Replace(good, `xmlns:a="urn:a"`, `xmlns:a="urn:a" xmlns:a="urn:evil"`, 1), loose, ReasonDuplicateAttribute},
		{"same local name, other namespaces", strings.Replace(good, `ID="_1"`, `ID="_1" a:ID="_2"`, 1), loose, ""},
		{"same local name, strict", strings.Replace(good, `ID="_1"`, `ID="_1" a:ID="_2"`, 1), strict, ReasonDuplicateAttribute},
		{"root child twice", strings.Replace(good, "<r:B/>", "<r:B/><r:B/>", 1), loose, ""},
		{"root child twice, strict", strings.Replace(good, "<r:B/>", "<r:B/><r:B/>", 1), strict, ReasonDuplicateElement},
		{"empty prefix", strings.Replace(good, "<r:B/>", "<:B/>", 1), loose, ReasonMalformed},
		{"empty attribute local name", strings.Replace(good, `ID="_1"`, `ID="_1" r:=""`, 1), loose, ReasonMalformed},
		{"second root", good + "<r:Root xmlns:r=\"urn:r\"/>", loose, ReasonMalformed},
		{"text after the root", good + "tail", loose, ReasonMalformed},
		{"text before the root", "head" + strings.TrimPrefix(good, `<?xml version="1.0" encoding="UTF-8"?>`), loose, ReasonMalformed},
		{"unclosed", strings.TrimSuffix(good, "</r:Root>"), loose, ReasonMalformed},
		{"mismatched end tag", strings.Replace(good, "</r:A>", "</r:B>", 1), loose, ReasonMalformed},
		{"undefined entity", strings.Replace(good, "text", "&e;", 1), loose, ReasonMalformed},
		{"no element", "just text", loose, ReasonMalformed},
		{"empty", "", loose, ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.doc), tt.limits)
			var ge *Error
			switch {
			case tt.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.reason == "":
			case !errors.As(err, &ge):
				t.Fatalf("got %v, want an *Error with reason %s", err, tt.reason)
			case ge.Reason != tt.reason:
				t.Fatalf("reason %s (%v), want %s", ge.Reason, err, tt.reason)
			}
		})
	}
}

// The messages say what was found and where, for an operator to fix.
func TestCheckMessages(t *testing.T) {
	for doc, want := range map[string]string{
		"<!DOCTYPE x><x/>":               "DOCTYPE at byte 0",
		"<x/>":                           "",
		"<x>" + strings.Repeat("<y>", 5): "nested deeper than 4 levels",
		"just text":                      "no XML element",
	} {
		err := Check([]byte(doc), loose)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", doc, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want it to say %q", doc, err, want)
		}
	}
}

func TestValidText(t *testing.T) {
	for s, want := range map[string]bool{"": true, "plain": true, "中文\t\n\r": true, "\x00": false, "\x1f": false,
		"\xff": false, "\uFFFE": false, "\U0001F600": true, "\xed\xa0\x80": false} {
		if got := ValidString(s); got != want {
			t.Errorf("ValidString(%q) = %v", s, got)
		}
		if got := ValidText([]byte(s)); got != want {
			t.Errorf("ValidText(%q) = %v", s, got)
		}
	}
}

// An element's attributes are checked for duplicates however many there
// are: below and beyond the size where the check changes method.
func TestDuplicateAttributeAmongMany(t *testing.T) {
	for _, n := range []int{2, 15, 16, 17, 40} {
		var b strings.Builder
		b.WriteString("<r")
		for i := range n {
			fmt.Fprintf(&b, ` a%d="v"`, i)
		}
		unique := b.String() + "/>"
		dup := b.String() + ` a0="w"/>`
		if err := Check([]byte(unique), loose); err != nil {
			t.Errorf("%d distinct attributes: %v", n, err)
		}
		var ge *Error
		if err := Check([]byte(dup), loose); !errors.As(err, &ge) || ge.Reason != ReasonDuplicateAttribute {
			t.Errorf("%d attributes and a duplicate: %v", n, err)
		}
	}
}
