package idp

import (
	"crypto/x509"
	"testing"
	"time"

	"hcidp/keys"
	"hcidp/metadata"
)

func TestCertificateStatus(t *testing.T) {
	e := newCoreEnv(t)
	st := e.idp.CertificateStatus()
	if len(st) != 1 || st[0].Site != "cn" || st[0].EntityID != coreSP || st[0].Expired || st[0].Expiring ||
		st[0].DaysLeft < 360 || !st[0].NotAfter.Equal(coreSPKey().cert.NotAfter) {
		t.Fatalf("CertificateStatus = %+v", st)
	}
	// Thirty days before expiry it says expiring; after, expired.
	e.now = e.now.Add(coreSPKey().cert.NotAfter.Sub(time.Now()) - 29*24*time.Hour)
	if st := e.idp.CertificateStatus()[0]; !st.Expiring || st.Expired || st.DaysLeft != 28 && st.DaysLeft != 29 {
		t.Errorf("29 days ahead: %+v", st)
	}
	e.now = e.now.Add(30 * 24 * time.Hour)
	if st := e.idp.CertificateStatus()[0]; !st.Expired || st.DaysLeft >= 0 {
		t.Errorf("a day after expiry: %+v", st)
	}
}

func TestCertStatusOfExpiredCertificate(t *testing.T) {
	now := time.Now()
	_, cert, err := keys.Generate(2048, "old SP", time.Hour, now.Add(-50*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	st := certStatus(&ServiceProvider{Site: "eu", Meta: newTestMeta(cert)}, cert, now)
	if !st.Expired || !st.Expiring || st.DaysLeft != -3 || st.Subject != "CN=old SP" {
		t.Errorf("%+v", st)
	}
}

func newTestMeta(cert *x509.Certificate) *metadata.SP {
	return &metadata.SP{Site: "eu", EntityID: "https://auth.eu.huaweicloud.com/", SigningCerts: []*x509.Certificate{cert}, NotAfter: cert.NotAfter}
}
