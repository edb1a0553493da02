// Package check is a strict, independent validator of a SAML 2.0 Response
// against the Huawei Cloud Web UI profile (docs/profile.md §3).
//
// It is used by the mock Huawei Cloud IAM's assertion consumer service and by
// the "idp check" command, which partners run to debug an integration. It does
// not share code with the IdP that produces Responses: it parses the document
// itself, verifies the Assertion signature with goxmldsig and then inspects
// only the element that the signature verification returned.
//
// Every problem is reported as a Finding with a stable Rule code and a
// message that says what was expected and what was found. Checking carries on
// after a problem wherever that is meaningful, so one run explains all of them.
package check
