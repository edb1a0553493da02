package oidc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"unicode/utf8"

	"hcidp/customer"
)

// Identity is a customer as the upstream provider vouched for it.
type Identity struct {
	// Issuer and Subject are the ID token's iss and sub: the upstream
	// account, for the audit trail.
	Issuer  string
	Subject string
	// XAccountID is the value of claim_xaccount_id, a valid customer ID.
	XAccountID string
	// Email, Name, Mobile and DisplayName are the mapped optional claims
	// that meet hcidp's attribute rules; empty when not mapped, absent, or
	// ignored (see Ignored).
	Email       string
	Name        string
	Mobile      string
	DisplayName string
	// Ignored names the optional attributes whose claim was present but
	// broke hcidp's rules (or, for email, was not verified), so was not
	// used, e.g. ["mobile"]. Creating a customer refuses such an identity
	// (oidc.claim_invalid); an existing customer signs in, and its record
	// is left as it is.
	Ignored []string
}

// claimSet is a verified token's (or userinfo response's) claims, each kept
// raw until it is read.
type claimSet map[string]json.RawMessage

// integerRE is a JSON integer: an ID a provider sends as a number.
var integerRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)

// value reads claim name as a string. found is false when the claim is
// absent, null or ""; ok is false when it is present but not a string (a
// JSON integer is accepted as its decimal text only when integers is set:
// an ID mapped from a numeric user attribute).
func (cs claimSet) value(name string, integers bool) (v string, found, ok bool) {
	raw, present := cs[name]
	raw = bytes.TrimSpace(raw)
	if !present || len(raw) == 0 || string(raw) == "null" {
		return "", false, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, s != "", true
	}
	if integers && integerRE.Match(raw) {
		return string(raw), true, true
	}
	return "", true, false
}

// mapClaims turns verified claims into an Identity following cfg.
// iss and sub come from the verified ID token.
func mapClaims(cfg *Config, iss, sub string, cs claimSet) (Identity, error) {
	id := Identity{Issuer: iss, Subject: sub}
	if sub == "" {
		return Identity{}, fail(ReasonToken, "the ID token has no sub claim")
	}

	// The customer ID: required, and a valid xAccountId.
	xid, found, ok := sub, true, true
	if cfg.ClaimXAccountID != "sub" {
		xid, found, ok = cs.value(cfg.ClaimXAccountID, true)
	}
	switch {
	case !ok:
		return Identity{}, fail(ReasonClaimInvalid, fmt.Sprintf("the claim %s (claim_xaccount_id) is not a string", cfg.ClaimXAccountID))
	case !found:
		return Identity{}, fail(ReasonClaimMissing, fmt.Sprintf("the provider sent no %s claim (claim_xaccount_id): map the portal's customer ID into the ID token", cfg.ClaimXAccountID))
	}
	if err := customer.ValidateID(xid); err != nil {
		return Identity{}, fail(ReasonClaimInvalid, fmt.Sprintf("the claim %s (claim_xaccount_id) is not a customer ID: %v", cfg.ClaimXAccountID, err))
	}
	id.XAccountID = xid

	// Optional attributes: a value breaking its rule is ignored here and
	// refused by ResolveCustomer when a customer would be created from it.
	attr := func(name, claim string, dst *string, check func(string) error) {
		if claim == "" {
			return
		}
		v, found, ok := cs.value(claim, false)
		if !found {
			return
		}
		if !ok || check(v) != nil {
			id.Ignored = append(id.Ignored, name)
			return
		}
		*dst = v
	}
	attr("email", cfg.ClaimEmail, &id.Email, func(v string) error {
		// An address the provider says it has not verified is not taken:
		// hcidp's e-mail is unique, so an unverified one could take
		// another customer's address.
		if cfg.ClaimEmail == "email" {
			var verified bool
			if raw, ok := cs["email_verified"]; ok && json.Unmarshal(raw, &verified) == nil && !verified {
				return fmt.Errorf("email not verified")
			}
		}
		return customer.CheckAttribute("email", v)
	})
	attr("name", cfg.ClaimName, &id.Name, func(v string) error { return customer.CheckAttribute("name", v) })
	attr("mobile", cfg.ClaimMobile, &id.Mobile, func(v string) error { return customer.CheckAttribute("mobile", v) })
	attr("display_name", cfg.ClaimDisplayName, &id.DisplayName, checkDisplayName)
	return id, nil
}

// checkDisplayName applies the customer record's display name rule (at
// most customer.MaxDisplayName printable bytes); package customer checks
// it only inside Validate, over a whole record.
func checkDisplayName(v string) error {
	if len(v) > customer.MaxDisplayName || !printable(v) || !utf8.ValidString(v) {
		return fmt.Errorf("display name must be at most %d printable characters", customer.MaxDisplayName)
	}
	return nil
}

// missing reports whether a mapped claim is absent from cs (so userinfo
// may supply it).
func (cs claimSet) missing(cfg *Config) bool {
	for _, c := range []string{cfg.ClaimXAccountID, cfg.ClaimEmail, cfg.ClaimName, cfg.ClaimMobile, cfg.ClaimDisplayName} {
		if c == "" || c == "sub" {
			continue
		}
		if _, found, _ := cs.value(c, true); !found {
			return true
		}
	}
	return false
}
