package idp

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// readiness is the body of GET /readyz.
type readiness struct {
	Ready bool              `json:"ready"`
	Check map[string]string `json:"checks"`
	// IdPCertificates are the published signing certificates (current, next).
	IdPCertificates []idpCert    `json:"idp_certificates"`
	SPCertificates  []CertStatus `json:"sp_certificates"`
}

type idpCert struct {
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}

// handleReady answers 200 when this replica can serve logins: the database
// answers, the signing key is loaded and valid, and SP metadata is loaded.
// /healthz only says the process is alive.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	now := s.now()
	t := s.trust()
	res := readiness{Ready: true, Check: map[string]string{}, SPCertificates: s.CertificateStatus()}
	if err := s.store.Ping(ctx); err != nil {
		res.Ready, res.Check["database"] = false, "unreachable"
		s.log.ErrorContext(ctx, "readiness: database unreachable", "err", err)
	} else {
		res.Check["database"] = "ok"
	}
	res.Check["signing_key"] = "ok"
	for i, c := range t.certs {
		res.IdPCertificates = append(res.IdPCertificates, idpCert{Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC(),
			DaysLeft: int(c.NotAfter.Sub(now) / (24 * time.Hour))})
		if i == 0 && now.After(c.NotAfter) {
			res.Ready, res.Check["signing_key"] = false, "certificate expired"
		}
	}
	res.Check["sp_metadata"] = "ok"
	if len(t.sps) == 0 {
		res.Ready, res.Check["sp_metadata"] = false, "none loaded"
	}
	for _, c := range res.SPCertificates {
		if c.Expired {
			res.Check["sp_metadata"] = "certificate of site " + c.Site + " expired (loaded by override)"
		} else if c.Expiring && res.Check["sp_metadata"] == "ok" {
			res.Check["sp_metadata"] = "certificate of site " + c.Site + " expires soon"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !res.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(res)
}
