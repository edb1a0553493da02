package oidc_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"hcidp/upstream/oidc"
)

// decodedBits returns the entropy of a base64url value of random bytes.
func decodedBits(t *testing.T, what, v string) int {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("%s %q is not base64url: %v", what, v, err)
	}
	return len(b) * 8
}

func TestBeginAuthorizationRequest(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 50 {
		p, authURL, err := e.rp.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// Entropy: state, nonce and verifier 256 random bits each (the
		// verifier within RFC 7636's 43 to 128 characters); none ever repeats.
		for what, v := range map[string]string{"state": p.State, "nonce": p.Nonce, "verifier": p.Verifier} {
			if bits := decodedBits(t, what, v); bits < 256 {
				t.Fatalf("%s has %d bits", what, bits)
			}
			if seen[v] {
				t.Fatalf("%s %q repeats", what, v)
			}
			seen[v] = true
		}
		if n := len(p.Verifier); n < 43 || n > 128 {
			t.Fatalf("verifier length %d", n)
		}

		u, err := url.Parse(authURL)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(authURL, e.op.Issuer()+"/authorize?") {
			t.Fatalf("authorization URL %s is not the provider's endpoint", authURL)
		}
		sum := sha256.Sum256([]byte(p.Verifier))
		q := u.Query()
		for k, want := range map[string]string{
			"response_type":         "code",
			"client_id":             testClientID,
			"redirect_uri":          testBaseURL + "/oidc/callback",
			"scope":                 "openid profile email phone",
			"state":                 p.State,
			"nonce":                 p.Nonce,
			"code_challenge_method": "S256",
			"code_challenge":        base64.RawURLEncoding.EncodeToString(sum[:]),
		} {
			if got := q[k]; len(got) != 1 || got[0] != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		// Nothing secret travels in the URL.
		if strings.Contains(authURL, p.Verifier) || strings.Contains(authURL, testSecret) {
			t.Fatal("the authorization URL carries the verifier or the client secret")
		}
	}
}

func TestPendingIsSmallJSON(t *testing.T) {
	e := newEnv(t)
	p, _, err := e.rp.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Flow = "AAAAAAAAAAAAAAAAAAAAAA"
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 300 {
		t.Fatalf("Pending is %d bytes of JSON: %s", len(b), b)
	}
	var back oidc.Pending
	if err := json.Unmarshal(b, &back); err != nil || back != p {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func TestUserinfoSuppliesClaimsMissingFromIDToken(t *testing.T) {
	e := newEnv(t, func(op *portalopConfig, _ *oidc.Config, _ *oidc.Options) { op.ClaimsInUserinfoOnly = true })
	// The ID token has no xaccount_id, e-mail or name.
	var sent []string
	e.resignIDToken(t, func(c map[string]any) {
		for _, k := range []string{"xaccount_id", "email", "name", "preferred_username", "phone_number"} {
			if _, ok := c[k]; ok {
				t.Errorf("claim %s in the ID token", k)
			}
		}
	}, &sent)
	p, q := e.begin(t)
	id, err := e.rp.Finish(context.Background(), q, p)
	if err != nil {
		t.Fatal(err)
	}
	if id.XAccountID != "cust-0001" || id.Email != alice.Email || id.Name != alice.Username || id.DisplayName != alice.Name {
		t.Fatalf("identity from userinfo: %+v", id)
	}
}
