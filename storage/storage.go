// Package storage defines the persistence contract of hcidp: customers, their
// Huawei Cloud bindings, bind-callback events, the AuthnRequest replay cache,
// browser sessions (an scs/v2 store) and the audit log. Every backend (the
// SQLite and PostgreSQL dialects of storage/sql) passes the same
// conformance suite in storage/storagetest, so that replicas sharing one
// database act as one.
package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every backend.
var (
	// ErrNotFound is returned when the requested row does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists is returned when a unique key is already taken
	// (customer ID, customer email, replay-cache entry).
	ErrAlreadyExists = errors.New("storage: already exists")
)

// Customer is a customer of the partner's sales platform.
type Customer struct {
	// XAccountID is the partner-assigned, stable account ID (xAccountId and
	// xUserId in the assertion). Primary key.
	XAccountID string
	// DisplayName is shown on pages; not sent to Huawei.
	DisplayName string
	// Email, Name and Mobile are the optional attributes of docs/profile.md §3.
	// Email is unique among customers when non-empty.
	Email  string
	Name   string
	Mobile string
	// PasswordHash is an encoded argon2id hash ("" = no password login).
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Binding links a customer to a Huawei Cloud account on one site.
type Binding struct {
	XAccountID string
	Site       string // cn, intl, eu
	DomainID   string
	DomainName string
	// Source says how the binding became known: SourceNotification (Huawei's
	// signed bind-result notification), SourceAPI (portal hand-off API) or
	// SourceCLI (`idp bindings add`).
	Source  string
	BoundAt time.Time
	// EventID and Convention name the bind event that made a binding of
	// source SourceNotification, and the signature convention that verified
	// it; empty for the other sources.
	EventID    string
	Convention string
}

// Binding sources.
const (
	SourceNotification = "notification"
	SourceAPI          = "api"
	SourceCLI          = "cli"
)

// Bind actions of a bind-result notification (docs/profile.md §4: bindAction
// "0" binds, "1" unbinds).
const (
	BindActionBind   = "bind"
	BindActionUnbind = "unbind"
)

// Outcomes of an applied bind event. Applying is idempotent by state, not
// by document (docs/profile.md §4).
const (
	// BindOutcomeBound: a bind, and the customer had no binding on the site.
	BindOutcomeBound = "bound"
	// BindOutcomeRebound: a bind naming another account than the bound one;
	// the binding now names the new account (PreviousDomainID the old).
	BindOutcomeRebound = "rebound"
	// BindOutcomeUnchanged: a bind of the account already bound (its
	// DomainName is updated if it changed), or an unbind of a customer with
	// no binding on the site.
	BindOutcomeUnchanged = "unchanged"
	// BindOutcomeUnbound: an unbind naming the bound account; the binding
	// is deleted.
	BindOutcomeUnbound = "unbound"
)

// Sentinel errors of ApplyBindEvent. Like ErrNotFound (unknown customer)
// they mean nothing was written.
var (
	// ErrNoRecentSSO: a bind for a customer to whom no assertion for the
	// event's site was issued since the given time.
	ErrNoRecentSSO = errors.New("storage: no assertion issued to the customer for this site recently")
	// ErrOtherAccount: an unbind naming another account than the bound one.
	ErrOtherAccount = errors.New("storage: the customer is bound to another account")
)

// BindEvent is one accepted bind-result notification (docs/profile.md §4),
// stored verbatim. Its ID is the caller's random identifier (at least 128
// bits): the same document may arrive again (an unbind, then the same bind)
// and is then a new event.
type BindEvent struct {
	ID string
	// DocumentHash is the hex SHA-256 of Document, for audits.
	DocumentHash string
	Site         string
	// Document is the decoded bindRequest JSON, verbatim (unknown fields too).
	Document   []byte
	XAccountID string
	DomainID   string
	DomainName string
	// Action is BindActionBind or BindActionUnbind.
	Action string
	// Convention names the signed message that verified (idp package:
	// "value" or "query").
	Convention string
	ClientAddr string
	ReceivedAt time.Time
	// Set by ApplyBindEvent: one of the BindOutcome constants, and the
	// binding found before the event (empty when there was none).
	Outcome            string
	PreviousDomainID   string
	PreviousDomainName string
}

// Bound reports whether an applied event left the customer bound on its
// site: every applied bind did, no applied unbind did (an unbind naming
// another account is refused, not applied). Events recorded under the
// guessed schema before the documented one may have the outcome "failed".
func (e BindEvent) Bound() bool {
	return e.Action == BindActionBind &&
		(e.Outcome == BindOutcomeBound || e.Outcome == BindOutcomeRebound || e.Outcome == BindOutcomeUnchanged)
}

// AuditDetail is the detail of the event's audit row (kind "bind"): the
// action, the convention, the source, the accounts involved and the
// document hash. Every backend writes the same text.
func (e BindEvent) AuditDetail() string {
	d := "event=" + e.ID + " action=" + e.Action + " convention=" + e.Convention + " source=" + SourceNotification +
		" domain_id=" + e.DomainID + " domain_name=" + e.DomainName
	if e.PreviousDomainID != "" && (e.Outcome == BindOutcomeRebound || e.Outcome == BindOutcomeUnbound) {
		d += " old_domain_id=" + e.PreviousDomainID + " old_domain_name=" + e.PreviousDomainName
	}
	if e.Outcome == BindOutcomeUnchanged && e.Action == BindActionBind && e.DomainName != "" && e.PreviousDomainName != e.DomainName {
		d += " old_domain_name=" + e.PreviousDomainName
	}
	return d + " sha256=" + e.DocumentHash
}

// AuditEvent is one line of the audit log. Never secrets or whole assertions.
type AuditEvent struct {
	ID          int64 // assigned by the backend
	Time        time.Time
	Kind        string // "response", "error_response", "bind", "login", ...
	XAccountID  string
	Site        string
	RequestID   string // AuthnRequest ID
	AssertionID string
	ClientAddr  string
	Outcome     string
	Detail      string // short, free text (e.g. bind document hash, fields)
}

// AuditFilter selects audit events; zero values select everything.
type AuditFilter struct {
	Since      time.Time
	XAccountID string
	Limit      int // 0 = no limit
}

// Storage is the persistence interface. All methods are safe for concurrent
// use by many goroutines and by many processes sharing one database.
type Storage interface {
	// CreateCustomer inserts c; ErrAlreadyExists if the ID or the non-empty
	// email is taken. CreatedAt/UpdatedAt are set by the caller.
	CreateCustomer(ctx context.Context, c Customer) error
	// GetCustomer returns ErrNotFound when absent.
	GetCustomer(ctx context.Context, xAccountID string) (Customer, error)
	// UpdateCustomer atomically reads the customer, applies fn and writes the
	// result back (the XAccountID cannot change). If fn returns an error
	// nothing is written and that error is returned. ErrNotFound when absent;
	// ErrAlreadyExists when the new email is taken by another customer.
	UpdateCustomer(ctx context.Context, xAccountID string, fn func(Customer) (Customer, error)) error
	// ListCustomers returns all customers ordered by XAccountID.
	ListCustomers(ctx context.Context) ([]Customer, error)

	// GetBinding returns the binding of a customer on a site, ErrNotFound if none.
	GetBinding(ctx context.Context, xAccountID, site string) (Binding, error)
	// PutBinding records or replaces the binding of a customer on a site
	// (admin command and API: Source SourceCLI or SourceAPI). ErrNotFound
	// when the customer does not exist.
	PutBinding(ctx context.Context, b Binding) error
	// ApplyBindEvent applies a verified bind-result notification by state
	// and records it, in one transaction: the customer must exist
	// (ErrNotFound); a bind requires an audit row of kind "response" for
	// (e.XAccountID, e.Site) at or after ssoSince (ErrNoRecentSSO); then
	//   - bind, no binding: bound (a binding of source SourceNotification);
	//   - bind, the same DomainID: unchanged (DomainName updated if changed);
	//   - bind, another DomainID: rebound (the binding names the new one);
	//   - unbind, the same DomainID: unbound (the binding is deleted);
	//   - unbind, no binding: unchanged;
	//   - unbind, another DomainID: ErrOtherAccount.
	// The event is stored with its Outcome and previous binding, and an
	// audit row (kind "bind", outcome, e.AuditDetail()) is written. On any
	// error nothing is written. It returns e with Outcome and Previous* set.
	// e.ID must be new (ErrAlreadyExists otherwise).
	ApplyBindEvent(ctx context.Context, e BindEvent, ssoSince time.Time) (BindEvent, error)
	// GetBindEvent returns the event with this ID, ErrNotFound if none.
	GetBindEvent(ctx context.Context, id string) (BindEvent, error)
	// ListBindEvents returns the customer's bind events, newest first, at
	// most limit (0 = all).
	ListBindEvents(ctx context.Context, xAccountID string, limit int) ([]BindEvent, error)

	// InsertRequestID atomically records (issuer, id) in the replay cache
	// until expires. ErrAlreadyExists if an unexpired entry exists (an
	// expired one is replaced).
	InsertRequestID(ctx context.Context, issuer, id string, expires time.Time) error
	// RecordResponse writes, in one transaction, the replay-cache entry of
	// the AuthnRequest being answered (when req is not nil; as
	// InsertRequestID) and the audit row of the Response. When the request
	// ID is already taken it returns ErrAlreadyExists and writes nothing, so
	// a failure never burns a request ID without an audit row, nor the
	// reverse.
	RecordResponse(ctx context.Context, req *RequestID, audit AuditEvent) error

	// Session store for github.com/alexedwards/scs/v2 (scs.CtxStore).
	// FindCtx returns found=false for missing or expired tokens.
	FindCtx(ctx context.Context, token string) ([]byte, bool, error)
	CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error
	DeleteCtx(ctx context.Context, token string) error
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error

	// CreateLaunchToken stores a one-time launch token. ErrNotFound when the
	// customer does not exist; ErrAlreadyExists when the hash is taken.
	CreateLaunchToken(ctx context.Context, t LaunchToken) error
	// GetLaunchToken returns the token with this hash without consuming it
	// (the confirmation page). ErrNotFound when unknown, consumed or expired at now.
	GetLaunchToken(ctx context.Context, hash string, now time.Time) (LaunchToken, error)
	// ConsumeLaunchToken atomically takes the token with this hash: it
	// returns the token and removes it in one statement, so that of many
	// concurrent consumers exactly one succeeds. ErrNotFound when the hash
	// is unknown, already consumed, or expired at now (an expired token is
	// left for GarbageCollect).
	ConsumeLaunchToken(ctx context.Context, hash string, now time.Time) (LaunchToken, error)

	// AppendAudit writes one audit event.
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns events matching f, oldest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// ReserveLoginAttempt counts a login attempt before its password is
	// checked, atomically for every replica: in one transaction it reads
	// the state of every key (e.g. "acct:<id>", "addr:<ip>") at now (the
	// zero value when absent or expired) and calls allow with them, in the
	// order of keys. If allow returns true, every key counts one more
	// attempt at now (restarting at 1 after expiry) and is kept until
	// now+keep, so keep must cover the longest lock the caller derives;
	// otherwise nothing changes. It returns the states allow saw and
	// whether the attempt was reserved. A burst of parallel attempts thus
	// gets exactly the guesses a sequence would.
	ReserveLoginAttempt(ctx context.Context, keys []string, now time.Time, keep time.Duration,
		allow func(states []LoginFailures) bool) (states []LoginFailures, reserved bool, err error)
	// RefundLoginAttempt takes one reserved attempt of key back (the attempt
	// succeeded and must not count against key). No error when absent.
	RefundLoginAttempt(ctx context.Context, key string, now time.Time) error
	// GetLoginFailures returns the state of key at now: the zero value when
	// there is none or it has expired.
	GetLoginFailures(ctx context.Context, key string, now time.Time) (LoginFailures, error)
	// ResetLoginFailures forgets key (a successful login). No error when absent.
	ResetLoginFailures(ctx context.Context, key string) error

	// Secret returns the secret stored under name, storing fresh first when
	// there is none, atomically: every replica that asks gets the value of
	// the first. For keys that all replicas must share and that outlive the
	// IdP's signing key (the browser-cookie keys).
	Secret(ctx context.Context, name string, fresh []byte) ([]byte, error)

	// GarbageCollect deletes expired sessions, replay-cache entries,
	// login-failure counters and launch tokens.
	GarbageCollect(ctx context.Context, now time.Time) (GCResult, error)
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// RequestID is one replay-cache entry: the ID of an AuthnRequest from
// Issuer, refused again until Expires.
type RequestID struct {
	Issuer  string
	ID      string
	Expires time.Time
}

// GCResult counts what GarbageCollect removed.
type GCResult struct {
	Sessions      int64
	RequestIDs    int64
	LoginFailures int64
	LaunchTokens  int64
}

// LoginFailures is the login-throttling state of one key (docs/threat-model.md
// "Browser-facing pages": throttling per account and per client address),
// shared by every replica through the database.
type LoginFailures struct {
	// Count is the number of attempts counted since the counter last
	// restarted: failures, and the attempt whose password is being checked.
	Count int
	// Last is the time of the latest counted attempt (zero when Count is 0).
	Last time.Time
}
