// Package portalapi is the portal hand-off API (docs/api.md; openapi.yaml
// beside this file is its contract, served at GET /api/v1/openapi.yaml):
// the partner's backend upserts and disables customers, records bindings
// already known from Huawei's create-customer API, and mints one-time
// launch URLs; and the browser side of those URLs, GET and POST /launch
// (launch.go).
package portalapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hcidp/customer"
	"hcidp/idp"
	"hcidp/login"
	"hcidp/metrics"
	"hcidp/storage"
	"hcidp/web"
)

const (
	// maxAPIBody bounds every API request body.
	maxAPIBody = 16 << 10
	// launchTokenBytes is the entropy of a launch token (256 bits).
	launchTokenBytes = 32
)

// apiHandler serves one authenticated API request. An *apiError is the
// caller's fault and is answered as is; any other error is a storage fault,
// answered 503 with Retry-After.
type apiHandler func(a *API, w http.ResponseWriter, r *http.Request) error

// apiRoute is one endpoint of the API. openapi.yaml documents exactly
// these (TestOpenAPIDocumentsEveryRoute).
type apiRoute struct {
	Method  string
	Pattern string
	Handle  apiHandler
}

var apiRoutes = []apiRoute{
	{http.MethodGet, "/api/v1/customers/{xAccountId}", (*API).apiGetCustomer},
	{http.MethodPut, "/api/v1/customers/{xAccountId}", (*API).apiPutCustomer},
	{http.MethodPost, "/api/v1/customers/{xAccountId}/disable", (*API).apiDisableCustomer},
	{http.MethodPost, "/api/v1/customers/{xAccountId}/enable", (*API).apiEnableCustomer},
	{http.MethodPut, "/api/v1/customers/{xAccountId}/bindings/{site}", (*API).apiPutBinding},
	{http.MethodGet, "/api/v1/customers/{xAccountId}/bind-events", (*API).apiListBindEvents},
	{http.MethodPost, "/api/v1/launch", (*API).apiLaunch},
}

// Config is what the API needs to know.
type Config struct {
	// BaseURL is the IdP's public URL: launch URLs start with it.
	BaseURL string
	// APIKey is the bearer key callers present; empty turns the API off.
	APIKey string
}

// Sites are the configured Huawei Cloud sites (the SAML core's SPs).
type Sites interface {
	SPBySite(site string) *idp.ServiceProvider
}

// Options are the API's collaborators.
type Options struct {
	Store   storage.Storage
	Sites   Sites
	Login   *login.Service
	Pages   *web.Pages
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// FormAction is the CSP form-action of the launch page (its POST leads,
	// through redirects, to a site's IAM).
	FormAction func() string
	Now        func() time.Time
	Rand       io.Reader
}

// API serves the portal hand-off API and the launch URLs.
type API struct {
	cfg        Config
	store      storage.Storage
	sites      Sites
	login      *login.Service
	pages      *web.Pages
	metrics    *metrics.Metrics
	log        *slog.Logger
	formAction func() string
	now        func() time.Time
	rand       io.Reader
}

// New returns the API.
func New(cfg Config, o Options) *API {
	a := &API{cfg: cfg, store: o.Store, sites: o.Sites, login: o.Login, pages: o.Pages, metrics: o.Metrics,
		log: web.Logger(o.Logger), formAction: o.FormAction, now: o.Now, rand: o.Rand}
	if a.now == nil {
		a.now = time.Now
	}
	if a.rand == nil {
		a.rand = rand.Reader
	}
	if a.formAction == nil {
		a.formAction = func() string { return "'self'" }
	}
	return a
}

//go:embed openapi.yaml
var openAPI []byte

// Mount registers the API routes, a JSON 404 for anything else under
// /api/, the contract at GET /api/v1/openapi.yaml, and the browser's /launch.
func (a *API) Mount(mux *http.ServeMux) {
	for _, rt := range apiRoutes {
		mux.Handle(rt.Method+" "+rt.Pattern, web.Endpoint("api", a.api(rt.Handle)))
	}
	mux.HandleFunc("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPI)
	})
	mux.Handle("/api/", web.Endpoint("api", a.api(func(_ *API, _ http.ResponseWriter, r *http.Request) error {
		return apiErr(http.StatusNotFound, "not_found", "no API endpoint %s %s", r.Method, truncate(r.URL.Path, 200))
	})))
	mux.Handle("/launch", web.Endpoint("launch", http.HandlerFunc(a.handleLaunch)))
}

