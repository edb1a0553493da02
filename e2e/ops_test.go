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
	"time"

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
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	b.submit(notify, notify.form(t, "/saml/bind"))
	b.get(env.IdPURL + "/saml/sso?SAMLRequest=x") // refused: not signed
	after := scrape()

	for _, m := range []struct {
		name   string
		labels []string
	}{
		{"hcidp_sso_requests_total", []string{`outcome="issued"`}},
		{"hcidp_sso_requests_total", []string{`outcome="refused"`, `reason="signature.missing"`}},
		{"hcidp_logins_total", []string{`outcome="success"`}},
		{"hcidp_bind_callbacks_total", []string{`outcome="bound"`, `convention="value"`}},
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

// TestReadyz: the public /readyz gives the status and the failing checks
// only; the metrics listener's /readyz adds the certificate detail; both
// answer 503 when the database is gone.
func TestReadyz(t *testing.T) {
	opsAddr := freePort(t)
	env, err := demo.Start(context.Background(), demo.Options{
		DataDir: t.TempDir(), IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0", IAMKeyBits: 2048,
		Password: "correct horse battery", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: func(c *config.Config) { c.MetricsListen = opsAddr },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	get := func(u string) (int, string) {
		t.Helper()
		var resp *http.Response
		var err error
		for range 50 { // the metrics listener starts with Serve
			if resp, err = http.Get(u); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get(env.IdPURL + "/readyz")
	if code != 200 || strings.TrimSpace(body) != `{"ready":true,"failing":[]}` {
		t.Fatalf("public readyz: %d %s", code, body)
	}
	code, body = get("http://" + opsAddr + "/readyz")
	var r struct {
		Ready          bool              `json:"ready"`
		Checks         map[string]string `json:"checks"`
		SPCertificates []struct {
			Site     string `json:"site"`
			Subject  string `json:"subject"`
			DaysLeft int    `json:"days_left"`
		} `json:"sp_certificates"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if code != 200 || !r.Ready || r.Checks["database"] != "ok" || r.Checks["signing_key"] != "ok" ||
		len(r.SPCertificates) != 1 || r.SPCertificates[0].Site != "cn" || r.SPCertificates[0].Subject == "" || r.SPCertificates[0].DaysLeft < 300 {
		t.Fatalf("metrics listener readyz: %d %s", code, body)
	}
	// Database gone: not ready (503) on both.
	env.IdP.Store.Close()
	if code, body := get(env.IdPURL + "/readyz"); code != 503 || strings.TrimSpace(body) != `{"ready":false,"failing":["database"]}` {
		t.Fatalf("public readyz with the database closed: %d %s", code, body)
	}
	if code, body := get("http://" + opsAddr + "/readyz"); code != 503 || !strings.Contains(body, `"database":"unreachable"`) {
		t.Fatalf("metrics listener readyz with the database closed: %d %s", code, body)
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
