package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hcidp/config"
	"hcidp/keys"
	"hcidp/templates"
)

func writePair(t *testing.T, dir, cn string) {
	t.Helper()
	key, cert, err := keys.Generate(2048, cn, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteFiles(dir, key, cert, true); err != nil {
		t.Fatal(err)
	}
}

func testConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	writePair(t, dir, "hcidp app test")
	writePair(t, filepath.Join(dir, "tls"), "127.0.0.1")
	y := `base_url: https://idp.partner.example
key_file: idp.key
cert_file: idp.crt
bp_id: bp-1
x_account_type: ZXT
database: sqlite:idp.db
service_providers:
  - site: cn
` + extra
	cfg, err := config.Parse([]byte(y), dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// serving starts an Instance of cfg serving on a loopback listener;
// cancel begins its shutdown and done has what Serve returned.
func serving(t *testing.T, cfg *config.Config) (in *Instance, ln net.Listener, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	in, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- in.Serve(ctx, ln) }()
	return in, ln, cancel, served
}

func TestNativeTLSMinimumVersionAndReload(t *testing.T) {
	cfg := testConfig(t, "tls_cert_file: tls/idp.crt\ntls_key_file: tls/idp.key\n")
	in, ln, cancel, done := serving(t, cfg)
	defer func() { cancel(); <-done }()

	get := func(maxVersion uint16) (*http.Response, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion}}}
		return c.Get("https://" + ln.Addr().String() + "/healthz")
	}
	resp, err := get(tls.VersionTLS12)
	if err != nil {
		t.Fatal(err)
	}
	first := resp.TLS.PeerCertificates[0].Raw
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("TLS 1.2: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if _, err := get(tls.VersionTLS11); err == nil {
		t.Fatal("a TLS 1.1 client was accepted")
	}
	// A renewed TLS certificate is picked up by Reload (SIGHUP).
	writePair(t, filepath.Join(filepath.Dir(cfg.KeyFile), "tls"), "127.0.0.1")
	if err := in.Reload(); err != nil {
		t.Fatal(err)
	}
	resp, err = get(tls.VersionTLS13)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if bytes.Equal(resp.TLS.PeerCertificates[0].Raw, first) {
		t.Fatal("the renewed TLS certificate is not served after Reload")
	}
}

// TestReloadSwitchesSigningKey: after `idp keys rotate` moved the next pair
// into place, Reload makes the server sign with it and publish it.
func TestReloadSwitchesSigningKey(t *testing.T) {
	cfg := testConfig(t, "")
	in, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	old := in.Server.IdP().Metadata()
	writePair(t, filepath.Dir(cfg.KeyFile), "hcidp rotated") // what keys rotate leaves in place
	if err := in.Reload(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old, in.Server.IdP().Metadata()) || in.Cert.Subject.CommonName != "hcidp rotated" {
		t.Fatal("Reload did not switch to the new key pair")
	}
	// A broken key file is refused and the running key kept.
	os.WriteFile(cfg.KeyFile, []byte("garbage"), 0o600)
	if err := in.Reload(); err == nil {
		t.Fatal("Reload accepted a broken key file")
	}
	if in.Cert.Subject.CommonName != "hcidp rotated" {
		t.Fatal("a failed Reload changed the running key")
	}
}

// TestShutdownDrainsInFlightRequests: when the context ends (SIGTERM), the
// listener closes but a request already being served completes and gets its
// answer before Serve returns (docs/threat-model.md "Operations").
func TestShutdownDrainsInFlightRequests(t *testing.T) {
	cfg := testConfig(t, "")
	_, ln, cancel, done := serving(t, cfg)

	// A login form whose body arrives slowly: the handler is reading it
	// when the shutdown begins.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "username=alice&password=whatever-password"
	fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: idp.partner.example\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: %d\r\nOrigin: https://idp.partner.example\r\n\r\n%s", len(body), body[:10])
	time.Sleep(200 * time.Millisecond)
	cancel()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	default:
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts connections after the shutdown began")
	}
	io.WriteString(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden { // no CSRF cookie: refused, but answered
		t.Errorf("in-flight request: %d, want 403", resp.StatusCode)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestTemplatesDirOverridesPages: templates_dir replaces the embedded pages
// of the same name and keeps the others; a directory without pages, or a
// page that does not parse, stops the start with the key named.
func TestTemplatesDirOverridesPages(t *testing.T) {
	dir := t.TempDir()
	login, err := fs.ReadFile(templates.FS(), "login.html")
	if err != nil {
		t.Fatal(err)
	}
	branded := strings.Replace(string(login), "<main>", `<main><p id="brand">Example Partner Ltd</p>`, 1)
	if err := os.WriteFile(filepath.Join(dir, "login.html"), []byte(branded), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "templates_dir: "+dir+"\n")
	in, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rec := httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	if !strings.Contains(rec.Body.String(), `id="brand"`) || !strings.Contains(rec.Body.String(), `name="password"`) {
		t.Errorf("the overriding login page is not served:\n%s", rec.Body)
	}
	rec = httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || strings.Contains(rec.Body.String(), `id="brand"`) {
		t.Errorf("a page the directory lacks is not the embedded one: %d", rec.Code)
	}

	for name, content := range map[string]string{"no pages": "", "broken page": "{{.Nope"} {
		bad := t.TempDir()
		if content != "" {
			os.WriteFile(filepath.Join(bad, "login.html"), []byte(content), 0o644)
		}
		_, err := New(context.Background(), testConfig(t, "templates_dir: "+bad+"\n"), Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "templates_dir") {
			t.Errorf("%s: %v, want an error naming templates_dir", name, err)
		}
	}
}
