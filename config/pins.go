package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/google/renameio/v2"
	"gopkg.in/yaml.v3"

	"hcidp/metadata"
)

// ErrNotEditable is returned by AddSigningKeyPins for a layout it does not
// edit (a service_providers entry in flow style, a pin list in flow style
// over several lines, a site value on another line than its key); the
// caller then shows the operator the YAML to add by hand.
var ErrNotEditable = errors.New("config: the file's layout cannot be edited automatically")

// dashPrefix is the text before a block sequence item: indentation, "-",
// spaces.
var dashPrefix = regexp.MustCompile(`^ *- +$`)

// AddSigningKeyPins returns the configuration file src with pins added to
// the signing_key_pins of the service_providers entry of site, creating the
// list when absent. Pins already listed are skipped. A block list gets new
// "- " lines after its last item, a one-line flow list ([...]) new items
// before its "]", and an entry without the key a new block list after its
// site line.
//
// Why by hand: yaml.v3 can re-encode an edited yaml.Node tree, keeping
// comments and key order, but not the operator's blank lines, indentation
// or quoting. So the node tree only locates the entry, and the new lines are
// spliced into the original bytes, which stay otherwise untouched. The
// result is decoded again and must equal the original with only the pin list
// changed; anything else is an error and src is not to be written.
func AddSigningKeyPins(src []byte, site string, pins []string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("config: cannot decode YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: the file is not a YAML mapping", ErrNotEditable)
	}
	list := mapValue(doc.Content[0], "service_providers")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("config: service_providers is not a list of sites")
	}
	index, entry := -1, (*yaml.Node)(nil)
	for i, it := range list.Content {
		if v := mapValue(it, "site"); it.Kind == yaml.MappingNode && v != nil && strings.ToLower(strings.TrimSpace(v.Value)) == site {
			index, entry = i, it
		}
	}
	if entry == nil {
		return nil, fmt.Errorf("config: service_providers has no entry for site %s", site)
	}
	if list.Style&yaml.FlowStyle != 0 || entry.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("%w: service_providers[%d] is written in flow style ({...})", ErrNotEditable, index)
	}

	var have []string
	existing := mapValue(entry, "signing_key_pins")
	if existing != nil {
		if existing.Kind != yaml.SequenceNode || (existing.Style&yaml.FlowStyle == 0 && len(existing.Content) == 0) {
			return nil, fmt.Errorf("%w: service_providers[%d].signing_key_pins is not a list", ErrNotEditable, index)
		}
		for _, it := range existing.Content {
			p, err := metadata.ParseKeyPin(it.Value)
			if err != nil {
				return nil, fmt.Errorf("config: service_providers[%d].signing_key_pins: %w", index, err)
			}
			have = append(have, p)
		}
	}
	var add []string
	for _, p := range pins {
		c, err := metadata.ParseKeyPin(p)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(have, c) && !slices.Contains(add, c) {
			add = append(add, c)
		}
	}
	if len(add) == 0 {
		return src, nil
	}

	eol := "\n"
	if bytes.Contains(src, []byte("\r\n")) {
		eol = "\r\n"
	}
	lines := strings.SplitAfter(string(src), "\n")
	var after int // insert after this 1-based line
	var ins strings.Builder
	if existing != nil && existing.Style&yaml.FlowStyle != 0 {
		// A one-line flow list, e.g. [ "sha256:…" ]: add before its "]".
		line := []rune(lines[existing.Line-1])
		end := closingBracket(line, existing.Column-1)
		if end < 0 {
			return nil, fmt.Errorf("%w: service_providers[%d].signing_key_pins is a flow list over several lines", ErrNotEditable, index)
		}
		var items []string
		for _, p := range add {
			items = append(items, `"`+p+`"`)
		}
		sep := ""
		if len(existing.Content) > 0 {
			sep = ", "
		}
		lines[existing.Line-1] = string(line[:end]) + sep + strings.Join(items, ", ") + string(line[end:])
	} else if existing != nil {
		last := existing.Content[len(existing.Content)-1]
		if last.Kind != yaml.ScalarNode || last.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || strings.Contains(last.Value, "\n") {
			return nil, fmt.Errorf("%w: the last signing_key_pins item is not a one-line value", ErrNotEditable)
		}
		line := []rune(lines[last.Line-1])
		prefix := string(line[:last.Column-1])
		if !dashPrefix.MatchString(prefix) {
			return nil, fmt.Errorf("%w: signing_key_pins items are not written one per line as \"- value\"", ErrNotEditable)
		}
		after = last.Line
		for _, p := range add {
			ins.WriteString(prefix + `"` + p + `"` + eol)
		}
	} else {
		k, v := mapKeyValue(entry, "site")
		if v.Kind != yaml.ScalarNode || v.Line != k.Line || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			return nil, fmt.Errorf("%w: the site value of service_providers[%d] is not on the line of its key", ErrNotEditable, index)
		}
		indent := strings.Repeat(" ", k.Column-1)
		after = k.Line
		ins.WriteString(indent + "signing_key_pins:" + eol)
		for _, p := range add {
			ins.WriteString(indent + `  - "` + p + `"` + eol)
		}
	}
	if after > 0 && !strings.HasSuffix(lines[after-1], "\n") {
		lines[after-1] += eol
	}
	out := strings.Join(lines[:after], "") + ins.String() + strings.Join(lines[after:], "")

	// The edit must change the pin list of that entry and nothing else.
	var before, got any
	if err := yaml.Unmarshal(src, &before); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal([]byte(out), &got); err != nil {
		return nil, fmt.Errorf("%w: the edited file does not decode (%v)", ErrNotEditable, err)
	}
	var want []any
	for _, p := range append(have, add...) {
		want = append(want, p)
	}
	b, g := entryOf(before, index), entryOf(got, index)
	if b == nil || g == nil {
		return nil, fmt.Errorf("%w: service_providers[%d] is not a mapping", ErrNotEditable, index)
	}
	b["signing_key_pins"] = want
	canonicalPins(g)
	if !reflect.DeepEqual(before, got) {
		return nil, fmt.Errorf("%w: the edit would change more than service_providers[%d].signing_key_pins", ErrNotEditable, index)
	}
	return []byte(out), nil
}

