package oidc_test

import (
	"context"
	"testing"

	"hcidp/upstream/oidc"
)

func TestUpstreamSignInHappyPath(t *testing.T) {
	e := newEnv(t)
	p, q := e.begin(t)
	id, err := e.rp.Finish(context.Background(), q, p)
	if err != nil {
		t.Fatal(err)
	}
	want := oidc.Identity{
		Issuer: e.op.Issuer(), Subject: alice.Subject, XAccountID: "cust-0001",
		Email: alice.Email, Name: alice.Username, Mobile: alice.Mobile, DisplayName: alice.Name,
	}
	if id.Issuer != want.Issuer || id.Subject != want.Subject || id.XAccountID != want.XAccountID || id.Email != want.Email ||
		id.Name != want.Name || id.Mobile != want.Mobile || id.DisplayName != want.DisplayName || len(id.Ignored) != 0 {
		t.Fatalf("identity:\n got %+v\nwant %+v", id, want)
	}
}
