package oidc

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func claims(t *testing.T, js string) claimSet {
	t.Helper()
	var cs claimSet
	if err := json.Unmarshal([]byte(js), &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestClaimMapping(t *testing.T) {
	full := Config{ClaimXAccountID: "xaccount_id", ClaimEmail: "email", ClaimName: "preferred_username",
		ClaimMobile: "phone_number", ClaimDisplayName: "name"}
	subOnly := Config{ClaimXAccountID: "sub"}
	for _, tc := range []struct {
		name   string
		cfg    Config
		sub    string
		claims string
		want   Identity
		reason string // "" = mapped
	}{
		{"sub is the customer ID by default", subOnly, "cust-42", `{"email":"a@b.example"}`,
			Identity{XAccountID: "cust-42"}, ""},
		{"every attribute mapped", full, "u1",
			`{"xaccount_id":"cust-1","email":"alice@portal.example","email_verified":true,"preferred_username":"alice_w","phone_number":"+86 138 0000 0000","name":"Alice Liddell"}`,
			Identity{XAccountID: "cust-1", Email: "alice@portal.example", Name: "alice_w", Mobile: "+86 138 0000 0000", DisplayName: "Alice Liddell"}, ""},
		{"numeric customer ID", full, "u1", `{"xaccount_id":100234}`, Identity{XAccountID: "100234"}, ""},
		{"unmapped claims are not read", Config{ClaimXAccountID: "xaccount_id"}, "u1", `{"xaccount_id":"c","email":"a@b.example","name":"N"}`,
			Identity{XAccountID: "c"}, ""},
		{"customer ID claim absent", full, "u1", `{"email":"a@b.example"}`, Identity{}, ReasonClaimMissing},
		{"customer ID claim null", full, "u1", `{"xaccount_id":null}`, Identity{}, ReasonClaimMissing},
		{"customer ID claim empty", full, "u1", `{"xaccount_id":""}`, Identity{}, ReasonClaimMissing},
		{"customer ID claim an object", full, "u1", `{"xaccount_id":{"id":"x"}}`, Identity{}, ReasonClaimInvalid},
		{"customer ID claim fractional", full, "u1", `{"xaccount_id":1.5}`, Identity{}, ReasonClaimInvalid},
		{"customer ID too long", full, "u1", `{"xaccount_id":"` + strings.Repeat("x", 129) + `"}`, Identity{}, ReasonClaimInvalid},
		{"customer ID with a control character", full, "u1", `{"xaccount_id":"cust\u0000"}`, Identity{}, ReasonClaimInvalid},
		{"customer ID with a trailing space", full, "u1", `{"xaccount_id":"cust "}`, Identity{}, ReasonClaimInvalid},
		{"sub missing", subOnly, "", `{}`, Identity{}, ReasonToken},
		{"invalid e-mail ignored", full, "u1", `{"xaccount_id":"c","email":"not-an-address"}`,
			Identity{XAccountID: "c", Ignored: []string{"email"}}, ""},
		{"unverified e-mail ignored", full, "u1", `{"xaccount_id":"c","email":"a@b.example","email_verified":false}`,
			Identity{XAccountID: "c", Ignored: []string{"email"}}, ""},
		{"e-mail without email_verified taken", full, "u1", `{"xaccount_id":"c","email":"a@b.example"}`,
			Identity{XAccountID: "c", Email: "a@b.example"}, ""},
		{"name breaking Huawei's rule ignored", full, "u1", `{"xaccount_id":"c","preferred_username":"9lives"}`,
			Identity{XAccountID: "c", Ignored: []string{"name"}}, ""},
		{"name too short ignored", full, "u1", `{"xaccount_id":"c","preferred_username":"bob"}`,
			Identity{XAccountID: "c", Ignored: []string{"name"}}, ""},
		{"mobile with letters ignored", full, "u1", `{"xaccount_id":"c","phone_number":"call me"}`,
			Identity{XAccountID: "c", Ignored: []string{"mobile"}}, ""},
		{"display name with a control character ignored", full, "u1", `{"xaccount_id":"c","name":"Al\u0007ice"}`,
			Identity{XAccountID: "c", Ignored: []string{"display_name"}}, ""},
		{"attribute of the wrong type ignored", full, "u1", `{"xaccount_id":"c","email":["a@b.example"],"phone_number":12345}`,
			Identity{XAccountID: "c", Ignored: []string{"email", "mobile"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := mapClaims(&tc.cfg, "https://issuer.example", tc.sub, claims(t, tc.claims))
			if tc.reason != "" {
				var oe *Error
				if !errors.As(err, &oe) || oe.Reason != tc.reason {
					t.Fatalf("want %s, got %v", tc.reason, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Issuer, tc.want.Subject = "https://issuer.example", tc.sub
			if id.XAccountID != tc.want.XAccountID || id.Email != tc.want.Email || id.Name != tc.want.Name ||
				id.Mobile != tc.want.Mobile || id.DisplayName != tc.want.DisplayName || id.Issuer != tc.want.Issuer ||
				id.Subject != tc.want.Subject || !slices.Equal(id.Ignored, tc.want.Ignored) {
				t.Fatalf("got  %+v\nwant %+v", id, tc.want)
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "invalid_grant: code expired", "invalid_grant: code expired"},
		{"control characters", "a\r\nSet-Cookie: x", "a??Set-Cookie: x"},
		{"quotes", `"x" \ y`, `'x' ? y`},
		{"non-ASCII", "café", "caf?"},
		{"JWT", "token " + jwt + " refused", "token [redacted] refused"},
		{"long opaque credential", "code " + strings.Repeat("Ab9_", 12), "code [redacted]"},
		{"URL survives", "Get https://keycloak.partner.example/realms/portal/protocol/openid-connect/certs: EOF",
			"Get https://keycloak.partner.example/realms/portal/protocol/openid-connect/certs: EOF"},
		{"given secret", "secret hunter2 leaked", "secret [redacted] leaked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sanitize(tc.in, "hunter2"); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := sanitize(strings.Repeat("a b ", 200)); len(got) > maxDetail+3 {
		t.Fatalf("not truncated: %d bytes", len(got))
	}
}
