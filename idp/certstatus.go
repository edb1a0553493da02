package idp

import (
	"crypto/x509"
	"sort"
	"time"
)

// certWarnBefore is how long before expiry an SP certificate is reported as
// expiring (and app warns at start).
const certWarnBefore = 30 * 24 * time.Hour

// CertStatus is the expiry state of one SP signing certificate (docs/threat-model.md
// "SP metadata loading": certificate expiry reported ahead of time), for
// health detail pages and start-up warnings.
type CertStatus struct {
	Site     string    `json:"site"`
	EntityID string    `json:"entity_id"`
	Subject  string    `json:"subject"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	// DaysLeft is the number of whole days until NotAfter (negative once expired).
	DaysLeft int `json:"days_left"`
	// Expiring is set within 30 days of NotAfter; Expired once it has
	// passed: requests verified only by it are then refused unless
	// AllowExpired (the site's allow_expired_certificate) is set.
	Expiring     bool `json:"expiring"`
	Expired      bool `json:"expired"`
	AllowExpired bool `json:"allow_expired_certificate"`
}

// CertificateStatus reports every signing certificate of every trusted SP,
// soonest expiry first, at the core's clock.
func (p *IdP) CertificateStatus() []CertStatus {
	now := p.now()
	var out []CertStatus
	for _, sp := range p.trust().sps {
		for _, c := range sp.Meta.SigningCerts {
			out = append(out, certStatus(sp, c, now))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
	return out
}

func certStatus(sp *ServiceProvider, c *x509.Certificate, now time.Time) CertStatus {
	left := c.NotAfter.Sub(now)
	days := int(left / (24 * time.Hour))
	if left < 0 && left%(24*time.Hour) != 0 {
		days-- // floor: one hour past expiry is day -1
	}
	return CertStatus{
		Site: sp.Site, EntityID: sp.Meta.EntityID, Subject: c.Subject.String(), Serial: c.SerialNumber.Text(16),
		NotAfter: c.NotAfter.UTC(), DaysLeft: days,
		Expiring: left < certWarnBefore, Expired: now.After(c.NotAfter), AllowExpired: sp.AllowExpiredCertificate,
	}
}

// KeyHealth is the state of one site's SP signing keys at a time, for the
// readiness check: how many are inside their certificate's validity period
// (Valid) and how many are not (Outside), whether a valid one expires
// within 30 days, and the site's allow_expired_certificate override.
type KeyHealth struct {
	Site           string
	Valid, Outside int
	ExpiringSoon   bool
	AllowExpired   bool
}

// KeyHealth reports every trusted site's signing keys at now.
func (p *IdP) KeyHealth(now time.Time) []KeyHealth {
	t := p.trust()
	out := make([]KeyHealth, 0, len(t.verifiers))
	for i := range t.verifiers {
		sv := &t.verifiers[i]
		h := KeyHealth{Site: sv.sp.Site, AllowExpired: sv.allowExpired}
		for _, k := range sv.keys {
			if k.validAt(now) {
				h.Valid++
				h.ExpiringSoon = h.ExpiringSoon || k.notAfter.Sub(now) < certWarnBefore
			} else {
				h.Outside++
			}
		}
		out = append(out, h)
	}
	return out
}
