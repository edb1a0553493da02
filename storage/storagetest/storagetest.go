package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/storage"
)

// Run runs the conformance suite against the backend made by newStore.
// newStore is called once per subtest and must return a fresh, empty store;
// it is responsible for closing it (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Storage)
	}{
		{"CustomerCreateGet", testCustomerCreateGet},
		{"CustomerGetMissing", testCustomerGetMissing},
		{"CustomerDuplicateID", testCustomerDuplicateID},
		{"CustomerDuplicateEmail", testCustomerDuplicateEmail},
		{"CustomerEmptyEmails", testCustomerEmptyEmails},
		{"CustomerList", testCustomerList},
		{"UpdateCustomer", testUpdateCustomer},
		{"UpdateCustomerMissing", testUpdateCustomerMissing},
		{"UpdateCustomerFnError", testUpdateCustomerFnError},
		{"UpdateCustomerEmailTaken", testUpdateCustomerEmailTaken},
		{"UpdateCustomerIDImmutable", testUpdateCustomerIDImmutable},
		{"UpdateCustomerConcurrent", testUpdateCustomerConcurrent},
		{"BindingPutGet", testBindingPutGet},
		{"BindingGetMissing", testBindingGetMissing},
		{"BindingUnknownCustomer", testBindingUnknownCustomer},
		{"BindEventBindsAfterRecentSSO", testBindEventBindsAfterRecentSSO},
		{"BindEventNeedsRecentSSOForThatSite", testBindEventNeedsRecentSSO},
		{"BindEventSameAccountUnchanged", testBindEventSameAccountUnchanged},
		{"BindEventRebind", testBindEventRebind},
		{"BindEventUnbind", testBindEventUnbind},
		{"BindEventUnbindWithoutBinding", testBindEventUnbindWithoutBinding},
		{"BindEventUnbindOtherAccountRefused", testBindEventUnbindOtherAccount},
		{"BindEventBindAgainAfterUnbind", testBindEventBindAgainAfterUnbind},
		{"BindEventUnknownCustomer", testBindEventUnknownCustomer},
		{"BindEventDuplicateID", testBindEventDuplicateID},
		{"BindEventConcurrent", testBindEventConcurrent},
		{"BindEventList", testBindEventList},
		{"ReplayCacheInsert", testReplayCacheInsert},
		{"ReplayCacheConcurrent", testReplayCacheConcurrent},
		{"ReplayCacheExpired", testReplayCacheExpired},
		{"Sessions", testSessions},
		{"SessionsExpired", testSessionsExpired},
		{"SessionsDelete", testSessionsDelete},
		{"SessionsPlainStore", testSessionsPlainStore},
		{"AuditAppendList", testAuditAppendList},
		{"AuditFilter", testAuditFilter},
		{"GarbageCollect", testGarbageCollect},
		{"LoginFailuresCount", testLoginFailuresCount},
		{"LoginFailuresExpire", testLoginFailuresExpire},
		{"LoginFailuresReset", testLoginFailuresReset},
		{"LoginFailuresConcurrent", testLoginFailuresConcurrent},
		{"LoginFailuresGarbageCollect", testLoginFailuresGarbageCollect},
		{"LoginReserveBurst", testLoginReserveBurst},
		{"LoginReserveRefused", testLoginReserveRefused},
		{"LoginRefund", testLoginRefund},
		{"Secret", testSecret},
		{"RecordResponse", testRecordResponse},
		{"RecordResponseConcurrent", testRecordResponseConcurrent},
		{"LaunchTokenGet", testLaunchTokenGet},
		{"LaunchTokenConsume", testLaunchTokenConsume},
		{"LaunchTokenUnknown", testLaunchTokenUnknown},
		{"LaunchTokenUnknownCustomer", testLaunchTokenUnknownCustomer},
		{"LaunchTokenExpired", testLaunchTokenExpired},
		{"LaunchTokenConcurrent", testLaunchTokenConcurrent},
		{"LaunchTokenGarbageCollect", testLaunchTokenGarbageCollect},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// now is a test time with a sub-microsecond part, to check that backends
// keep at least microsecond precision.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Second).Add(123456789 * time.Nanosecond)
}

