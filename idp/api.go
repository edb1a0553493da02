package idp

// The portal hand-off API (docs/api.md; api/openapi.yaml is its contract):
// the partner's backend upserts and disables customers, records bindings
// already known from Huawei's create-customer API, and mints one-time launch
// URLs that sign a customer in without a second password.

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hcidp/customer"
	"hcidp/huawei"
	"hcidp/storage"
	"hcidp/templates"
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
type apiHandler func(s *Server, w http.ResponseWriter, r *http.Request) error

// apiRoute is one endpoint of the API. api/openapi.yaml documents exactly
// these (TestOpenAPIDocumentsEveryRoute).
type apiRoute struct {
	Method  string
	Pattern string
	Handle  apiHandler
}

var apiRoutes = []apiRoute{
	{http.MethodGet, "/api/v1/customers/{xAccountId}", (*Server).apiGetCustomer},
	{http.MethodPut, "/api/v1/customers/{xAccountId}", (*Server).apiPutCustomer},
	{http.MethodPost, "/api/v1/customers/{xAccountId}/disable", (*Server).apiDisableCustomer},
	{http.MethodPost, "/api/v1/customers/{xAccountId}/enable", (*Server).apiEnableCustomer},
	{http.MethodPut, "/api/v1/customers/{xAccountId}/bindings/{site}", (*Server).apiPutBinding},
	{http.MethodGet, "/api/v1/customers/{xAccountId}/bind-events", (*Server).apiListBindEvents},
	{http.MethodPost, "/api/v1/launch", (*Server).apiLaunch},
}

// mountAPI registers the API routes, a JSON 404 for anything else under
// /api/, and the browser's GET /launch.
func (s *Server) mountAPI(mux *http.ServeMux) {
	for _, rt := range apiRoutes {
		mux.Handle(rt.Method+" "+rt.Pattern, s.api(rt.Handle))
	}
	mux.Handle("/api/", s.api(func(_ *Server, _ http.ResponseWriter, r *http.Request) error {
		return apiErr(http.StatusNotFound, "not_found", "no API endpoint %s %s", r.Method, truncate(r.URL.Path, 200))
	}))
	mux.HandleFunc("/launch", s.handleLaunch)
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
func (s *Server) api(h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !s.cfg.APIEnabled() {
			writeAPIError(w, apiErr(http.StatusNotFound, "api_disabled",
				"the portal API is not configured: set api_key, api_key_file or $HCIDP_API_KEY"))
			return
		}
		if !s.apiAuthorized(r) {
			s.log.WarnContext(r.Context(), "API request refused: bad or missing API key",
				"method", r.Method, "path", truncate(r.URL.Path, 200), "client", clientAddr(r))
			w.Header().Set("WWW-Authenticate", `Bearer realm="hcidp"`)
			writeAPIError(w, apiErr(http.StatusUnauthorized, "unauthorized",
				"send the API key as Authorization: Bearer <api_key>"))
			return
		}
		err := h(s, w, r)
		if err == nil {
			return
		}
		var ae *apiError
		if errors.As(err, &ae) {
			s.log.InfoContext(r.Context(), "API request refused", "status", ae.Status, "code", ae.Code,
				"message", ae.Message, "method", r.Method, "path", truncate(r.URL.Path, 200), "client", clientAddr(r))
			writeAPIError(w, ae)
			return
		}
		// Every other error is a storage fault (the handlers turn bad input
		// into an *apiError): the caller may retry.
		s.log.ErrorContext(r.Context(), "API request failed", "reason", "storage.unavailable", "err", err,
			"method", r.Method, "path", truncate(r.URL.Path, 200))
		w.Header().Set("Retry-After", retryAfterUnavailable)
		writeAPIError(w, apiErr(http.StatusServiceUnavailable, "unavailable", "the IdP's database is not answering; retry later"))
	})
}

