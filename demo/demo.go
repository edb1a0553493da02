// Package demo starts a complete local installation on loopback: the IdP on
// SQLite with generated dev keys, a mock Huawei Cloud IAM playing the China
// site, a demo partner portal's OpenID Connect provider (package portalop)
// the IdP signs customers in through, and a demo customer. `idp demo` runs it for people; the end-to-end
// and browser tests run the very same thing.
//
// The IdP and the mock IAM are on different sites, as in production: the
// IdP at http://127.0.0.1:PORT, the mock at http://localhost:PORT. So a
// real browser shows the real cookie behaviour: the mock's cross-site form
// POST of the bind-result notification arrives at the IdP without the
// SameSite=Lax session cookie.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"hcidp/demo/portalop"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"hcidp/app"
	"hcidp/config"
	"hcidp/customer"
	"hcidp/huawei"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/mockiam"
	"hcidp/storage"
)

// Options tune Start. Zero values give the defaults of `idp demo`.
type Options struct {
	// DataDir holds keys, the SQLite database and the generated config.
	DataDir string
	// IdPAddr and IAMAddr are loopback listen addresses ("127.0.0.1:0" picks a port).
	// The IdP's URL uses the listener's IP address, the mock IAM's the name
	// localhost: two sites.
	IdPAddr string
	IAMAddr string
	// IAM edits the mock IAM's configuration before start (tests: the
	// notification's signature convention, GET).
	IAM func(*mockiam.Config)
	// IAMKeyBits is the mock IAM's RSA key size (default 4096, like Huawei's).
	IAMKeyBits int
	// Username and Password of the demo customer; a random password by default.
	Username string
	Password string
	Logger   *slog.Logger
	// Config, when set, edits the generated configuration before start.
	Config func(*config.Config)
	// PortalPasswordLogin is written as upstream_oidc.password_login
	// (default true: the login page offers both ways in).
	PortalPasswordLogin *bool
}

// Env is a running demo.
type Env struct {
	IdP          *app.Instance
	IAM          *mockiam.Server
	IdPURL       string
	IAMURL       string
	PortalURL    string
	ConfigFile   string
	Username     string
	Password     string
	XAccountType string
	// PortalOP is the demo portal's OpenID Connect provider; PortalUser and
	// PortalPassword sign in there as the demo customer.
	PortalOP       *portalop.Server
	PortalUser     string
	PortalPassword string
	cancel         context.CancelFunc
	done           chan error
}

