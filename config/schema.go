package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
	"gopkg.in/yaml.v3"
)

// checkDocument reads the YAML document src against the keys of Config and
// reports, all at once, what yaml.v3's decoder would report in its own
// words (Go type names such as config.Config or []config.ServiceProvider):
//
//   - a key that is not one of its level's keys, with the nearest real key
//     by edit distance ("unknown key `bpid`; did you mean `bp_id`?"), or the
//     level where that key belongs;
//   - a value of the wrong shape (a mapping where a list is expected, a list
//     where a single value is), saying what shape is expected, with an
//     example;
//   - a value that is not of its key's kind (a bool, a duration);
//   - a key set twice in one mapping.
//
// Messages name keys as the README does (service_providers[0].site) and
// give the line. Written by hand because the decoder's errors carry Go type
// names and no suggestion, and no YAML library reports against a schema in
// an operator's terms.
func checkDocument(src []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return syntaxError(src, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // an empty file: Validate names every required key
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode && !isNull(root) {
		return fmt.Errorf("line %d: the configuration must be a mapping of keys, one `key: value` per line (e.g. `base_url: https://idp.partner.example`); found %s",
			root.Line, describe(root))
	}
	var s schemaCheck
	s.walk(root, configType, "")
	return errors.Join(s.errs...)
}

var (
	configType      = reflect.TypeFor[Config]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	indexRE         = regexp.MustCompile(`\[\d+\]`)
)

// examples show the expected shape of a key (its path with indices
// written []), for shape errors.
var examples = map[string]string{
	"service_providers": `service_providers:
  - site: cn
  - site: intl
    metadata_file: intl-sp-metadata.xml`,
	"service_providers[]": `service_providers:
  - site: cn
    signing_key_pins:
      - "sha256:<64 hex digits>"`,
	"service_providers[].signing_key_pins": `signing_key_pins:
  - "sha256:<64 hex digits, as idp sp show prints it>"`,
	"trusted_proxies": `trusted_proxies:
  - 10.0.0.0/8
  - 192.0.2.10`,
	"upstream_oidc": `upstream_oidc:
  issuer: https://keycloak.partner.example/realms/portal
  client_id: hcidp`,
	"upstream_oidc.scopes": `scopes: [openid, profile, email]`,
}

type schemaCheck struct{ errs []error }

func (s *schemaCheck) add(format string, a ...any) { s.errs = append(s.errs, fmt.Errorf(format, a...)) }

// walk checks node against the Go type t; path names it ("" is the root).
func (s *schemaCheck) walk(n *yaml.Node, t reflect.Type, path string) {
	n = resolve(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		// A scalar with its own parser (Duration): its message names the
		// line and the fix.
		if !s.expectScalar(n, path) {
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			s.add("line %d: %s: %v", n.Line, path, err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			s.shape(n, path, "a mapping of keys (`key: value` lines indented below it)")
			return
		}
		s.mapping(n, t, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			s.shape(n, path, "a list (`- item` lines, or [a, b])")
			return
		}
		for i, item := range n.Content {
			s.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Bool:
		if s.expectScalar(n, path) && n.Decode(new(bool)) != nil {
			s.add("line %d: %s is %q; write true or false", n.Line, path, n.Value)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if s.expectScalar(n, path) && n.Decode(reflect.New(t).Interface()) != nil {
			s.add("line %d: %s is %q; write a whole number", n.Line, path, n.Value)
		}
	case reflect.String:
		s.expectScalar(n, path)
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			s.add("line %d: %s has a value of the wrong kind", n.Line, path)
		}
	}
}

// mapping checks the keys of a mapping against the fields of struct t.
func (s *schemaCheck) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			s.add("line %d: %s has a key that is not a name; write `name: value`", k.Line, where(path))
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			s.add("line %d: `%s` is set twice %s (first on line %d); keep one", k.Line, key, where(path), first)
			continue
		}
		seen[key] = k.Line
		ft, ok := fields[key]
		if !ok {
			s.add("line %d: %s", k.Line, unknownKey(key, path, fields))
			continue
		}
		s.walk(v, ft, join(path, key))
	}
}

// expectScalar reports whether n is a single value, adding a shape error
// when it is a list or a mapping.
func (s *schemaCheck) expectScalar(n *yaml.Node, path string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	s.shape(n, path, "a single value")
	return false
}

