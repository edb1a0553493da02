// Package metadata holds what hcidp knows about SAML 2.0 metadata
// (OASIS "Metadata for the OASIS Security Assertion Markup Language (SAML)
// V2.0", saml-metadata-2.0-os):
//
//   - the SAML URNs shared by the whole project (const.go);
//   - the Huawei Cloud sites, each its own SP (Sites, LookupSite);
//   - generation of the IdP metadata uploaded to Huawei Partner Center
//     (IdPMetadata);
//   - strict loading and signature verification of Huawei IAM's SP metadata
//     (LoadSP), with the China-site file built in (BuiltinSPMetadata);
//   - signing metadata the way Huawei does, for the mock IAM (SignMetadata);
//   - downloading a site's SP metadata and verifying it before it is
//     installed (Fetch), and what to log about its certificate's expiry
//     (SP.ExpiryNotice).
//
// Only Fetch touches the network, through the caller's http.Client.
package metadata

// MaxMetadataSize is the largest metadata document hcidp reads or writes:
// Huawei Partner Center accepts IdP metadata files of at most 2 MB
// (docs/profile.md, "Partner Center set-up"), and the same cap applies to
// SP metadata.
const MaxMetadataSize = 2 << 20