// Start brings the demo up and returns when both servers accept connections.
func Start(ctx context.Context, o Options) (*Env, error) {
	if o.DataDir == "" {
		o.DataDir = "hcidp-demo"
	}
	if o.IdPAddr == "" {
		o.IdPAddr = "127.0.0.1:8080"
	}
	if o.IAMAddr == "" {
		o.IAMAddr = "127.0.0.1:8081"
	}
	if o.IAMKeyBits == 0 {
		o.IAMKeyBits = 4096
	}
	if o.Username == "" {
		o.Username = "demo-customer"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	for _, a := range []string{o.IdPAddr, o.IAMAddr} {
		host, _, err := net.SplitHostPort(a)
		if err != nil || !huawei.IsLoopbackHost(host) {
			return nil, fmt.Errorf("demo: %q is not a loopback address: the demo only listens on loopback", a)
		}
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, err
	}
	// The listeners first: a taken port fails at once, before a 4096-bit
	// key is generated.
	idpLn, err := net.Listen("tcp", o.IdPAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: IdP listener: %w", err)
	}
	iamLn, err := net.Listen("tcp", o.IAMAddr)
	if err != nil {
		idpLn.Close()
		return nil, fmt.Errorf("demo: mock IAM listener: %w", err)
	}
	_, iamKey, idpCert, iamCert, err := demoKeys(o.DataDir, o.IAMKeyBits)
	if err != nil {
		idpLn.Close()
		iamLn.Close()
		return nil, err
	}

	idpURL := "http://" + idpLn.Addr().String()
	// The demo portal's OpenID provider: hcidp's client, one user who is the
	// demo customer (claim xaccount_id).
	if o.Password == "" {
		o.Password = randomPassword()
	}
	portalUser, portalPassword, clientSecret := "demo", randomPassword(), randomPassword()
	op, err := portalop.Start(ctx, portalop.Config{Addr: "127.0.0.1:0", ClientID: "hcidp-demo", ClientSecret: clientSecret,
		RedirectURI: idpURL + "/oidc/callback", Title: "Demo Portal", Logger: o.Logger.With("component", "demo-portal"),
		Users: []portalop.User{{Subject: "portal-user-0001", Username: portalUser, Password: portalPassword,
			Email: "demo.customer@example.com", EmailVerified: true, Name: "Demo Customer",
			Claims: map[string]any{"xaccount_id": o.Username}}}})
	if err != nil {
		idpLn.Close()
		iamLn.Close()
		return nil, fmt.Errorf("demo: portal OpenID provider: %w", err)
	}
	closeAll := func() { idpLn.Close(); iamLn.Close(); op.Close() }
	secretFile := filepath.Join(o.DataDir, "portal-oidc-client-secret")
	if err := os.WriteFile(secretFile, []byte(clientSecret), 0o600); err != nil {
		closeAll()
		return nil, err
	}
	passwordLogin := true
	if o.PortalPasswordLogin != nil {
		passwordLogin = *o.PortalPasswordLogin
	}
	iamURL := "http://" + net.JoinHostPort("localhost", strconv.Itoa(iamLn.Addr().(*net.TCPAddr).Port))
	const xAccountType, bpID = "HCIDPDEMO", "demo-bp-0001"

	iamCfg := mockiam.Config{
		Site: "cn", BaseURL: iamURL, XAccountType: xAccountType, BpID: bpID,
		Key: iamKey, Cert: iamCert,
		IdPEntityID: idpURL + "/saml/metadata", IdPSSOURL: idpURL + "/saml/sso",
		IdPCerts: []*x509.Certificate{idpCert}, BindCallbackURL: idpURL + "/saml/bind",
		StateFile: filepath.Join(o.DataDir, "mock-iam-bindings.json"),
		Logger:    o.Logger.With("component", "mock-iam"),
	}
	if o.IAM != nil {
		o.IAM(&iamCfg)
	}
	iam, err := mockiam.New(iamCfg)
	if err != nil {
		closeAll()
		return nil, err
	}
	spFile := filepath.Join(o.DataDir, "mock-iam-sp-metadata.xml")
	if err := os.WriteFile(spFile, iam.Metadata(), 0o644); err != nil {
		closeAll()
		return nil, err
	}
	cfgFile := filepath.Join(o.DataDir, "demo.yaml")
	cfgText := fmt.Sprintf(`# Generated by "idp demo": the IdP on loopback, trusting the mock Huawei IAM.
listen: %q
base_url: %q
key_file: idp.key
cert_file: idp.crt
bp_id: %q
x_account_type: %q
database: "sqlite:hcidp.db"
service_providers:
  - site: cn
    metadata_file: mock-iam-sp-metadata.xml
    require_signed_metadata: true
    signing_key_pins: [%q]   # the mock IAM's key, not Huawei's
    auth_url: %q
    console_url: %q
upstream_oidc:              # the demo portal's OpenID provider: "Sign in with Demo Portal"
  issuer: %q
  client_id: hcidp-demo
  client_secret_file: portal-oidc-client-secret
  claim_xaccount_id: xaccount_id
  claim_email: email
  claim_display_name: name
  display_name: Demo Portal
  password_login: %t
`, idpLn.Addr().String(), idpURL, bpID, xAccountType, metadata.KeyPin(iamCert), iamURL, iamURL+"/console", op.Issuer(), passwordLogin)
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		closeAll()
		return nil, err
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		closeAll()
		return nil, err
	}
	if o.Config != nil {
		o.Config(cfg)
	}
	in, err := app.New(ctx, cfg, app.Options{Logger: o.Logger.With("component", "idp"), Portal: true})
	if err != nil {
		closeAll()
		return nil, err
	}
	if err := ensureCustomer(ctx, in.Store, o.Username, o.Password); err != nil {
		in.Close()
		closeAll()
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	env := &Env{IdP: in, IAM: iam, IdPURL: idpURL, IAMURL: iamURL, PortalURL: idpURL + "/",
		ConfigFile: cfgFile, Username: o.Username, Password: o.Password, XAccountType: xAccountType,
		PortalOP: op, PortalUser: portalUser, PortalPassword: portalPassword,
		cancel: cancel, done: make(chan error, 2)}
	iamSrv := &http.Server{Handler: iam.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-runCtx.Done()
		iamSrv.Close()
	}()
	go func() {
		err := iamSrv.Serve(iamLn)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		env.done <- err
	}()
	go func() { env.done <- in.Serve(runCtx, idpLn) }()
	return env, nil
}

// Close stops both servers and closes the database.
func (e *Env) Close() error {
	e.cancel()
	err := errors.Join(<-e.done, <-e.done)
	return errors.Join(err, e.PortalOP.Close(), e.IdP.Close())
}

// Wait blocks until a server stops by itself or ctx ends.
func (e *Env) Wait(ctx context.Context) error {
	select {
	case err := <-e.done:
		e.done <- err
		return err
	case <-ctx.Done():
		return nil
	}
}

// demoKeys loads (creating them once) the IdP's dev key pair and the mock
// IAM's.
func demoKeys(dir string, iamBits int) (idpKey, iamKey *rsa.PrivateKey, idpCert, iamCert *x509.Certificate, err error) {
	idpKeyFile, idpCertFile, err := ensureKeys(dir, "", 2048, "hcidp demo IdP")
	if err != nil {
		return
	}
	if idpKey, idpCert, err = keys.LoadKeyPair(idpKeyFile, idpCertFile); err != nil {
		return
	}
	iamKeyFile, iamCertFile, err := ensureKeys(dir, "mock-iam", iamBits, "auth.huaweicloud.com (mock)")
	if err != nil {
		return
	}
	iamKey, iamCert, err = keys.LoadKeyPair(iamKeyFile, iamCertFile)
	return
}

// ensureKeys creates DIR/<prefix>idp.key|crt (or DIR/<name>.key|crt) once.
func ensureKeys(dir, name string, bits int, cn string) (string, string, error) {
	if name == "" {
		name = "idp"
	}
	keyFile, certFile := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".crt")
	if _, err := os.Stat(keyFile); err == nil {
		return keyFile, certFile, nil
	}
	key, cert, err := keys.Generate(bits, cn, 365*24*time.Hour, time.Now())
	if err != nil {
		return "", "", err
	}
	if name == "idp" {
		return keyFile, certFile, keys.WriteFiles(dir, key, cert, false)
	}
	// keys.WriteFiles writes idp.key/idp.crt: write the mock's into a
	// sub-directory, then move them next to the IdP's.
	tmp, err := os.MkdirTemp(dir, "keys-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	if err := keys.WriteFiles(tmp, key, cert, false); err != nil {
		return "", "", err
	}
	if err := os.Rename(filepath.Join(tmp, "idp.key"), keyFile); err != nil {
		return "", "", err
	}
	return keyFile, certFile, os.Rename(filepath.Join(tmp, "idp.crt"), certFile)
}

// ensureCustomer creates the demo customer or resets its password.
func ensureCustomer(ctx context.Context, st storage.Storage, id, password string) error {
	now := time.Now()
	err := customer.Add(ctx, st, storage.Customer{XAccountID: id, DisplayName: "Demo Customer",
		Email: "demo.customer@example.com", Name: "demo_customer", Mobile: "+86-13800000000"}, password, now)
	if err == nil || !errors.Is(err, storage.ErrAlreadyExists) {
		return err
	}
	if err := customer.SetDisabled(ctx, st, id, false, now); err != nil {
		return err
	}
	return customer.SetPassword(ctx, st, id, password, now)
}

// randomPassword returns 20 random base32 characters (100 bits).
func randomPassword() string { return rand.Text()[:20] }
