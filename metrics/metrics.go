// Package metrics defines hcidp's Prometheus metrics. A nil *Metrics is a
// valid no-op, so packages record unconditionally and tests need no registry.
package metrics

import (
	"crypto/x509"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the collectors.
type Metrics struct {
	sso        *prometheus.CounterVec
	logins     *prometheus.CounterVec
	binds      *prometheus.CounterVec
	launches   *prometheus.CounterVec
	upstream   *prometheus.CounterVec
	signing    prometheus.Histogram
	certExpiry *prometheus.GaugeVec
}

// New registers the collectors with reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sso: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hcidp_sso_requests_total",
			Help: "SSO requests by outcome (issued, error_response, login_required, refused) and reason code."}, []string{"outcome", "reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hcidp_logins_total",
			Help: "Login attempts by outcome (success, failure, throttled, refused)."}, []string{"outcome"}),
		binds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hcidp_bind_callbacks_total",
			Help: "Bind-result notifications by outcome (bound, rebound, unchanged, unbound, refused), reason code of a refusal, " +
				"and the signature convention that verified (value, query; empty when refused before or at the signature)."},
			[]string{"outcome", "reason", "convention"}),
		launches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hcidp_launches_total",
			Help: "Portal launch URLs by outcome (minted, used, refused)."}, []string{"outcome"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hcidp_upstream_oidc_logins_total",
			Help: "Sign-ins through the partner portal's OpenID Connect provider by outcome (success, refused) and the refusal's reason code."},
			[]string{"outcome", "reason"}),
		signing: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hcidp_response_signing_seconds",
			Help:    "Time to build and sign one Response.",
			Buckets: []float64{.0002, .0005, .00075, .001, .0015, .002, .003, .005, .01, .025, .05}}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hcidp_certificate_expiry_timestamp_seconds",
			Help: "NotAfter of each certificate in use (idp current/next, sp per site), as a Unix time."}, []string{"role", "site", "subject"}),
	}
	reg.MustRegister(m.sso, m.logins, m.binds, m.launches, m.upstream, m.signing, m.certExpiry)
	return m
}

// SSO counts one SSO request.
func (m *Metrics) SSO(outcome, reason string) {
	if m != nil {
		m.sso.WithLabelValues(outcome, reason).Inc()
	}
}

// Login counts one login attempt.
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// Bind counts one bind-result notification.
func (m *Metrics) Bind(outcome, reason, convention string) {
	if m != nil {
		m.binds.WithLabelValues(outcome, reason, convention).Inc()
	}
}

// Launch counts one launch URL event.
func (m *Metrics) Launch(outcome string) {
	if m != nil {
		m.launches.WithLabelValues(outcome).Inc()
	}
}

// Signing observes the time spent building and signing a Response.
func (m *Metrics) Signing(d time.Duration) {
	if m != nil {
		m.signing.Observe(d.Seconds())
	}
}

// Certificate records a certificate's expiry; Reset clears the set first
// (call it before recording the certificates of a reload).
func (m *Metrics) Certificate(role, site string, c *x509.Certificate) {
	if m != nil {
		m.certExpiry.WithLabelValues(role, site, c.Subject.String()).Set(float64(c.NotAfter.Unix()))
	}
}

// ResetCertificates forgets recorded certificates (before a reload).
func (m *Metrics) ResetCertificates() {
	if m != nil {
		m.certExpiry.Reset()
	}
}

// Refused counts a refused or failed request of an endpoint (the route's
// name, web.Endpoint) with its reason code.
func (m *Metrics) Refused(endpoint, reason string) {
	switch endpoint {
	case "sso":
		m.SSO("refused", reason)
	case "bind":
		m.Bind("refused", reason, "")
	case "login":
		m.Login("refused")
	case "launch":
		m.Launch("refused")
	}
}

// UpstreamLogin counts one sign-in through the upstream OpenID provider.
func (m *Metrics) UpstreamLogin(outcome, reason string) {
	if m != nil {
		m.upstream.WithLabelValues(outcome, reason).Inc()
	}
}
