package main

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// writeJSON prints v as the one JSON document of a --json listing:
// indented, fields in a fixed order, times in RFC 3339 (UTC), lists as []
// when empty (docs/cli.md documents each shape).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// cell is a value for a column of a text table: "-" when empty, quoted
// when it holds spaces, control or invisible characters, so that a value
// from outside (an account name tried at the login page) can neither break
// the columns nor write escape sequences to the operator's terminal.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}

// text is a free-text value for the last column: control and invisible
// characters escaped, spaces kept.
func text(s string) string {
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, func(r rune) bool { return r != ' ' && (unicode.IsSpace(r) || !unicode.IsPrint(r)) }) >= 0 {
		q := strconv.Quote(s)
		return q[1 : len(q)-1]
	}
	return s
}
