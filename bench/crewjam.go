package bench

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"
)

// CrewjamIdP returns crewjam/saml v0.5.1's IdentityProvider set up to answer
// the mock IAM's AuthnRequests: RSA-SHA256 signatures, a fixed session, and
// the SP metadata without its encryption KeyDescriptor (with one, crewjam
// encrypts the Assertion, which Huawei's profile does not do and which would
// not compare like with like). It verifies no request signature: v0.5.1
// cannot. ssoURL must equal the AuthnRequests' Destination.
func CrewjamIdP(key *rsa.PrivateKey, cert *x509.Certificate, ssoURL string, spMetadata []byte) (*saml.IdentityProvider, error) {
	sp, err := samlsp.ParseMetadata(spMetadata)
	if err != nil {
		return nil, fmt.Errorf("crewjam: SP metadata: %w", err)
	}
	StripEncryptionKeys(sp)
	sso, err := url.Parse(ssoURL)
	if err != nil {
		return nil, err
	}
	meta := *sso
	meta.Path = "/saml/metadata"
	return &saml.IdentityProvider{
		Key:                     key,
		Certificate:             cert,
		Logger:                  log.New(io.Discard, "", 0),
		MetadataURL:             meta,
		SSOURL:                  *sso,
		ServiceProviderProvider: fixedSP{sp},
		SessionProvider:         FixedSession{},
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
	}, nil
}

// StripEncryptionKeys removes every use="encryption" KeyDescriptor.
func StripEncryptionKeys(ed *saml.EntityDescriptor) {
	for i := range ed.SPSSODescriptors {
		d := &ed.SPSSODescriptors[i]
		kept := d.KeyDescriptors[:0]
		for _, k := range d.KeyDescriptors {
			if k.Use != "encryption" {
				kept = append(kept, k)
			}
		}
		d.KeyDescriptors = kept
	}
}

type fixedSP struct{ ed *saml.EntityDescriptor }

func (f fixedSP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	if id != f.ed.EntityID {
		return nil, os.ErrNotExist
	}
	return f.ed, nil
}

// FixedSession is a stub SessionProvider: every request belongs to the same
// signed-in customer, with the profile's attributes.
type FixedSession struct{}

// GetSession implements saml.SessionProvider.
func (FixedSession) GetSession(http.ResponseWriter, *http.Request, *saml.IdpAuthnRequest) *saml.Session {
	now := time.Now()
	return &saml.Session{
		ID: "bench-session", CreateTime: now.Add(-time.Minute), ExpireTime: now.Add(time.Hour),
		Index: "bench-session-index", NameID: "bench-customer", UserName: "bench-customer",
		UserEmail: "bench.customer@example.com",
		CustomAttributes: []saml.Attribute{
			{Name: "xUserId", FriendlyName: "xUserId", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
				Values: []saml.AttributeValue{{Type: "xs:string", Value: "bench-customer"}}},
			{Name: "xAccountId", FriendlyName: "xAccountId", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
				Values: []saml.AttributeValue{{Type: "xs:string", Value: "bench-customer"}}},
			{Name: "bpId", FriendlyName: "bpId", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
				Values: []saml.AttributeValue{{Type: "xs:string", Value: "bench-bp"}}},
		},
	}
}
