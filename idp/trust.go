package idp

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// trust is what the core trusts and signs with: the SPs' verified
// metadata and the signing key with the certificates it publishes. It is
// immutable and swapped atomically by Reload (SIGHUP: new SP metadata, a key
// rollover), so requests never see half of a change.
type trust struct {
	sps      []*ServiceProvider
	bySite   map[string]*ServiceProvider
	byEntity map[string]*ServiceProvider
	signer   *Signer
	// certs are the published signing certificates: current, then next.
	certs    []*x509.Certificate
	metadata []byte
	// verifiers hold each SP's signing keys, in the order of sps.
	verifiers []spVerifier
}

// trustedKey is one SP signing key, prepared when the trust is loaded so that the
// request path parses nothing: the RSA public key and its certificate's
// validity period.
type trustedKey struct {
	pub                 *rsa.PublicKey
	notBefore, notAfter time.Time
}

// validAt reports whether now is inside the certificate's validity period
// (RFC 5280 §4.1.2.5: both bounds inclusive).
func (k *trustedKey) validAt(now time.Time) bool {
	return !now.After(k.notAfter) && !now.Before(k.notBefore)
}

// spVerifier verifies redirect-binding signatures for one SP.
type spVerifier struct {
	sp   *ServiceProvider
	keys []trustedKey
	// allowExpired is the site's allow_expired_certificate override: its
	// keys verify whatever their validity period.
	allowExpired bool
}

// verify reports whether one of the SP's keys that is valid at v.now (any of
// its keys, with the override) verifies v. When it does not, outside is the
// first key that verified although outside its validity period, if any.
// The validity check runs only on a key whose signature verified.
func (sv *spVerifier) verify(v *QuerySignature) (ok bool, outside *trustedKey) {
	for i := range sv.keys {
		k := &sv.keys[i]
		if verifyPKCS1v15(k.pub, v.hash, v.digest, v.sig) != nil {
			continue
		}
		if sv.allowExpired || k.validAt(v.now) {
			return true, nil
		}
		if outside == nil {
			outside = k
		}
	}
	return false, outside
}

func (t *trust) verifierOf(sp *ServiceProvider) *spVerifier {
	for i := range t.verifiers {
		if t.verifiers[i].sp == sp {
			return &t.verifiers[i]
		}
	}
	return nil
}

func newSPVerifier(sp *ServiceProvider) spVerifier {
	sv := spVerifier{sp: sp, allowExpired: sp.AllowExpiredCertificate}
	for _, c := range sp.Meta.SigningCerts {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok { // LoadSP admits RSA keys only
			sv.keys = append(sv.keys, trustedKey{pub: pub, notBefore: c.NotBefore, notAfter: c.NotAfter})
		}
	}
	return sv
}

func (p *IdP) trust() *trust { return p.trusted.Load() }

// Reload replaces the trusted SPs and the signing key (SIGHUP: new SP
// metadata, a key rollover); requests in flight keep the trust they began
// with.
func (p *IdP) Reload(in Trust) error {
	if len(in.SPs) == 0 || in.Signer == nil || in.Cert == nil {
		return errors.New("idp: at least one service provider, a signer and its certificate are required")
	}
	t := &trust{sps: in.SPs, signer: in.Signer, bySite: map[string]*ServiceProvider{}, byEntity: map[string]*ServiceProvider{},
		certs: []*x509.Certificate{in.Cert}}
	for _, sp := range in.SPs {
		if t.bySite[sp.Site] != nil {
			return fmt.Errorf("idp: site %s configured twice", sp.Site)
		}
		if t.byEntity[sp.Meta.EntityID] != nil {
			return fmt.Errorf("idp: SP entity ID %s configured twice", sp.Meta.EntityID)
		}
		t.bySite[sp.Site] = sp
		t.byEntity[sp.Meta.EntityID] = sp
		t.verifiers = append(t.verifiers, newSPVerifier(sp))
	}
	if in.Next != nil {
		t.certs = append(t.certs, in.Next)
	}
	md, err := BuildMetadata(p.cfg.EntityID, p.cfg.SSOURL, t.certs...)
	if err != nil {
		return fmt.Errorf("idp: metadata: %w", err)
	}
	t.metadata = md
	p.trusted.Store(t)
	return nil
}
