// Package mockiam is a mock of Huawei Cloud IAM, the SAML service provider of
// the Huawei Cloud Web UI profile, for tests and the local demo. It plays
// auth.<site>.huaweicloud.com on loopback:
//
//   - GET  /authui/saml/metadata.xml         signed SP metadata (?unsigned=true: unsigned)
//   - GET  /authui/saml/login                starts a login: signed AuthnRequest, HTTP-Redirect
//   - POST /authui/saml/SAMLAssertionConsumer the ACS: validates the Response with package check
//   - POST /authui/saml/bind                 "create and bind": notifies the IdP's Notification URL
//   - POST /authui/saml/unbind               the console's "Unbind": notifies the IdP (bindAction "1")
//   - GET  /console                          the mock console, behind a session cookie
//   - GET  /authui/saml/last                 JSON of the last ACS outcome, for tests
//
// The bind-result notification is sent as Huawei's Partner Center guide
// documents it: an auto-submitting form POST of bindRequest (base64 of
// {"domainName","domainId","xUserId","bindAction"}), SigAlg and Signature,
// signed over the bindRequest value; Config.BindConvention and
// Config.BindByGET select the other signature convention and a GET.
//
// Everything is kept in memory, except the bindings when Config.StateFile
// is set. Every page says "Mock Huawei Cloud IAM" so it cannot be mistaken
// for the real service.
package mockiam
