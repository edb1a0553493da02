package main

import (
	"encoding/json"
	"hcidp/customer"
	"slices"
	"strings"
	"testing"
)

// TestUsersUpdateChangesOnlyTheGivenFields: `idp users update` sets the
// attributes given on the command line (an empty value clears one), keeps
// the others and the password, and refuses what `users add` refuses,
// writing nothing.
func TestUsersUpdateChangesOnlyTheGivenFields(t *testing.T) {
	cfg := testConfig(t)
	if _, _, err := idpCmd(t, "", "users", "add", "--config", cfg, "--xaccount-id", "cust-1", "--password", "s3cret-pass",
		"--email", "a@example.com", "--name", "zhang_san", "--mobile", "+86 138 0000 0000", "--display-name", "Zhang"); err != nil {
		t.Fatal(err)
	}
	idpCmd(t, "", "users", "add", "--config", cfg, "--xaccount-id", "cust-2", "--password", "s3cret-pass", "--email", "b@example.com")
	list := func() map[string]customer.View {
		t.Helper()
		out, _, err := idpCmd(t, "", "users", "list", "--config", cfg, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var cs []customer.View
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			t.Fatal(err)
		}
		m := map[string]customer.View{}
		for _, c := range cs {
			m[c.XAccountID] = c
		}
		return m
	}

	out, _, err := idpCmd(t, "", "users", "update", "--config", cfg, "--xaccount-id", "cust-1", "--email", "new@example.com", "--mobile", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "updated customer cust-1") {
		t.Errorf("output: %s", out)
	}
	c := list()["cust-1"]
	if c.Email != "new@example.com" || c.Mobile != "" || c.Name != "zhang_san" || c.DisplayName != "Zhang" || !c.HasPassword {
		t.Fatalf("after update: %+v", c)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad e-mail", []string{"--xaccount-id", "cust-1", "--email", "not an address"}, `email "not an address" is not an address Huawei Cloud accepts`},
		{"bad name", []string{"--xaccount-id", "cust-1", "--name", "abc"}, "name must be 5 to 32 characters long"},
		{"e-mail of another customer", []string{"--xaccount-id", "cust-1", "--email", "b@example.com"}, `e-mail "b@example.com" is used by another customer`},
		{"unknown customer", []string{"--xaccount-id", "nobody", "--name", "some_name"}, `no customer "nobody"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := idpCmd(t, "", append([]string{"users", "update", "--config", cfg}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if got := list()["cust-1"]; got != c {
				t.Errorf("a refused update wrote: %+v", got)
			}
		})
	}
}

// TestUsersAddDuplicateReadsOnce: adding a customer twice says so once,
// and how to change it instead.
func TestUsersAddDuplicateReadsOnce(t *testing.T) {
	cfg := testConfig(t)
	add := func(args ...string) error {
		_, _, err := idpCmd(t, "", append([]string{"users", "add", "--config", cfg, "--password", "s3cret-pass"}, args...)...)
		return err
	}
	if err := add("--xaccount-id", "C1", "--email", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"same ID", []string{"--xaccount-id", "C1"}, "customer C1 already exists (change it with `idp users update`)"},
		{"same e-mail", []string{"--xaccount-id", "C2", "--email", "a@example.com"}, `e-mail "a@example.com" is used by another customer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := add(tc.args...)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %q, want exactly %q", err, tc.want)
			}
		})
	}
}

// TestUsersWritesAreAudited: every customer write of the CLI leaves an
// audit row of kind cli naming it, as the portal API's writes do; a refused
// write leaves none.
func TestUsersWritesAreAudited(t *testing.T) {
	cfg := testConfig(t)
	run := func(args ...string) error {
		_, _, err := idpCmd(t, "", append([]string{"users"}, append(args[:1:1], append([]string{"--config", cfg, "--xaccount-id", "cust-1"}, args[1:]...)...)...)...)
		return err
	}
	for _, args := range [][]string{
		{"add", "--password", "s3cret-pass"},
		{"update", "--email", "new@example.com"},
		{"set-password", "--password", "another-pass-1"},
		{"disable"},
		{"enable"},
	} {
		if err := run(args...); err != nil {
			t.Fatalf("users %s: %v", args[0], err)
		}
	}
	if err := run("update", "--email", "not an address"); err == nil {
		t.Fatal("an invalid e-mail address was written")
	}
	out, _, err := idpCmd(t, "", "audit", "list", "--config", cfg, "--customer", "cust-1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct{ Kind, Outcome, Detail string }
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.Kind != "cli" {
			t.Errorf("row of kind %q", r.Kind)
		}
		got = append(got, r.Detail)
	}
	slices.Sort(got)
	want := []string{"customer.add", "customer.disable", "customer.enable", "customer.set_password", "customer.update"}
	if !slices.Equal(got, want) {
		t.Errorf("audit rows %v, want %v", got, want)
	}
}