// apiAuthorized checks "Authorization: Bearer <key>". The SHA-256 digests of
// the presented and the configured key are compared in constant time, so
// neither the content nor the length of the key leaks through timing.
func (s *Server) apiAuthorized(r *http.Request) bool {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	want := sha256.Sum256([]byte(s.cfg.APIKey))
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
func (s *Server) apiAudit(r *http.Request, id, site, outcome, detail string) error {
	err := s.store.AppendAudit(r.Context(), storage.AuditEvent{Time: s.now().UTC(), Kind: "api", XAccountID: id,
		Site: site, ClientAddr: clientAddr(r), Outcome: outcome, Detail: detail})
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	s.log.InfoContext(r.Context(), "API write", "customer", id, "site", site, "outcome", outcome, "detail", detail, "client", clientAddr(r))
	return nil
}

// Customers.

// apiCustomer is the customer as the API shows it (never the password hash).
type apiCustomer struct {
	XAccountID  string       `json:"xaccount_id"`
	DisplayName string       `json:"display_name"`
	Email       string       `json:"email"`
	Name        string       `json:"name"`
	Mobile      string       `json:"mobile"`
	HasPassword bool         `json:"has_password"`
	Disabled    bool         `json:"disabled"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Bindings    []apiBinding `json:"bindings"`
}

type apiBinding struct {
	Site       string    `json:"site"`
	DomainID   string    `json:"domain_id"`
	DomainName string    `json:"domain_name"`
	Source     string    `json:"source"`
	BoundAt    time.Time `json:"bound_at"`
	// Convention and EventID: for source "notification", the signature
	// convention that verified and the bind event; "" otherwise.
	Convention string `json:"convention"`
	EventID    string `json:"event_id"`
}

func toAPIBinding(b storage.Binding) apiBinding {
	return apiBinding{Site: b.Site, DomainID: b.DomainID, DomainName: b.DomainName, Source: b.Source, BoundAt: b.BoundAt.UTC(),
		Convention: b.Convention, EventID: b.EventID}
}

// customerJSON renders c with its bindings on every site.
func (s *Server) customerJSON(r *http.Request, c storage.Customer) (apiCustomer, error) {
	out := apiCustomer{XAccountID: c.XAccountID, DisplayName: c.DisplayName, Email: c.Email, Name: c.Name,
		Mobile: c.Mobile, HasPassword: c.PasswordHash != "", Disabled: c.Disabled,
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(), Bindings: []apiBinding{}}
	for _, site := range huawei.Sites() {
		b, err := s.store.GetBinding(r.Context(), c.XAccountID, site.Name)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return apiCustomer{}, err
		}
		out.Bindings = append(out.Bindings, toAPIBinding(b))
	}
	return out, nil
}

func customerNotFound(id string) *apiError {
	return apiErr(http.StatusNotFound, "customer_not_found", "no customer %q", id)
}

// apiGetCustomer: GET /api/v1/customers/{xAccountId}.
func (s *Server) apiGetCustomer(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return s.writeCustomer(w, r, id)
}

// writeCustomer answers 200 with the customer id and its bindings.
func (s *Server) writeCustomer(w http.ResponseWriter, r *http.Request, id string) error {
	c, err := s.store.GetCustomer(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(id)
	}
	if err != nil {
		return err
	}
	out, err := s.customerJSON(r, c)
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
func (s *Server) apiPutCustomer(w http.ResponseWriter, r *http.Request) error {
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
	c, created, err := customer.Upsert(r.Context(), s.store, id, p, s.now())
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
	if err := s.apiAudit(r, id, "", outcome, detail); err != nil {
		return err
	}
	out, err := s.customerJSON(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
}

// apiDisableCustomer: POST /api/v1/customers/{xAccountId}/disable.
func (s *Server) apiDisableCustomer(w http.ResponseWriter, r *http.Request) error {
	return s.apiSetDisabled(w, r, true)
}

// apiEnableCustomer: POST /api/v1/customers/{xAccountId}/enable.
func (s *Server) apiEnableCustomer(w http.ResponseWriter, r *http.Request) error {
	return s.apiSetDisabled(w, r, false)
}

func (s *Server) apiSetDisabled(w http.ResponseWriter, r *http.Request, disabled bool) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	err = customer.SetDisabled(r.Context(), s.store, id, disabled, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(id)
	}
	if err != nil {
		return err
	}
	op := map[bool]string{true: "disabled", false: "enabled"}[disabled]
	if err := s.apiAudit(r, id, "", op, "customer."+strings.TrimSuffix(op, "d")); err != nil {
		return err
	}
	return s.writeCustomer(w, r, id)
}

// Bindings.

// apiBindingRequest is the body of PUT /api/v1/customers/{xAccountId}/bindings/{site}.
type apiBindingRequest struct {
	DomainID   string `json:"domain_id"`
	DomainName string `json:"domain_name"`
}

// apiPutBinding records a binding known from Huawei's create-customer API
// (xaccount_id + domain_id), as the CLI's `bindings add` does.
func (s *Server) apiPutBinding(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	site := r.PathValue("site")
	if _, ok := huawei.LookupSite(site); !ok {
		return apiErr(http.StatusBadRequest, "invalid_site", "site %q: use cn, intl or eu", truncate(site, 20))
	}
	var req apiBindingRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	b, err := customer.PutBinding(r.Context(), s.store, id, customer.Binding{Site: site, DomainID: req.DomainID,
		DomainName: req.DomainName, Source: storage.SourceAPI}, clientAddr(r), s.now())
	var invalid *customer.InvalidError
	switch {
	case errors.As(err, &invalid):
		return apiErr(http.StatusBadRequest, "invalid_binding", "%v", invalid)
	case errors.Is(err, storage.ErrNotFound):
		return customerNotFound(id)
	case err != nil:
		return err
	}
	s.log.InfoContext(r.Context(), "API write", "customer", id, "site", site, "outcome", "recorded", "detail", "binding.put", "client", clientAddr(r))
	writeJSON(w, http.StatusOK, toAPIBinding(b))
	return nil
}

// apiBindEvent is a received bind-result notification as the API shows it.
type apiBindEvent struct {
	ID                 string          `json:"id"`
	Site               string          `json:"site"`
	Action             string          `json:"action"`
	Convention         string          `json:"convention"`
	Source             string          `json:"source"`
	Outcome            string          `json:"outcome"`
	DomainID           string          `json:"domain_id"`
	DomainName         string          `json:"domain_name"`
	PreviousDomainID   string          `json:"previous_domain_id"`
	PreviousDomainName string          `json:"previous_domain_name"`
	ReceivedAt         time.Time       `json:"received_at"`
	DocumentSHA256     string          `json:"document_sha256"`
	Document           json.RawMessage `json:"document"`
}

// maxAPIBindEvents bounds one listing of bind events.
const maxAPIBindEvents = 1000

// apiListBindEvents: GET /api/v1/customers/{xAccountId}/bind-events, the
// customer's bind-result notifications, newest first (?limit=, default 100).
func (s *Server) apiListBindEvents(w http.ResponseWriter, r *http.Request) error {
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
	if _, err := s.store.GetCustomer(r.Context(), id); errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(id)
	} else if err != nil {
		return err
	}
	es, err := s.store.ListBindEvents(r.Context(), id, limit)
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
		out.Events = append(out.Events, apiBindEvent{ID: e.ID, Site: e.Site, Action: e.Action, Convention: e.Convention,
			Source: storage.SourceNotification, Outcome: e.Outcome, DomainID: e.DomainID, DomainName: e.DomainName,
			PreviousDomainID: e.PreviousDomainID, PreviousDomainName: e.PreviousDomainName, ReceivedAt: e.ReceivedAt.UTC(),
			DocumentSHA256: e.DocumentHash, Document: doc})
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
func (s *Server) apiLaunch(w http.ResponseWriter, r *http.Request) error {
	var req apiLaunchRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := customer.ValidateID(req.XAccountID); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_customer", "xaccount_id: %v", err)
	}
	sp := s.spBySite(req.Site)
	if sp == nil {
		return apiErr(http.StatusBadRequest, "invalid_site", "site %q is not configured on this IdP", truncate(req.Site, 20))
	}
	if req.Service != "" && !sp.Console.Allows(req.Service) {
		return apiErr(http.StatusBadRequest, "invalid_service", "service %q is not a console URL of site %s (host %s)",
			truncate(req.Service, 200), sp.Site, sp.Console.Host)
	}
	c, err := s.store.GetCustomer(r.Context(), req.XAccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(req.XAccountID)
	}
	if err != nil {
		return err
	}
	if c.Disabled {
		return apiErr(http.StatusConflict, "customer_disabled", "customer %q is disabled", req.XAccountID)
	}
	token := s.token(launchTokenBytes)
	now := s.now().UTC()
	lt := storage.LaunchToken{Hash: launchTokenHash(token), XAccountID: c.XAccountID, Site: sp.Site,
		Service: req.Service, Expires: now.Add(storage.LaunchTokenTTL), Created: now}
	err = s.store.CreateLaunchToken(r.Context(), lt)
	if errors.Is(err, storage.ErrNotFound) {
		return customerNotFound(req.XAccountID)
	}
	if err != nil {
		return err
	}
	if err := s.apiAudit(r, c.XAccountID, sp.Site, "minted", "launch.mint"); err != nil {
		return err
	}
	s.metrics.Launch("minted")
	writeJSON(w, http.StatusCreated, apiLaunchResponse{
		URL:       s.cfg.BaseURL + "/launch?token=" + token,
		ExpiresAt: lt.Expires,
	})
	return nil
}

// launchTokenHash is what the database keeps of a token: hex SHA-256.
func launchTokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// handleLaunch redeems a launch URL in the customer's browser. A link that
// a third party can make a browser open must never sign that browser in by
// itself (docs/threat-model.md "Browser-facing pages": no silent identity
// switch): GET shows a page naming the account, and says so when someone
// else is signed in; only its POST (token and CSRF token, same origin)
// consumes the token and signs in. A browser already signed in as that
// customer skips the page.
func (s *Server) handleLaunch(w http.ResponseWriter, r *http.Request) {
	// The URL carries the token: never let it travel on as a Referer,
	// whatever the site-wide policy (a redirect's policy applies onwards).
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		s.launchConfirm(w, r)
	case http.MethodPost:
		s.launchSignIn(w, r)
	default:
		// Not even HEAD: a link preview must not see whom the token names.
		w.Header().Set("Allow", "GET, POST")
		s.refuse(w, r, refuse(http.StatusMethodNotAllowed, "launch.method", r.Method+" /launch"))
	}
}

// maxLaunchForm bounds the confirmation form's body.
const maxLaunchForm = 4 << 10

// launchTokenParam returns the single, well-formed token of values.
func launchTokenParam(values url.Values) (string, *Refusal) {
	if len(values["token"]) != 1 {
		return "", refuse(http.StatusBadRequest, "launch.invalid", "not exactly one token")
	}
	token := values.Get("token")
	if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) != launchTokenBytes {
		return "", refuse(http.StatusBadRequest, "launch.invalid", "the token is not 32 base64url-encoded bytes")
	}
	return token, nil
}

// launchCustomer checks that the token's customer may still sign in and
// its site is still configured; it answers the request and returns false
// otherwise.
func (s *Server) launchCustomer(w http.ResponseWriter, r *http.Request, lt storage.LaunchToken) (storage.Customer, bool) {
	c, err := s.store.GetCustomer(r.Context(), lt.XAccountID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.unavailable(w, r, "customer", err)
		return c, false
	}
	if err != nil || c.Disabled {
		s.refuse(w, r, refuse(http.StatusBadRequest, "launch.invalid", "customer "+truncate(lt.XAccountID, 128)+" is missing or disabled"))
		return c, false
	}
	if s.spBySite(lt.Site) == nil {
		s.refuse(w, r, refuse(http.StatusBadRequest, "launch.invalid", "site "+lt.Site+" is no longer configured"))
		return c, false
	}
	return c, true
}

// launchConfirm is GET /launch?token=: it reads the token without spending
// it and shows whom it signs in.
func (s *Server) launchConfirm(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.refuse(w, r, refuse(http.StatusBadRequest, "launch.invalid", "malformed query"))
		return
	}
	token, ref := launchTokenParam(q)
	if ref != nil {
		s.refuse(w, r, ref)
		return
	}
	lt, err := s.store.GetLaunchToken(r.Context(), launchTokenHash(token), s.now())
	if errors.Is(err, storage.ErrNotFound) {
		s.refuse(w, r, refuse(http.StatusBadRequest, "launch.invalid", "unknown, already used or expired launch token"))
		return
	}
	if err != nil {
		s.unavailable(w, r, "launch", err)
		return
	}
	c, ok := s.launchCustomer(w, r, lt)
	if !ok {
		return
	}
	current, _ := s.signedIn(r.Context())
	if current == c.XAccountID {
		// Nobody's identity changes: spend the token and go on.
		s.launchRedeem(w, r, token, false)
		return
	}
	p := s.page(w, r, s.navFormAction())
	s.pages.Launch(w, templates.LaunchData{Page: p, CSRF: s.csrfToken(w, r), Token: token,
		XAccountID: c.XAccountID, DisplayName: c.DisplayName, SignedInAs: current})
}

// launchSignIn is the confirmation page's POST.
func (s *Server) launchSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLaunchForm)
	if err := r.ParseForm(); err != nil {
		s.refuse(w, r, refuse(http.StatusRequestEntityTooLarge, "launch.form", "the launch form is malformed or too large"))
		return
	}
	if !s.sameOrigin(r) {
		s.refuse(w, r, refuse(http.StatusForbidden, "launch.origin", "Origin "+truncate(r.Header.Get("Origin"), 100)+" is not this IdP"))
		return
	}
	if !s.checkCSRF(r, r.PostForm.Get("csrf_token")) {
		s.refuse(w, r, refuse(http.StatusForbidden, "launch.csrf", "missing or wrong CSRF token"))
		return
	}
	token, ref := launchTokenParam(r.PostForm)
	if ref != nil {
		s.refuse(w, r, ref)
		return
	}
	s.launchRedeem(w, r, token, true)
}

// launchRedeem consumes the token (once, whichever replica asks first),
// signs the customer in with a new session ID when signIn is set, and sends
// the browser on to /console, which builds the Huawei Cloud link as after a
// password login.
func (s *Server) launchRedeem(w http.ResponseWriter, r *http.Request, token string, signIn bool) {
	ctx := r.Context()
	now := s.now()
	lt, err := s.store.ConsumeLaunchToken(ctx, launchTokenHash(token), now)
	if errors.Is(err, storage.ErrNotFound) {
		s.refuse(w, r, refuse(http.StatusBadRequest, "launch.invalid", "unknown, already used or expired launch token"))
		return
	}
	if err != nil {
		s.unavailable(w, r, "launch", err)
		return
	}
	c, ok := s.launchCustomer(w, r, lt)
	if !ok {
		return
	}
	outcome := "signed_in"
	if !signIn {
		outcome = "continued"
	}
	if err := s.store.AppendAudit(ctx, storage.AuditEvent{Time: now.UTC(), Kind: "launch", XAccountID: c.XAccountID,
		Site: lt.Site, ClientAddr: clientAddr(r), Outcome: outcome}); err != nil {
		s.unavailable(w, r, "audit", err)
		return
	}
	if signIn {
		// The person confirmed: another customer's session is replaced, not
		// inherited, and the session gets a new ID (no fixation).
		if other, _ := s.signedIn(ctx); other != "" && other != c.XAccountID {
			if err := s.sessions.Clear(ctx); err != nil {
				s.unavailable(w, r, "session", err)
				return
			}
		}
		if err := s.sessions.RenewToken(ctx); err != nil {
			s.unavailable(w, r, "session", err)
			return
		}
		s.startSession(ctx, c.XAccountID, now)
	}
	s.metrics.Launch("used")
	s.log.InfoContext(ctx, "launch", "customer", c.XAccountID, "site", lt.Site, "outcome", outcome, "client", clientAddr(r))

	next := url.Values{"site": {lt.Site}}
	if lt.Service != "" {
		next.Set("service", lt.Service)
	}
	http.Redirect(w, r, "/console?"+next.Encode(), http.StatusSeeOther)
}