// apiError is an API failure answered as {"error": Code, "message": Message}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func apiErr(status int, code, format string, a ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// api wraps h: the API must be configured, the caller must present the API
// key, and errors become JSON.
func (a *API) api(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if a.cfg.APIKey == "" {
			writeAPIError(w, apiErr(http.StatusNotFound, "api_disabled",
				"the portal API is not configured: set api_key, api_key_file or $HCIDP_API_KEY"))
			return
		}
		if !a.apiAuthorized(r) {
			a.log.WarnContext(r.Context(), "API request refused: bad or missing API key",
				"method", r.Method, "path", truncate(r.URL.Path, 200), "client", web.ClientAddr(r))
			w.Header().Set("WWW-Authenticate", `Bearer realm="hcidp"`)
			writeAPIError(w, apiErr(http.StatusUnauthorized, "unauthorized",
				"send the API key as Authorization: Bearer <api_key>"))
			return
		}
		err := h(a, w, r)
		if err == nil {
			return
		}
		var ae *apiError
		if errors.As(err, &ae) {
			a.log.InfoContext(r.Context(), "API request refused", "status", ae.Status, "code", ae.Code,
				"message", ae.Message, "method", r.Method, "path", truncate(r.URL.Path, 200), "client", web.ClientAddr(r))
			writeAPIError(w, ae)
			return
		}
		// Every other error is a storage fault (the handlers turn bad input
		// into an *apiError): the caller may retry.
		a.log.ErrorContext(r.Context(), "API request failed", "reason", "storage.unavailable", "err", err,
			"method", r.Method, "path", truncate(r.URL.Path, 200))
		w.Header().Set("Retry-After", web.RetryAfterUnavailable)
		writeAPIError(w, apiErr(http.StatusServiceUnavailable, "unavailable", "the IdP's database is not answering; retry later"))
	})
}

// apiAuthorized checks "Authorization: Bearer <key>". The SHA-256 digests of
// the presented and the configured key are compared in constant time, so
// neither the content nor the length of the key leaks through timing.
func (a *API) apiAuthorized(r *http.Request) bool {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	want := sha256.Sum256([]byte(a.cfg.APIKey))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // not HTML; keeps "<api_key>" readable
	enc.Encode(v)
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{e.Code, e.Message})
}

// decodeJSON reads exactly one JSON object of at most maxAPIBody bytes into
// v, refusing unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return apiErr(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as Content-Type: application/json")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	bad := func(err error) error {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return apiErr(http.StatusRequestEntityTooLarge, "too_large", "the request body exceeds %d bytes", maxAPIBody)
		}
		return apiErr(http.StatusBadRequest, "invalid_json", "the request body is not a valid JSON object of this endpoint: %v", err)
	}
	if err := dec.Decode(v); err != nil {
		return bad(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return bad(err)
	}
	return nil
}

// pathID returns the validated {xAccountId} of the request path.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("xAccountId")
	if err := customer.ValidateID(id); err != nil {
		return "", apiErr(http.StatusBadRequest, "invalid_customer", "%v", err)
	}
	return id, nil
}

// apiAudit writes the audit row of an API write: the operation, never secrets.
func (a *API) apiAudit(r *http.Request, id, site, outcome, detail string) error {
	err := a.store.AppendAudit(r.Context(), storage.AuditEvent{Time: a.now().UTC(), Kind: "api", XAccountID: id,
		Site: site, ClientAddr: web.ClientAddr(r), Outcome: outcome, Detail: detail})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a.log.InfoContext(r.Context(), "API write", "customer", id, "site", site, "outcome", outcome, "detail", detail, "client", web.ClientAddr(r))
	return nil
}

// Customers.

// apiCustomer is the customer as the API shows it, with its bindings.
type apiCustomer struct {
	customer.View
	Bindings []customer.BindingView `json:"bindings"`
}

// customerJSON renders c with its bindings on every site.
func (a *API) customerJSON(r *http.Request, c storage.Customer) (apiCustomer, error) {
	bs, err := customer.Bindings(r.Context(), a.store, c.XAccountID, "")
	if err != nil {
		return apiCustomer{}, err
	}
	return apiCustomer{View: customer.ViewOf(c), Bindings: bs}, nil
}

