package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gomodule/redigo/redis"

	"hcidp/config"
	"hcidp/demo"
)

// metricValue returns the value of one sample line of /metrics, or 0.
func metricValue(t *testing.T, body, name string, labels ...string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if ok {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	return 0
}

func TestMetricsMove(t *testing.T) {
	env := startDemo(t, 2048)
	b := newBrowser(t)
	scrape := func() string { return b.get(env.IdPURL + "/metrics").Body }

	before := scrape()
	post := signIn(t, b, env, "correct horse battery")
	samlResponse(t, env, post)
	bindPage := b.submit(post, post.form(t, "/authui/saml/SAMLAssertionConsumer"))
	b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	b.get(env.IdPURL + "/saml/sso?SAMLRequest=x") // refused: not signed
	after := scrape()

	for _, m := range []struct {
		name   string
		labels []string
	}{
		{"hcidp_sso_requests_total", []string{`outcome="issued"`}},
		{"hcidp_sso_requests_total", []string{`outcome="refused"`, `reason="signature.missing"`}},
		{"hcidp_logins_total", []string{`outcome="success"`}},
		{"hcidp_bind_callbacks_total", []string{`outcome="bound"`}},
		{"hcidp_response_signing_seconds_count", nil},
	} {
		if d := metricValue(t, after, m.name, m.labels...) - metricValue(t, before, m.name, m.labels...); d < 1 {
			t.Errorf("%s%v did not move (delta %v)", m.name, m.labels, d)
		}
	}
	if !regexp.MustCompile(`hcidp_certificate_expiry_timestamp_seconds\{role="sp",site="cn",subject="[^"]+"\} [0-9.e+]+`).MatchString(after) {
		t.Errorf("no SP certificate expiry gauge in /metrics")
	}
	if !strings.Contains(after, `hcidp_certificate_expiry_timestamp_seconds{role="idp"`) {
		t.Errorf("no IdP certificate expiry gauge in /metrics")
	}
	if v := metricValue(t, after, "hcidp_database_up"); v != 1 {
		t.Errorf("hcidp_database_up = %v with the database up, want 1", v)
	}
}

func TestReadyz(t *testing.T) {
	env := startDemo(t, 2048)
	resp, err := http.Get(env.IdPURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Ready          bool              `json:"ready"`
		Checks         map[string]string `json:"checks"`
		SPCertificates []struct {
			Site     string `json:"site"`
			DaysLeft int    `json:"days_left"`
		} `json:"sp_certificates"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !r.Ready || r.Checks["database"] != "ok" || r.Checks["signing_key"] != "ok" ||
		len(r.SPCertificates) != 1 || r.SPCertificates[0].Site != "cn" || r.SPCertificates[0].DaysLeft < 300 {
		t.Fatalf("readyz: %d %+v", resp.StatusCode, r)
	}
	// Database gone: not ready (503), while /healthz... also reports it.
	env.IdP.Store.Close()
	resp2, err := http.Get(env.IdPURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 503 || !strings.Contains(string(body), `"database":"unreachable"`) {
		t.Fatalf("readyz with the database closed: %d %s", resp2.StatusCode, body)
	}
}

// TestRedisSessions runs the IdP with sessions in Redis: the session lives in
// Redis, not in the database, and SSO works with it.
func TestRedisSessions(t *testing.T) {
	addr := os.Getenv("HCIDP_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HCIDP_TEST_REDIS_ADDR not set: Redis tests skipped (scripts/test.sh sets it when Redis is installed)")
	}
	conn, err := redis.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("HCIDP_TEST_REDIS_ADDR is set but Redis is unreachable: %v", err)
	}
	defer conn.Close()
	env, err := demo.Start(context.Background(), demo.Options{
		DataDir: t.TempDir(), IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0", IAMKeyBits: 2048,
		Password: "correct horse battery", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: func(c *config.Config) { c.SessionStore = "redis://" + addr + "/0" },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	b := newBrowser(t)
	post := signIn(t, b, env, "correct horse battery")
	samlResponse(t, env, post)
	var token string
	for _, c := range b.client.Jar.Cookies(mustURL(env.IdPURL)) {
		if c.Name == "hcidp_session" {
			token = c.Value
		}
	}
	if token == "" {
		t.Fatal("no session cookie")
	}
	if n, err := redis.Int(conn.Do("EXISTS", "hcidp:session:"+token)); err != nil || n != 1 {
		t.Fatalf("session %s not in Redis: %v %v", token, n, err)
	}
	if _, found, _ := env.IdP.Store.Find(token); found {
		t.Fatal("session also stored in the database")
	}
	conn.Do("DEL", "hcidp:session:"+token)
}
