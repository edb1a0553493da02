package huawei

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the bind-result notification's document (docs/profile.md §4).
const (
	// MaxBindDocument caps the decoded bindRequest JSON.
	MaxBindDocument = 6 << 10
	// maxBindDepth bounds the nesting of the JSON (unknown fields may be
	// objects or arrays; the documented ones are flat).
	maxBindDepth = 8
	// MaxDomainID bounds a Huawei Cloud account ID (domainId, the CBC
	// APIs' domain_id).
	MaxDomainID = 128
	// maxBindDomainName bounds domainName (the Huawei Cloud account name).
	maxBindDomainName = 64
)

// Bind actions (the document's bindAction).
const (
	BindActionBind   = "bind"
	BindActionUnbind = "unbind"
)

// BindDocument is the decoded bindRequest of a bind-result notification:
// {"domainName":…,"domainId":…,"xUserId":…,"bindAction":…}.
type BindDocument struct {
	// XUserID is the customer's ID on the partner platform (= xAccountId).
	XUserID string
	// DomainID and DomainName are the Huawei Cloud account's ID and name.
	DomainID   string
	DomainName string
	// Action is BindActionBind or BindActionUnbind.
	Action string
	// Raw is the JSON verbatim (unknown fields too); Hash its hex SHA-256.
	Raw  []byte
	Hash string
}

// DocumentError is a bind document hcidp refuses: Reason is a stable code
// for logs and metrics.
type DocumentError struct {
	Reason string
	Msg    string
}

func (e *DocumentError) Error() string { return e.Msg }

func docErr(reason, format string, a ...any) *DocumentError {
	return &DocumentError{Reason: reason, Msg: fmt.Sprintf(format, a...)}
}

// ParseBindDocument decodes the notification's JSON strictly: exactly one
// object, UTF-8, no duplicate key at any depth, nesting at most 8;
// xUserId a valid customer ID (xAccountId, when present, the same);
// domainId 1..128 printable characters; domainName at most 64;
// bindAction "0"/0 or absent (bind) or "1"/1 (unbind): Huawei's table types
// it as a string, its example carries the number. Unknown fields are
// allowed: the whole document is kept verbatim. Errors are *DocumentError.
func ParseBindDocument(raw []byte) (*BindDocument, error) {
	if len(raw) > MaxBindDocument {
		return nil, docErr("bind.base64", "bindRequest decodes to more than %d bytes", MaxBindDocument)
	}
	if !utf8.Valid(raw) {
		return nil, docErr("bind.json", "bindRequest is not UTF-8")
	}
	if err := checkJSONKeys(raw); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil { // cannot fail after checkJSONKeys
		return nil, docErr("bind.json", "bindRequest is not a JSON object")
	}
	str := func(name string) (string, bool, error) {
		v, ok := m[name]
		if !ok {
			return "", false, nil
		}
		var s string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return "", true, docErr("bind.field", "bindRequest field %s is not a string", name)
		}
		return s, true, nil
	}
	d := &BindDocument{Raw: raw}
	user, ok, err := str("xUserId")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, docErr("bind.customer_id", "bindRequest has no xUserId")
	}
	if err := CheckXAccountID(user); err != nil {
		return nil, docErr("bind.customer_id", "bindRequest xUserId: %v", err)
	}
	d.XUserID = user
	if acct, ok, err := str("xAccountId"); err != nil {
		return nil, err
	} else if ok && acct != user {
		return nil, docErr("bind.customer_id", "bindRequest xAccountId differs from xUserId")
	}
	if d.DomainID, ok, err = str("domainId"); err != nil {
		return nil, err
	}
	if !ok {
		return nil, docErr("bind.domain", "bindRequest has no domainId")
	}
	if err := CheckDomainID(d.DomainID); err != nil {
		return nil, docErr("bind.domain", "bindRequest domainId: %v", err)
	}
	if d.DomainName, _, err = str("domainName"); err != nil {
		return nil, err
	}
	if n := d.DomainName; len(n) > maxBindDomainName || (n != "" && !printable(n)) {
		return nil, docErr("bind.domain", "bindRequest domainName is not printable or longer than %d bytes", maxBindDomainName)
	}
	switch a := string(m["bindAction"]); a {
	case "", `"0"`, "0": // absent binds
		d.Action = BindActionBind
	case `"1"`, "1":
		d.Action = BindActionUnbind
	default:
		if len(a) > 40 {
			a = a[:40] + "…"
		}
		return nil, docErr("bind.action", `bindRequest bindAction %s is neither "0" (bind) nor "1" (unbind)`, a)
	}
	sum := sha256.Sum256(raw)
	d.Hash = hex.EncodeToString(sum[:])
	return d, nil
}

// CheckDomainID applies the rule of a Huawei Cloud account ID wherever one
// is written (the notification, the portal API, `idp bindings add`): 1 to
// 128 printable characters without surrounding spaces.
func CheckDomainID(id string) error {
	switch {
	case id == "" || len(id) > MaxDomainID:
		return fmt.Errorf("a Huawei Cloud account ID (domain_id) has 1 to %d characters", MaxDomainID)
	case !printable(id):
		return errors.New("a Huawei Cloud account ID (domain_id) must be printable, without leading or trailing spaces")
	}
	return nil
}

// printable: no control or format characters (Unicode Cc, Cf), no leading
// or trailing spaces.
func printable(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}

// checkJSONKeys walks the token stream of raw: exactly one JSON object and
// nothing after it, nesting at most maxBindDepth, and no object with a key
// twice. Written by hand because encoding/json cannot be told to refuse
// duplicate keys: decoding into a map or a struct silently keeps the last
// value (and a struct also matches keys case-insensitively), while other
// parsers keep the first, so {"xUserId":"a",…,"xUserId":"b"} would mean
// different customers to different readers. Decoder.Token yields every
// key, unescaped, in order.
func checkJSONKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return docErr("bind.json", "bindRequest is not a JSON object")
	}
	if err := walkJSONObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return docErr("bind.json", "bindRequest has data after the JSON object")
	}
	return nil
}

// walkJSONObject consumes the rest of an object whose '{' was read.
func walkJSONObject(dec *json.Decoder, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return docErr("bind.json", "bindRequest is not valid JSON")
		}
		key, _ := tok.(string)
		if seen[key] {
			return docErr("bind.duplicate_key", "bindRequest has the key %s twice in one object", truncate(key, 60))
		}
		seen[key] = true
		if err := walkJSONValue(dec, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return docErr("bind.json", "bindRequest is not valid JSON")
	}
	return nil
}

// walkJSONValue consumes one value inside a container at depth.
func walkJSONValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return docErr("bind.json", "bindRequest is not valid JSON")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	if depth >= maxBindDepth {
		return docErr("bind.json", "bindRequest is nested deeper than %d levels", maxBindDepth)
	}
	if d == '{' {
		return walkJSONObject(dec, depth+1)
	}
	for dec.More() { // '['
		if err := walkJSONValue(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return docErr("bind.json", "bindRequest is not valid JSON")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