func customerNotFound(id string) *apiError {
	return apiErr(http.StatusNotFound, "customer_not_found", "no customer %q", id)
}

// apiGetCustomer: GET /api/v1/customers/{xAccountId}.
func (a *API) apiGetCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return a.writeCustomer(w, r, id)
}

// writeCustomer answers 200 with the customer id and its bindings.
func (a *API) writeCustomer(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := a.store.GetCustomer(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(id)
	}
	if err != nil {
		return err
	}
	out, err := a.customerJSON(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiCustomerRequest is the body of PUT /api/v1/customers/{xAccountId}.
type apiCustomerRequest struct {
	DisplayName string  `json:"display_name"`
	Email       string  `json:"email"`
	Name        string  `json:"name"`
	Mobile      string  `json:"mobile"`
	Password    *string `json:"password"`
	Disabled    *bool   `json:"disabled"`
}

// apiPutCustomer: PUT /api/v1/customers/{xAccountId} creates (201) or
// replaces (200) the customer's attributes, with the CLI's rules.
func (a *API) apiPutCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req apiCustomerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := customer.Profile{DisplayName: req.DisplayName, Email: req.Email, Name: req.Name, Mobile: req.Mobile,
		Password: req.Password, Disabled: req.Disabled}
	c, created, err := customer.Upsert(r.Context(), a.store, id, p, a.now())
	var invalid *customer.InvalidError
	switch {
	case errors.As(err, &invalid):
		return apiErr(http.StatusBadRequest, "invalid_customer", "%v", invalid)
	case errors.Is(err, storage.ErrAlreadyExists):
		return apiErr(http.StatusConflict, "email_taken", "the e-mail %q belongs to another customer", req.Email)
	case err != nil:
		return err
	}
	outcome, status := "updated", http.StatusOK
	if created {
		outcome, status = "created", http.StatusCreated
		w.Header().Set("Location", "/api/v1/customers/"+url.PathEscape(id))
	}
	detail := "customer.put"
	if req.Password != nil {
		detail += " password=changed"
	}
	if req.Disabled != nil {
		detail += fmt.Sprintf(" disabled=%v", *req.Disabled)
	}
	if err := a.apiAudit(r, id, "", outcome, detail); err != nil {
		return err
	}
	out, err := a.customerJSON(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
}

// apiDisableCustomer: POST /api/v1/customers/{xAccountId}/disable.
func (a *API) apiDisableCustomer(w http.ResponseWriter, r *http.Request) error {
	return a.apiSetDisabled(w, r, true)
}

// apiEnableCustomer: POST /api/v1/customers/{xAccountId}/enable.
func (a *API) apiEnableCustomer(w http.ResponseWriter, r *http.Request) error {
	return a.apiSetDisabled(w, r, false)
}

func (a *API) apiSetDisabled(w http.ResponseWriter, r *http.Request, disabled bool) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = customer.SetDisabled(r.Context(), a.store, id, disabled, a.now())
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(id)
	}
	if err != nil {
		return err
	}
	op := map[bool]string{true: "disabled", false: "enabled"}[disabled]
	if err := a.apiAudit(r, id, "", op, "customer."+strings.TrimSuffix(op, "d")); err != nil {
		return err
	}
	return a.writeCustomer(w, r, id)
}

// Bindings.

// apiBindingRequest is the body of PUT /api/v1/customers/{xAccountId}/bindings/{site}.
type apiBindingRequest struct {
	DomainID   string `json:"domain_id"`
	DomainName string `json:"domain_name"`
}