// closingBracket returns the index of the "]" that closes the flow list
// opening at line[open], or -1 when the list does not close on this line.
// Quoted scalars may hold brackets; nested lists are not expected.
func closingBracket(line []rune, open int) int {
	if open < 0 || open >= len(line) || line[open] != '[' {
		return -1
	}
	var quote rune
	for i := open + 1; i < len(line); i++ {
		r := line[i]
		switch {
		case quote == '"' && r == '\\':
			i++ // an escape in a double-quoted scalar
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '[' || r == '{' || r == '#':
			return -1
		case r == ']':
			return i
		}
	}
	return -1
}

// entryOf returns service_providers[i] of a decoded file, or nil.
func entryOf(v any, i int) map[string]any {
	root, _ := v.(map[string]any)
	list, _ := root["service_providers"].([]any)
	if i >= len(list) {
		return nil
	}
	e, _ := list[i].(map[string]any)
	return e
}

// canonicalPins writes the pins of a decoded entry in canonical form, so
// that pins an operator wrote in upper case compare equal.
func canonicalPins(e map[string]any) {
	l, _ := e["signing_key_pins"].([]any)
	for j, p := range l {
		if s, ok := p.(string); ok {
			if c, err := metadata.ParseKeyPin(s); err == nil {
				l[j] = c
			}
		}
	}
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	_, v := mapKeyValue(m, key)
	return v
}

func mapKeyValue(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// PinFileError is returned by PinSigningKeys when the configuration file
// could not be edited; nothing was written. Pins is the whole
// signing_key_pins list the entry service_providers[Index] should hold, for
// the operator to write by hand.
type PinFileError struct {
	Path  string
	Index int
	Pins  []string
	Err   error
}

func (e *PinFileError) Error() string {
	return fmt.Sprintf("cannot add the key pin to %s (%v); nothing was written", e.Path, e.Err)
}

func (e *PinFileError) Unwrap() error { return e.Err }

// PinSigningKeys adds pins to the signing_key_pins of site's entry in the
// configuration file at path (symbolic links followed), so that start and
// SIGHUP accept metadata signed with those keys. A site pinned by default
// (cn without signing_key_pins) gets its default pins written too, since an
// explicit list replaces the default. The edit (AddSigningKeyPins) keeps
// comments and layout; the edited file must still load (Parse); it replaces
// the old one atomically, keeping its mode. It returns the index of the
// site's entry. On error nothing is written, and a *PinFileError carries
// the list to write by hand.
func PinSigningKeys(path, site string, pins []string) (index int, err error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return -1, err
	}
	src, err := os.ReadFile(real)
	if err != nil {
		return -1, err
	}
	cfg, err := Parse(src, filepath.Dir(real))
	if err != nil {
		return -1, err
	}
	index = slices.IndexFunc(cfg.ServiceProviders, func(sp ServiceProvider) bool { return sp.Site == site })
	if index < 0 {
		return -1, fmt.Errorf("%s has no service_providers entry for site %s", path, site)
	}
	entry := cfg.ServiceProviders[index]
	add := pins
	if len(entry.SigningKeyPins) == 0 {
		add = append(slices.Clone(entry.KeyPins()), pins...)
	}
	edited, err := AddSigningKeyPins(src, site, add)
	if err == nil {
		_, err = Parse(edited, filepath.Dir(real))
	}
	if err != nil {
		return index, &PinFileError{Path: path, Index: index, Pins: append(slices.Clone(entry.SigningKeyPins), add...), Err: err}
	}
	if err := renameio.WriteFile(real, edited, 0o600, renameio.WithExistingPermissions()); err != nil {
		return index, err
	}
	return index, nil
}
