package templates

import (
	"bytes"
	"fmt"
	"html"
	"strings"
)

// The auto-POST page is on every SSO's path, and html/template execution
// costs more than everything else in assembling it (BENCHMARKS.md). So
// post.html is executed once per language and variant at start-up with
// sentinel values; at request time the escaped values are spliced between
// the static pieces. An operator's override of post.html is honoured the
// same way. Every value is HTML-escaped for the attribute it lands in.

// Fields of the post page, in the order the sentinels name them.
const (
	postNonce = iota
	postACS
	postResponse
	postRelay
	postFields
)

var postSentinels = [postFields]string{"zqxHCIDPnonce0zqx", "zqxHCIDPacs1zqx", "zqxHCIDPresp2zqx", "zqxHCIDPrelay3zqx"}

// postPage is post.html split at the sentinels: static[i] is followed by
// field[i], and the last static piece ends the page.
type postPage struct {
	static []string
	field  []int
}

type postKey struct {
	lang     string
	hasRelay bool
}

// preparePost executes post.html with sentinels for every language.
func (r *Renderer) preparePost() error {
	r.post = map[postKey]*postPage{}
	for lang := range catalog {
		for _, hasRelay := range []bool{false, true} {
			var b bytes.Buffer
			d := PostData{Page: Page{Lang: lang, L: Messages(lang), Nonce: postSentinels[postNonce]},
				ACS: "https://" + postSentinels[postACS] + "/", SAMLResponse: postSentinels[postResponse],
				RelayState: postSentinels[postRelay], HasRelay: hasRelay}
			if err := r.t.ExecuteTemplate(&b, "post.html", d); err != nil {
				return fmt.Errorf("templates: post.html: %w", err)
			}
			p, err := splitPost(b.String(), hasRelay)
			if err != nil {
				return err
			}
			r.post[postKey{lang, hasRelay}] = p
		}
	}
	return nil
}

func splitPost(s string, hasRelay bool) (*postPage, error) {
	s = strings.Replace(s, "https://"+postSentinels[postACS]+"/", postSentinels[postACS], 1)
	p := &postPage{}
	seen := [postFields]int{}
	for {
		at, which := -1, -1
		for i, sen := range postSentinels {
			if j := strings.Index(s, sen); j >= 0 && (at < 0 || j < at) {
				at, which = j, i
			}
		}
		if at < 0 {
			p.static = append(p.static, s)
			break
		}
		p.static = append(p.static, s[:at])
		p.field = append(p.field, which)
		seen[which]++
		s = s[at+len(postSentinels[which]):]
	}
	if seen[postACS] != 1 || seen[postResponse] != 1 || (hasRelay && seen[postRelay] != 1) {
		return nil, fmt.Errorf("templates: post.html must use .ACS, .SAMLResponse and .RelayState exactly once each as attribute values")
	}
	// Values are spliced with HTML attribute escaping, so each must sit in a
	// double-quoted attribute value, never in script, style or bare text.
	for i := range p.field {
		before := strings.Join(p.static[:i+1], "")
		inTag := strings.LastIndex(before, "<") > strings.LastIndex(before, ">")
		if !inTag || !strings.HasSuffix(before, `="`) || !strings.HasPrefix(p.static[i+1], `"`) {
			return nil, fmt.Errorf("templates: post.html must place {{.%s}} inside a double-quoted attribute", []string{"Nonce", "ACS", "SAMLResponse", "RelayState"}[p.field[i]])
		}
	}
	return p, nil
}

// WritePost renders the auto-POST page into b. d.L is ignored: the
// messages come from d.Lang.
func (r *Renderer) WritePost(b *bytes.Buffer, d PostData) {
	p := r.post[postKey{d.Lang, d.HasRelay}]
	if p == nil {
		p = r.post[postKey{"en", d.HasRelay}]
	}
	vals := [postFields]string{d.Nonce, d.ACS, d.SAMLResponse, d.RelayState}
	for i, f := range p.field {
		b.WriteString(p.static[i])
		v := vals[f]
		if f == postResponse || f == postNonce {
			// base64: no character that needs escaping in a quoted attribute.
			b.WriteString(v)
		} else {
			b.WriteString(html.EscapeString(v))
		}
	}
	b.WriteString(p.static[len(p.static)-1])
}
