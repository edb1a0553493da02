// Package bench measures hcidp's SSO path against the physical limit, one
// RSA signature per SSO, and against crewjam/saml's IdP on the same requests.
//
// The Go benchmarks (sso_bench_test.go, and ../idp/bench_test.go for the
// unexported steps) run in-process; cmd/loadtest starts `idp serve` pinned to
// one core and loads it over loopback HTTP from another core. BENCHMARKS.md at
// the repository root holds the numbers of one run and the commands.
package bench
