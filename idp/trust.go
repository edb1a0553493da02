package idp

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// trust is what the server trusts and signs with: the SPs' verified
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
}

func (s *Server) trust() *trust { return s.trusted.Load() }

func (s *Server) spBySite(site string) *ServiceProvider { return s.trust().bySite[site] }

func (s *Server) spByEntity(id string) *ServiceProvider { return s.trust().byEntity[id] }

// Reload replaces the trusted SPs and the signing key. cert is the signer's
// certificate; next, when not nil, is published too for a key rollover.
func (s *Server) Reload(sps []*ServiceProvider, signer *Signer, cert, next *x509.Certificate) error {
	if len(sps) == 0 || signer == nil || cert == nil {
		return errors.New("idp: at least one service provider, a signer and its certificate are required")
	}
	t := &trust{sps: sps, signer: signer, bySite: map[string]*ServiceProvider{}, byEntity: map[string]*ServiceProvider{},
		certs: []*x509.Certificate{cert}}
	for _, sp := range sps {
		if t.bySite[sp.Site] != nil {
			return fmt.Errorf("idp: site %s configured twice", sp.Site)
		}
		if t.byEntity[sp.Meta.EntityID] != nil {
			return fmt.Errorf("idp: SP entity ID %s configured twice", sp.Meta.EntityID)
		}
		t.bySite[sp.Site] = sp
		t.byEntity[sp.Meta.EntityID] = sp
	}
	if next != nil {
		t.certs = append(t.certs, next)
	}
	md, err := BuildMetadata(s.cfg, t.certs...)
	if err != nil {
		return fmt.Errorf("idp: metadata: %w", err)
	}
	t.metadata = md
	s.trusted.Store(t)
	return nil
}