// shape reports that path holds the wrong shape of value.
func (s *schemaCheck) shape(n *yaml.Node, path, want string) {
	msg := fmt.Sprintf("line %d: %s must be %s; found %s", n.Line, path, want, describe(n))
	if ex, ok := examples[indexRE.ReplaceAllString(path, "[]")]; ok {
		msg += ". For example:\n" + indent(ex, "    ")
	}
	s.errs = append(s.errs, errors.New(msg))
}

// unknownKey says that key is not a key of the level at path, suggesting
// the nearest one, or the level it belongs to.
func unknownKey(key, path string, fields map[string]reflect.Type) string {
	msg := fmt.Sprintf("unknown key `%s`%s", key, in(path))
	if near := nearest(key, slices.Sorted(maps.Keys(fields))); near != "" {
		return msg + fmt.Sprintf("; did you mean `%s`?", near)
	}
	if home, ok := homeOf(key); ok && home != indexRE.ReplaceAllString(path, "[]") {
		return msg + fmt.Sprintf("; `%s` is a key of %s", key, describeLevel(home))
	}
	if path == "" {
		return msg + " (README.md, \"Configuration\", lists every key)"
	}
	return msg + fmt.Sprintf("; the keys of %s are %s", describeLevel(indexRE.ReplaceAllString(path, "[]")), strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
}

// nearest returns the candidate closest to key by edit distance (case,
// '-' and ' ' against '_' ignored), if it is close enough to be a typo: at
// most 2 edits, or a third of the key's length for long keys.
func nearest(key string, candidates []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(s)))
	}
	k := norm(key)
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(k, norm(c))
		if strings.ReplaceAll(k, "_", "") == strings.ReplaceAll(norm(c), "_", "") {
			d = 0 // bpid, baseurl: only the underscores differ
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD >= 0 && (bestD <= 2 || bestD*3 <= len(k)) {
		return best
	}
	return ""
}

// homeOf returns the level (a path with [] indices, "" for the top level)
// that has the key key, if one has.
func homeOf(key string) (home string, ok bool) {
	found, ok := "", false
	var visit func(t reflect.Type, path string)
	visit = func(t reflect.Type, path string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			if t.Kind() == reflect.Slice {
				path += "[]"
			}
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
			return
		}
		fields := yamlFields(t)
		if _, has := fields[key]; has && !ok {
			found, ok = path, true
		}
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			visit(fields[name], join(path, name))
		}
	}
	visit(configType, "")
	return found, ok
}

// describeLevel names a level for a message.
func describeLevel(p string) string {
	switch {
	case p == "":
		return "the top level"
	case strings.HasSuffix(p, "[]"):
		return "each " + strings.TrimSuffix(p, "[]") + " entry"
	}
	return p
}

// yamlFields maps the YAML keys of struct t to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// resolve follows an alias (*name) to its anchor.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe says what a node is, for "found ...".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) > 0 {
			return fmt.Sprintf("a mapping (`%s: ...`)", n.Content[0].Value)
		}
		return "an empty mapping ({})"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the single value %q", n.Value)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// where names the level of path in a sentence ("at the top level", "in
// service_providers[0]").
func where(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

func in(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// yamlLineRE finds the line number in a yaml.v3 syntax error.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError rewords a YAML syntax error: the line, the parser's reason,
// and a hint for the commonest cause (tabs).
func syntaxError(src []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := ""
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, msg = m[1], m[2]
	}
	hint := ""
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "\t") {
			hint = "; YAML indents with spaces, and the file has a tab at the start of a line"
			break
		}
	}
	if line != "" {
		return fmt.Errorf("line %s: not valid YAML: %s%s", line, msg, hint)
	}
	return fmt.Errorf("not valid YAML: %s%s", msg, hint)
}

// goTypeRE matches what yaml.v3's decoder says of Go types ("into
// []config.ServiceProvider", "in type config.Config").
var goTypeRE = regexp.MustCompile(` (into|in type) [\[\]*A-Za-z0-9_.]+`)

// decodeError rewords an error of the decoder that checkDocument did not
// foresee, without Go type names.
func decodeError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	msg = goTypeRE.ReplaceAllString(msg, "")
	return errors.New(strings.TrimSpace(strings.ReplaceAll(msg, "\n  ", "\n")))
}
