package server

import (
	"context"
	"encoding/json"
	"hcidp/idp"
	"hcidp/web"
	"net/http"
	"strings"
	"time"
)

// readiness is the detail of GET /readyz, served only on the operator's
// metrics listener (ReadinessDetail): it names certificates.
type readiness struct {
	Ready bool              `json:"ready"`
	Check map[string]string `json:"checks"`
	// IdPCertificates are the published signing certificates (current, next).
	IdPCertificates []idpCert        `json:"idp_certificates"`
	SPCertificates  []idp.CertStatus `json:"sp_certificates"`
	// failing names the checks that make the replica not ready.
	failing []string
}

// publicReadiness is the body of GET /readyz on the public listener: the
// status and the names of failing checks, nothing about certificates (no
// subjects, serials or entity IDs, which would help nobody but an attacker
// taking stock of the installation).
type publicReadiness struct {
	Ready   bool     `json:"ready"`
	Failing []string `json:"failing"`
}

type idpCert struct {
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}

func (r *readiness) fail(check, why string) {
	r.Ready = false
	if r.Check[check] == "ok" || r.Check[check] == "" {
		r.Check[check] = why
		r.failing = append(r.failing, check)
	} else {
		r.Check[check] += "; " + why
	}
}

// readiness evaluates whether this replica can serve logins: the database
// answers, the signing key is loaded and valid, and every configured site has
// a signing key valid now (or the site's allow_expired_certificate override).
// /healthz only says the process is alive.
func (s *Server) readiness(ctx context.Context) *readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now := s.now()
	res := &readiness{Ready: true, Check: map[string]string{"database": "ok", "signing_key": "ok", "sp_metadata": "ok"},
		SPCertificates: s.idp.CertificateStatus(), IdPCertificates: []idpCert{}, failing: []string{}}
	if err := s.store.Ping(ctx); err != nil {
		res.fail("database", "unreachable")
		s.log.ErrorContext(ctx, "readiness: database unreachable", "err", err)
	}
	for i, c := range s.idp.Certificates() {
		res.IdPCertificates = append(res.IdPCertificates, idpCert{Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC(),
			DaysLeft: int(c.NotAfter.Sub(now) / (24 * time.Hour))})
		if i == 0 && now.After(c.NotAfter) {
			res.fail("signing_key", "certificate expired")
		}
	}
	keys := s.idp.KeyHealth(now)
	if len(keys) == 0 {
		res.fail("sp_metadata", "none loaded")
	}
	var notes []string
	for _, k := range keys {
		site, valid, outside, soon := k.Site, k.Valid, k.Outside, k.ExpiringSoon
		switch {
		case valid == 0 && k.AllowExpired && outside > 0:
			notes = append(notes, "certificate of site "+site+" expired or not yet valid (loaded by override)")
		case valid == 0:
			res.fail("sp_metadata", "site "+site+" has no valid signing certificate: install its current SP metadata")
		case outside > 0:
			notes = append(notes, "a certificate of site "+site+" expired or is not yet valid; another one is valid")
		case soon:
			notes = append(notes, "certificate of site "+site+" expires soon")
		}
	}
	if res.Check["sp_metadata"] == "ok" && len(notes) > 0 {
		res.Check["sp_metadata"] = strings.Join(notes, "; ")
	}
	return res
}

// handleReady answers GET /readyz on the public listener: 200 when this
// replica can serve logins, else 503, with the names of the failing checks.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	res := s.readiness(r.Context())
	writeReadiness(w, res.Ready, publicReadiness{Ready: res.Ready, Failing: res.failing})
}

// ReadinessDetail serves the readiness with the detail an operator needs
// (each check's reason, every IdP and SP certificate with its subject,
// serial and expiry) and the same 200/503 as GET /readyz. It names
// certificates, so it is mounted on the metrics listener only (app).
func (s *Server) ReadinessDetail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := s.readiness(r.Context())
		writeReadiness(w, res.Ready, res)
	})
}

func writeReadiness(w http.ResponseWriter, ready bool, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ready {
		w.Header().Set("Retry-After", web.RetryAfterUnavailable)
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(body)
}