// apiPutBinding records a binding known from Huawei's create-customer API
// (xaccount_id + domain_id), as the CLI's `bindings add` does.
func (a *API) apiPutBinding(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	site := r.PathValue("site")
	var req apiBindingRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	b, err := customer.PutBinding(r.Context(), a.store, id, customer.Binding{Site: site, DomainID: req.DomainID,
		DomainName: req.DomainName, Source: storage.SourceAPI}, web.ClientAddr(r), a.now())
	var invalid *customer.InvalidError
	switch {
	case errors.Is(err, customer.ErrUnknownSite):
		return apiErr(http.StatusBadRequest, "invalid_site", "site %q: use cn, intl or eu", truncate(site, 20))
	case errors.As(err, &invalid):
		return apiErr(http.StatusBadRequest, "invalid_binding", "%v", invalid)
	case errors.Is(err, storage.ErrNotFound):
		return customerNotFound(id)
	case err != nil:
		return err
	}
	a.log.InfoContext(r.Context(), "API write", "customer", id, "site", site, "outcome", "recorded", "detail", "binding.put", "client", web.ClientAddr(r))
	writeJSON(w, http.StatusOK, customer.BindingViewOf(b))
	return nil
}

// apiBindEvent is a received bind-result notification as the API shows
// it: with the document verbatim.
type apiBindEvent struct {
	customer.BindEventView
	Document json.RawMessage `json:"document"`
}

// maxAPIBindEvents bounds one listing of bind events.
const maxAPIBindEvents = 1000

// apiListBindEvents: GET /api/v1/customers/{xAccountId}/bind-events, the
// customer's bind-result notifications, newest first (?limit=, default 100).
func (a *API) apiListBindEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAPIBindEvents {
			return apiErr(http.StatusBadRequest, "invalid_limit", "limit must be a number from 1 to %d", maxAPIBindEvents)
		}
		limit = n
	}
	if _, err := a.store.GetCustomer(r.Context(), id); errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(id)
	} else if err != nil {
		return err
	}
	es, err := a.store.ListBindEvents(r.Context(), id, limit)
	if err != nil {
		return err
	}
	out := struct {
		Events []apiBindEvent `json:"events"`
	}{Events: []apiBindEvent{}}
	for _, e := range es {
		doc := json.RawMessage(e.Document)
		if !json.Valid(doc) { // events of the guessed schema were not checked
			doc, _ = json.Marshal(string(e.Document))
		}
		out.Events = append(out.Events, apiBindEvent{BindEventView: customer.BindEventViewOf(e), Document: doc})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Launch URLs.

// apiLaunchRequest is the body of POST /api/v1/launch.
type apiLaunchRequest struct {
	XAccountID string `json:"xaccount_id"`
	Site       string `json:"site"`
	Service    string `json:"service"`
}

type apiLaunchResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// apiLaunch mints a one-time launch URL for an active customer: 256 random
// bits, stored only as their SHA-256, usable once within
// storage.LaunchTokenTTL.
func (a *API) apiLaunch(w http.ResponseWriter, r *http.Request) error {
	var req apiLaunchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := customer.ValidateID(req.XAccountID); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_customer", "xaccount_id: %v", err)
	}
	sp := a.sites.SPBySite(req.Site)
	if sp == nil {
		return apiErr(http.StatusBadRequest, "invalid_site", "site %q is not configured on this IdP", truncate(req.Site, 20))
	}
	if req.Service != "" && !sp.Console.Allows(req.Service) {
		return apiErr(http.StatusBadRequest, "invalid_service", "service %q is not a console URL of site %s (host %s)",
			truncate(req.Service, 200), sp.Site, sp.Console.Host)
	}
	c, err := a.store.GetCustomer(r.Context(), req.XAccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(req.XAccountID)
	}
	if err != nil {
		return err
	}
	if c.Disabled {
		return apiErr(http.StatusConflict, "customer_disabled", "customer %q is disabled", req.XAccountID)
	}
	token := web.Token(a.rand, launchTokenBytes)
	now := a.now().UTC()
	lt := storage.LaunchToken{Hash: launchTokenHash(token), XAccountID: c.XAccountID, Site: sp.Site,
		Service: req.Service, Expires: now.Add(storage.LaunchTokenTTL), Created: now}
	err = a.store.CreateLaunchToken(r.Context(), lt)
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(req.XAccountID)
	}
	if err != nil {
		return err
	}
	if err := a.apiAudit(r, c.XAccountID, sp.Site, "minted", "launch.mint"); err != nil {
		return err
	}
	a.metrics.Launch("minted")
	writeJSON(w, http.StatusCreated, apiLaunchResponse{
		URL:       a.cfg.BaseURL + "/launch?token=" + token,
		ExpiresAt: lt.Expires,
	})
	return nil
}

// launchTokenHash is what the database keeps of a token: hex SHA-256.
func launchTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