func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

func customer(id, email string) storage.Customer {
	t := now()
	return storage.Customer{
		XAccountID:  id,
		DisplayName: "Customer " + id,
		Email:       email,
		CreatedAt:   t,
		UpdatedAt:   t,
	}
}

func mustCreate(t *testing.T, s storage.Storage, c storage.Customer) {
	t.Helper()
	if err := s.CreateCustomer(t.Context(), c); err != nil {
		t.Fatalf("CreateCustomer(%q): %v", c.XAccountID, err)
	}
}

func mustGet(t *testing.T, s storage.Storage, id string) storage.Customer {
	t.Helper()
	c, err := s.GetCustomer(t.Context(), id)
	if err != nil {
		t.Fatalf("GetCustomer(%q): %v", id, err)
	}
	return c
}

func checkCustomer(t *testing.T, got, want storage.Customer) {
	t.Helper()
	if !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.UpdatedAt, want.UpdatedAt) {
		t.Errorf("times = %v, %v; want %v, %v", got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("customer = %+v\nwant       %+v", got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

// Customers.

func testCustomerCreateGet(t *testing.T, s storage.Storage) {
	c := storage.Customer{
		XAccountID:   "acc-1",
		DisplayName:  "Ada Lovelace",
		Email:        "ada@example.com",
		Name:         "ada",
		Mobile:       "+86-13800000000",
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
		Disabled:     true,
		CreatedAt:    now().Add(-time.Hour),
		UpdatedAt:    now(),
	}
	mustCreate(t, s, c)
	got := mustGet(t, s, c.XAccountID)
	checkCustomer(t, got, c)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
}

func testCustomerGetMissing(t *testing.T, s storage.Storage) {
	_, err := s.GetCustomer(t.Context(), "nobody")
	wantErr(t, "GetCustomer(missing)", err, storage.ErrNotFound)
}

func testCustomerDuplicateID(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", "a@example.com"))
	err := s.CreateCustomer(t.Context(), customer("acc-1", "other@example.com"))
	wantErr(t, "CreateCustomer(duplicate ID)", err, storage.ErrAlreadyExists)
	if got := mustGet(t, s, "acc-1"); got.Email != "a@example.com" {
		t.Errorf("email = %q after failed create, want unchanged", got.Email)
	}
}

func testCustomerDuplicateEmail(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", "a@example.com"))
	err := s.CreateCustomer(t.Context(), customer("acc-2", "a@example.com"))
	wantErr(t, "CreateCustomer(duplicate email)", err, storage.ErrAlreadyExists)
	_, err = s.GetCustomer(t.Context(), "acc-2")
	wantErr(t, "GetCustomer(rejected)", err, storage.ErrNotFound)
}

func testCustomerEmptyEmails(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	mustCreate(t, s, customer("acc-2", ""))
	mustCreate(t, s, customer("acc-3", ""))
}

func testCustomerList(t *testing.T, s storage.Storage) {
	cs, err := s.ListCustomers(t.Context())
	if err != nil {
		t.Fatalf("ListCustomers(empty): %v", err)
	}
	if len(cs) != 0 {
		t.Fatalf("ListCustomers(empty) = %d customers", len(cs))
	}
	for _, id := range []string{"c", "a", "b"} {
		mustCreate(t, s, customer(id, id+"@example.com"))
	}
	cs, err = s.ListCustomers(t.Context())
	if err != nil {
		t.Fatalf("ListCustomers: %v", err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.XAccountID)
	}
	if fmt.Sprint(ids) != "[a b c]" {
		t.Errorf("ListCustomers IDs = %v, want [a b c]", ids)
	}
	checkCustomer(t, cs[0], customer("a", "a@example.com"))
}

func testUpdateCustomer(t *testing.T, s storage.Storage) {
	c := customer("acc-1", "a@example.com")
	mustCreate(t, s, c)
	later := now().Add(time.Minute)
	err := s.UpdateCustomer(t.Context(), "acc-1", func(old storage.Customer) (storage.Customer, error) {
		checkCustomer(t, old, c)
		old.DisplayName = "Renamed"
		old.Email = "new@example.com"
		old.Name, old.Mobile, old.PasswordHash = "n", "m", "h"
		old.Disabled = true
		old.UpdatedAt = later
		return old, nil
	})
	if err != nil {
		t.Fatalf("UpdateCustomer: %v", err)
	}
	want := c
	want.DisplayName, want.Email, want.Name, want.Mobile, want.PasswordHash = "Renamed", "new@example.com", "n", "m", "h"
	want.Disabled = true
	want.UpdatedAt = later
	checkCustomer(t, mustGet(t, s, "acc-1"), want)

	// The old email is free again; an email may be cleared.
	mustCreate(t, s, customer("acc-2", "a@example.com"))
	mustCreate(t, s, customer("acc-3", ""))
	err = s.UpdateCustomer(t.Context(), "acc-1", func(c storage.Customer) (storage.Customer, error) {
		c.Email = ""
		return c, nil
	})
	if err != nil {
		t.Fatalf("UpdateCustomer(clear email): %v", err)
	}
}

func testUpdateCustomerMissing(t *testing.T, s storage.Storage) {
	called := false
	err := s.UpdateCustomer(t.Context(), "nobody", func(c storage.Customer) (storage.Customer, error) {
		called = true
		return c, nil
	})
	wantErr(t, "UpdateCustomer(missing)", err, storage.ErrNotFound)
	if called {
		t.Error("fn called for a missing customer")
	}
}

func testUpdateCustomerFnError(t *testing.T, s storage.Storage) {
	c := customer("acc-1", "a@example.com")
	mustCreate(t, s, c)
	errStop := errors.New("stop")
	err := s.UpdateCustomer(t.Context(), "acc-1", func(c storage.Customer) (storage.Customer, error) {
		c.DisplayName = "changed"
		return c, fmt.Errorf("wrapped: %w", errStop)
	})
	wantErr(t, "UpdateCustomer(fn error)", err, errStop)
	checkCustomer(t, mustGet(t, s, "acc-1"), c)
}

func testUpdateCustomerEmailTaken(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", "a@example.com"))
	b := customer("acc-2", "b@example.com")
	mustCreate(t, s, b)
	err := s.UpdateCustomer(t.Context(), "acc-2", func(c storage.Customer) (storage.Customer, error) {
		c.Email = "a@example.com"
		c.DisplayName = "changed"
		return c, nil
	})
	wantErr(t, "UpdateCustomer(email taken)", err, storage.ErrAlreadyExists)
	checkCustomer(t, mustGet(t, s, "acc-2"), b)
	// The store is still usable after the failed transaction.
	mustCreate(t, s, customer("acc-3", "c@example.com"))
}

func testUpdateCustomerIDImmutable(t *testing.T, s storage.Storage) {
	c := customer("acc-1", "a@example.com")
	mustCreate(t, s, c)
	err := s.UpdateCustomer(t.Context(), "acc-1", func(c storage.Customer) (storage.Customer, error) {
		c.XAccountID = "acc-2"
		c.DisplayName = "changed"
		return c, nil
	})
	if err == nil {
		t.Fatal("UpdateCustomer changing XAccountID: want an error, got nil")
	}
	checkCustomer(t, mustGet(t, s, "acc-1"), c)
	_, err = s.GetCustomer(t.Context(), "acc-2")
	wantErr(t, "GetCustomer(new ID)", err, storage.ErrNotFound)
}

func testUpdateCustomerConcurrent(t *testing.T, s storage.Storage) {
	c := customer("acc-1", "")
	c.DisplayName = "0"
	mustCreate(t, s, c)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			errs <- s.UpdateCustomer(t.Context(), "acc-1", func(c storage.Customer) (storage.Customer, error) {
				v, err := strconv.Atoi(c.DisplayName)
				if err != nil {
					return c, err
				}
				c.DisplayName = strconv.Itoa(v + 1)
				return c, nil
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent UpdateCustomer: %v", err)
		}
	}
	if got := mustGet(t, s, "acc-1").DisplayName; got != strconv.Itoa(n) {
		t.Errorf("counter = %s after %d concurrent increments", got, n)
	}
}

// Bindings.

func checkBinding(t *testing.T, got, want storage.Binding) {
	t.Helper()
	if !sameTime(got.BoundAt, want.BoundAt) {
		t.Errorf("BoundAt = %v, want %v", got.BoundAt, want.BoundAt)
	}
	got.BoundAt, want.BoundAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("binding = %+v\nwant      %+v", got, want)
	}
}

func mustBinding(t *testing.T, s storage.Storage, id, site string) storage.Binding {
	t.Helper()
	b, err := s.GetBinding(t.Context(), id, site)
	if err != nil {
		t.Fatalf("GetBinding(%q, %q): %v", id, site, err)
	}
	return b
}

func testBindingPutGet(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	cn := storage.Binding{XAccountID: "acc-1", Site: "cn", DomainID: "d1", DomainName: "dom1", Source: "api", BoundAt: now()}
	intl := storage.Binding{XAccountID: "acc-1", Site: "intl", DomainID: "d2", DomainName: "dom2", Source: "cli", BoundAt: now()}
	for _, b := range []storage.Binding{cn, intl} {
		if err := s.PutBinding(t.Context(), b); err != nil {
			t.Fatalf("PutBinding(%s): %v", b.Site, err)
		}
	}
	checkBinding(t, mustBinding(t, s, "acc-1", "cn"), cn)
	checkBinding(t, mustBinding(t, s, "acc-1", "intl"), intl)

	cn2 := cn
	cn2.DomainID, cn2.DomainName, cn2.Source, cn2.BoundAt = "d3", "dom3", "cli", now().Add(time.Hour)
	if err := s.PutBinding(t.Context(), cn2); err != nil {
		t.Fatalf("PutBinding(replace): %v", err)
	}
	checkBinding(t, mustBinding(t, s, "acc-1", "cn"), cn2)
	checkBinding(t, mustBinding(t, s, "acc-1", "intl"), intl)
}

func testBindingGetMissing(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	_, err := s.GetBinding(t.Context(), "acc-1", "cn")
	wantErr(t, "GetBinding(missing)", err, storage.ErrNotFound)
	_, err = s.GetBinding(t.Context(), "nobody", "cn")
	wantErr(t, "GetBinding(unknown customer)", err, storage.ErrNotFound)
}

func testBindingUnknownCustomer(t *testing.T, s storage.Storage) {
	err := s.PutBinding(t.Context(), storage.Binding{XAccountID: "nobody", Site: "cn", DomainID: "d", Source: "api", BoundAt: now()})
	wantErr(t, "PutBinding(unknown customer)", err, storage.ErrNotFound)
}

// Replay cache.

func testReplayCacheInsert(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	if err := s.InsertRequestID(ctx, "sp1", "id-1", exp); err != nil {
		t.Fatalf("InsertRequestID: %v", err)
	}
	wantErr(t, "InsertRequestID(replay)", s.InsertRequestID(ctx, "sp1", "id-1", exp), storage.ErrAlreadyExists)
	if err := s.InsertRequestID(ctx, "sp2", "id-1", exp); err != nil {
		t.Errorf("InsertRequestID(other issuer): %v", err)
	}
	if err := s.InsertRequestID(ctx, "sp1", "id-2", exp); err != nil {
		t.Errorf("InsertRequestID(other ID): %v", err)
	}
}

func testReplayCacheConcurrent(t *testing.T, s storage.Storage) {
	const n = 20
	exp := time.Now().Add(time.Hour)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		ok     int
		exists int
	)
	for range n {
		wg.Go(func() {
			err := s.InsertRequestID(t.Context(), "sp1", "id-1", exp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, storage.ErrAlreadyExists):
				exists++
			default:
				t.Errorf("InsertRequestID: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || exists != n-1 {
		t.Errorf("concurrent InsertRequestID: %d succeeded, %d ErrAlreadyExists; want 1, %d", ok, exists, n-1)
	}
}

func testReplayCacheExpired(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	if err := s.InsertRequestID(ctx, "sp1", "id-1", time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("InsertRequestID(already expired): %v", err)
	}
	// The expired entry is replaced ...
	if err := s.InsertRequestID(ctx, "sp1", "id-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("InsertRequestID(over expired entry): %v", err)
	}
	// ... and the replacement is in force.
	wantErr(t, "InsertRequestID(replay)", s.InsertRequestID(ctx, "sp1", "id-1", time.Now().Add(time.Hour)), storage.ErrAlreadyExists)
}

// RecordResponse: the replay entry and the audit row commit together, or
// neither does.
func testRecordResponse(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := now()
	ev := func(assertion string) storage.AuditEvent {
		return storage.AuditEvent{Time: at, Kind: "response", XAccountID: "acc-1", Site: "cn", RequestID: "id-1",
			AssertionID: assertion, Outcome: "issued"}
	}
	req := &storage.RequestID{Issuer: "sp1", ID: "id-1", Expires: at.Add(time.Hour)}
	if err := s.RecordResponse(ctx, req, ev("a-1")); err != nil {
		t.Fatalf("RecordResponse: %v", err)
	}
	// The same request again: refused, and its audit row is not written.
	wantErr(t, "RecordResponse(replay)", s.RecordResponse(ctx, req, ev("a-2")), storage.ErrAlreadyExists)
	// The entry is in the replay cache InsertRequestID uses.
	wantErr(t, "InsertRequestID(after RecordResponse)", s.InsertRequestID(ctx, "sp1", "id-1", at.Add(time.Hour)), storage.ErrAlreadyExists)
	// Without a request (the ID was cached when the login began): audit only.
	if err := s.RecordResponse(ctx, nil, ev("a-3")); err != nil {
		t.Fatalf("RecordResponse(no request): %v", err)
	}
	got, err := s.ListAudit(ctx, storage.AuditFilter{XAccountID: "acc-1"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range got {
		ids = append(ids, e.AssertionID)
	}
	if strings.Join(ids, ",") != "a-1,a-3" {
		t.Errorf("audit rows = %v, want a-1,a-3 (the refused one unwritten)", ids)
	}
}

// RecordResponse called concurrently (the SQL store commits such calls
// together): every distinct request is recorded with its audit row; of the
// calls that share a request ID exactly one succeeds and the others get
// ErrAlreadyExists and write no row, without failing anyone else.
func testRecordResponseConcurrent(t *testing.T, s storage.Storage) {
	const distinct, copies = 150, 3
	at := now()
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		recorded  = map[string]int{}
		refused   int
		assertion int
	)
	for i := range distinct * copies {
		id := fmt.Sprintf("id-%d", i%distinct)
		mu.Lock()
		assertion++
		a := fmt.Sprintf("a-%d", assertion)
		mu.Unlock()
		wg.Go(func() {
			err := s.RecordResponse(t.Context(), &storage.RequestID{Issuer: "sp1", ID: id, Expires: at.Add(time.Hour)},
				storage.AuditEvent{Time: at, Kind: "response", XAccountID: "acc-c", Site: "cn", RequestID: id, AssertionID: a, Outcome: "issued"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				recorded[id]++
			case errors.Is(err, storage.ErrAlreadyExists):
				refused++
			default:
				t.Errorf("RecordResponse(%s): %v", id, err)
			}
		})
	}
	wg.Wait()
	for i := range distinct {
		if id := fmt.Sprintf("id-%d", i); recorded[id] != 1 {
			t.Errorf("request %s recorded %d times, want once", id, recorded[id])
		}
	}
	if refused != distinct*(copies-1) {
		t.Errorf("%d calls refused, want %d", refused, distinct*(copies-1))
	}
	got, err := s.ListAudit(t.Context(), storage.AuditFilter{XAccountID: "acc-c"})
	if err != nil {
		t.Fatal(err)
	}
	perRequest := map[string]int{}
	for _, e := range got {
		perRequest[e.RequestID]++
	}
	if len(got) != distinct || len(perRequest) != distinct {
		t.Errorf("%d audit rows for %d requests, want one row for each of %d", len(got), len(perRequest), distinct)
	}
}

// Sessions.

func mustFind(t *testing.T, s storage.Storage, token string) ([]byte, bool) {
	t.Helper()
	b, found, err := s.FindCtx(t.Context(), token)
	if err != nil {
		t.Fatalf("FindCtx(%q): %v", token, err)
	}
	return b, found
}

func testSessions(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	if _, found := mustFind(t, s, "missing"); found {
		t.Error("FindCtx(missing) found a session")
	}
	exp := time.Now().Add(time.Hour)
	if err := s.CommitCtx(ctx, "tok", []byte("one"), exp); err != nil {
		t.Fatalf("CommitCtx: %v", err)
	}
	if b, found := mustFind(t, s, "tok"); !found || string(b) != "one" {
		t.Errorf("FindCtx = %q, %v; want \"one\", true", b, found)
	}
	if err := s.CommitCtx(ctx, "tok", []byte("two"), exp); err != nil {
		t.Fatalf("CommitCtx(overwrite): %v", err)
	}
	if b, found := mustFind(t, s, "tok"); !found || string(b) != "two" {
		t.Errorf("FindCtx after overwrite = %q, %v; want \"two\", true", b, found)
	}
	bin := []byte{0, 1, 2, 0xff}
	if err := s.CommitCtx(ctx, "bin", bin, exp); err != nil {
		t.Fatalf("CommitCtx(binary): %v", err)
	}
	if b, found := mustFind(t, s, "bin"); !found || !bytes.Equal(b, bin) {
		t.Errorf("FindCtx(binary) = %v, %v; want %v, true", b, found, bin)
	}
	if err := s.CommitCtx(ctx, "empty", []byte{}, exp); err != nil {
		t.Fatalf("CommitCtx(empty): %v", err)
	}
	if b, found := mustFind(t, s, "empty"); !found || len(b) != 0 {
		t.Errorf("FindCtx(empty) = %v, %v; want empty, true", b, found)
	}
}

func testSessionsExpired(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	if err := s.CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(-time.Second)); err != nil {
		t.Fatalf("CommitCtx: %v", err)
	}
	if _, found := mustFind(t, s, "tok"); found {
		t.Error("FindCtx found an expired session")
	}
	// Re-committing with a later expiry revives the token.
	if err := s.CommitCtx(ctx, "tok", []byte("y"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CommitCtx: %v", err)
	}
	if b, found := mustFind(t, s, "tok"); !found || string(b) != "y" {
		t.Errorf("FindCtx = %q, %v; want \"y\", true", b, found)
	}
}

func testSessionsDelete(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	if err := s.DeleteCtx(ctx, "missing"); err != nil {
		t.Errorf("DeleteCtx(missing): %v", err)
	}
	exp := time.Now().Add(time.Hour)
	for _, tok := range []string{"a", "b"} {
		if err := s.CommitCtx(ctx, tok, []byte(tok), exp); err != nil {
			t.Fatalf("CommitCtx: %v", err)
		}
	}
	if err := s.DeleteCtx(ctx, "a"); err != nil {
		t.Fatalf("DeleteCtx: %v", err)
	}
	if _, found := mustFind(t, s, "a"); found {
		t.Error("FindCtx found a deleted session")
	}
	if _, found := mustFind(t, s, "b"); !found {
		t.Error("DeleteCtx removed another session")
	}
}

func testSessionsPlainStore(t *testing.T, s storage.Storage) {
	if err := s.Commit("tok", []byte("v"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	b, found, err := s.Find("tok")
	if err != nil || !found || string(b) != "v" {
		t.Fatalf("Find = %q, %v, %v; want \"v\", true, nil", b, found, err)
	}
	if err := s.Delete("tok"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, found, err := s.Find("tok"); err != nil || found {
		t.Fatalf("Find after Delete: found=%v, err=%v", found, err)
	}
	if err := s.Delete("tok"); err != nil {
		t.Fatalf("Delete(missing): %v", err)
	}
}

// Audit log.

func testAuditAppendList(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	es, err := s.ListAudit(ctx, storage.AuditFilter{})
	if err != nil || len(es) != 0 {
		t.Fatalf("ListAudit(empty) = %d events, %v", len(es), err)
	}
	base := now()
	want := storage.AuditEvent{
		Time: base, Kind: "response", XAccountID: "acc-1", Site: "intl",
		RequestID: "req-1", AssertionID: "asrt-1", ClientAddr: "192.0.2.1",
		Outcome: "ok", Detail: "fields=email",
	}
	// Appended out of order; listed by time.
	second := want
	second.Time, second.Kind = base.Add(time.Second), "login"
	for _, e := range []storage.AuditEvent{second, want} {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	es, err = s.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(es) != 2 {
		t.Fatalf("ListAudit = %d events, want 2", len(es))
	}
	if es[0].ID == 0 || es[1].ID == 0 || es[0].ID == es[1].ID {
		t.Errorf("IDs = %d, %d; want distinct, non-zero", es[0].ID, es[1].ID)
	}
	got := es[0]
	if !sameTime(got.Time, want.Time) {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	got.ID, got.Time, want.Time = 0, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("event = %+v\nwant    %+v", got, want)
	}
	if es[1].Kind != "login" {
		t.Errorf("second event kind = %q, want login", es[1].Kind)
	}
}

func testAuditFilter(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	base := now()
	for i, acc := range []string{"a", "b", "a", "b", "a"} {
		e := storage.AuditEvent{Time: base.Add(time.Duration(i) * time.Minute), Kind: "k", XAccountID: acc, Detail: strconv.Itoa(i)}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	tests := []struct {
		name string
		f    storage.AuditFilter
		want string // Detail of each event, in order
	}{
		{"all", storage.AuditFilter{}, "[0 1 2 3 4]"},
		{"since inclusive", storage.AuditFilter{Since: base.Add(2 * time.Minute)}, "[2 3 4]"},
		{"since after all", storage.AuditFilter{Since: base.Add(time.Hour)}, "[]"},
		{"account", storage.AuditFilter{XAccountID: "b"}, "[1 3]"},
		{"unknown account", storage.AuditFilter{XAccountID: "z"}, "[]"},
		{"limit oldest first", storage.AuditFilter{Limit: 2}, "[0 1]"},
		{"combined", storage.AuditFilter{Since: base.Add(time.Minute), XAccountID: "a", Limit: 1}, "[2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := s.ListAudit(ctx, tt.f)
			if err != nil {
				t.Fatalf("ListAudit: %v", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Detail)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("ListAudit(%+v) = %v, want %s", tt.f, got, tt.want)
			}
		})
	}
}

// Maintenance.

func testGarbageCollect(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	t0 := time.Now()
	past, future := t0.Add(-time.Minute), t0.Add(time.Hour)
	for tok, exp := range map[string]time.Time{"old1": past, "old2": past, "live": future} {
		if err := s.CommitCtx(ctx, tok, []byte(tok), exp); err != nil {
			t.Fatalf("CommitCtx: %v", err)
		}
	}
	for id, exp := range map[string]time.Time{"old1": past, "old2": past, "old3": past, "live": future} {
		if err := s.InsertRequestID(ctx, "sp", id, exp); err != nil {
			t.Fatalf("InsertRequestID: %v", err)
		}
	}
	got, err := s.GarbageCollect(ctx, t0)
	if err != nil {
		t.Fatalf("GarbageCollect: %v", err)
	}
	if want := (storage.GCResult{Sessions: 2, RequestIDs: 3}); got != want {
		t.Errorf("GarbageCollect = %+v, want %+v", got, want)
	}
	if _, found := mustFind(t, s, "live"); !found {
		t.Error("GarbageCollect removed a live session")
	}
	wantErr(t, "InsertRequestID(live)", s.InsertRequestID(ctx, "sp", "live", future), storage.ErrAlreadyExists)

	got, err = s.GarbageCollect(ctx, t0)
	if err != nil || got != (storage.GCResult{}) {
		t.Errorf("second GarbageCollect = %+v, %v; want zero", got, err)
	}
	// "now" is the caller's: everything has expired by then.
	got, err = s.GarbageCollect(ctx, future)
	if err != nil || got != (storage.GCResult{Sessions: 1, RequestIDs: 1}) {
		t.Errorf("GarbageCollect(future) = %+v, %v; want 1 and 1", got, err)
	}
}

func testPing(t *testing.T, s storage.Storage) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
