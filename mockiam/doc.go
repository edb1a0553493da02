// Package mockiam is a mock of Huawei Cloud IAM, the SAML service provider of
// the Huawei Cloud Web UI profile, for tests and the local demo. It plays
// auth.<site>.huaweicloud.com on loopback:
//
//   - GET  /authui/saml/metadata.xml         signed SP metadata (?unsigned=true: unsigned)
//   - GET  /authui/saml/login                starts a login: signed AuthnRequest, HTTP-Redirect
//   - POST /authui/saml/SAMLAssertionConsumer the ACS: validates the Response with package check
//   - POST /authui/saml/bind                 "create and bind": redirects to the IdP's bind callback
//   - GET  /console                          the mock console, behind a session cookie
//   - GET  /authui/saml/last                 JSON of the last ACS outcome, for tests
//
// Everything is kept in memory. Every page says "Mock Huawei Cloud IAM" so it
// cannot be mistaken for the real service.
package mockiam
