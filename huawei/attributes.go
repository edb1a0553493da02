package huawei

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the assertion's attributes (docs/profile.md §3).
const (
	MaxXAccountID   = 128
	MaxEmailLength  = 64
	MinNameLength   = 5
	MaxNameLength   = 32
	MaxMobileLength = 32
)

var (
	// emailRE is Huawei's e-mail rule, verbatim from the attribute table.
	emailRE = regexp.MustCompile("^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
	// nameRE: letters, digits, '-', '_', not starting with a digit (the
	// Huawei Cloud account name).
	nameRE = regexp.MustCompile(`^[a-zA-Z_-][0-9a-zA-Z_-]*$`)
	// mobileRE: an optional '+', then digits with optional spaces or dashes.
	mobileRE = regexp.MustCompile(`^\+?[0-9][0-9 -]*[0-9]$`)
)

// CheckXAccountID checks an xAccountId (= xUserId, the customer's ID on
// the partner platform): 1-128 printable characters, no leading or
// trailing space.
func CheckXAccountID(id string) error {
	switch {
	case id == "":
		return errors.New("xAccountId is required")
	case len(id) > MaxXAccountID:
		return fmt.Errorf("xAccountId is %d bytes long; at most %d are allowed", len(id), MaxXAccountID)
	case !Printable(id):
		return errors.New("xAccountId contains control characters or invalid UTF-8")
	case strings.TrimSpace(id) != id:
		return errors.New("xAccountId has leading or trailing spaces")
	}
	return nil
}

// CheckAttribute checks one optional attribute value (email, name,
// mobile) against Huawei's rule for it.
func CheckAttribute(name, value string) error {
	switch name {
	case "email":
		if len(value) > MaxEmailLength {
			return fmt.Errorf("email is %d characters long; at most %d are allowed", len(value), MaxEmailLength)
		}
		if !emailRE.MatchString(value) {
			return fmt.Errorf("email %q is not an address Huawei Cloud accepts", value)
		}
	case "name":
		if n := utf8.RuneCountInString(value); n < MinNameLength || n > MaxNameLength {
			return fmt.Errorf("name must be %d to %d characters long (got %d)", MinNameLength, MaxNameLength, n)
		}
		if !nameRE.MatchString(value) {
			return fmt.Errorf("name %q may contain only letters, digits, '-' and '_' and must not start with a digit", value)
		}
	case "mobile":
		if len(value) > MaxMobileLength || !mobileRE.MatchString(value) {
			return fmt.Errorf("mobile %q is not a phone number (digits, optional leading '+', spaces or dashes; at most %d characters)", value, MaxMobileLength)
		}
	default:
		return fmt.Errorf("unknown attribute %q", name)
	}
	return nil
}

// Printable reports whether s is valid UTF-8 without control characters
// or replacement characters.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\uFFFD' {
			return false
		}
	}
	return true
}
