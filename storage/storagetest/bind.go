package storagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/storage"
)

// Bind events (docs/profile.md §4): applied by state in one transaction,
// a bind only after a recent assertion for the same customer and site.

// bindDoc is a bind-result document as Huawei documents it.
func bindDoc(id, domainID, domainName, action string) []byte {
	return fmt.Appendf(nil, `{"domainName":%q,"domainId":%q,"xUserId":%q,"bindAction":%q}`, domainName, domainID, id, action)
}

var eventSeq struct {
	sync.Mutex
	n int
}

// bindEventFor returns an event of action for customer id on site cn with a
// fresh ID, received at now().
func bindEventFor(id, domainID, domainName, action string) storage.BindEvent {
	eventSeq.Lock()
	eventSeq.n++
	n := eventSeq.n
	eventSeq.Unlock()
	code := map[string]string{storage.BindActionBind: "0", storage.BindActionUnbind: "1"}[action]
	doc := bindDoc(id, domainID, domainName, code)
	sum := sha256.Sum256(doc)
	return storage.BindEvent{
		ID:           fmt.Sprintf("ev-%06d-%s", n, strings.Repeat("x", 16)),
		DocumentHash: hex.EncodeToString(sum[:]),
		Site:         "cn",
		Document:     doc,
		XAccountID:   id,
		DomainID:     domainID,
		DomainName:   domainName,
		Action:       action,
		Convention:   "value",
		ClientAddr:   "192.0.2.7",
		ReceivedAt:   now(),
	}
}

// issued writes the audit row of an assertion issued to id for site at t.
func issued(t *testing.T, s storage.Storage, id, site string, at time.Time) {
	t.Helper()
	if err := s.AppendAudit(t.Context(), storage.AuditEvent{Time: at, Kind: "response", XAccountID: id, Site: site,
		RequestID: "_req", AssertionID: "_a", Outcome: "issued"}); err != nil {
		t.Fatalf("AppendAudit(response): %v", err)
	}
}

// window is the ssoSince of a one-hour bind window.
func window() time.Time { return now().Add(-time.Hour) }

func mustApply(t *testing.T, s storage.Storage, e storage.BindEvent, wantOutcome string) storage.BindEvent {
	t.Helper()
	got, err := s.ApplyBindEvent(t.Context(), e, window())
	if err != nil {
		t.Fatalf("ApplyBindEvent(%s %s): %v", e.Action, e.DomainID, err)
	}
	if got.Outcome != wantOutcome {
		t.Fatalf("ApplyBindEvent(%s %s): outcome %q, want %q", e.Action, e.DomainID, got.Outcome, wantOutcome)
	}
	return got
}

// bindState is what a bind event may write: for "nothing written" checks.
type bindState struct {
	audit, events int
	binding       storage.Binding // zero when none
}

func stateOf(t *testing.T, s storage.Storage, id string) bindState {
	t.Helper()
	as, err := s.ListAudit(t.Context(), storage.AuditFilter{})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	es, err := s.ListBindEvents(t.Context(), id, 0)
	if err != nil {
		t.Fatalf("ListBindEvents: %v", err)
	}
	st := bindState{audit: len(as), events: len(es)}
	if b, err := s.GetBinding(t.Context(), id, "cn"); err == nil {
		st.binding = b
	}
	return st
}

func wantNothingWritten(t *testing.T, s storage.Storage, id string, before bindState) {
	t.Helper()
	after := stateOf(t, s, id)
	if after.audit != before.audit || after.events != before.events ||
		after.binding.DomainID != before.binding.DomainID || after.binding.DomainName != before.binding.DomainName ||
		after.binding.EventID != before.binding.EventID {
		t.Fatalf("a refused bind event wrote something: before %+v, after %+v", before, after)
	}
}

// lastAudit returns the newest audit row of kind "bind" of id.
func lastBindAudit(t *testing.T, s storage.Storage, id string) storage.AuditEvent {
	t.Helper()
	as, err := s.ListAudit(t.Context(), storage.AuditFilter{XAccountID: id})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Kind == "bind" {
			return as[i]
		}
	}
	t.Fatal("no audit row of kind bind")
	return storage.AuditEvent{}
}

func testBindEventBindsAfterRecentSSO(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now().Add(-10*time.Minute))
	e := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
	got := mustApply(t, s, e, storage.BindOutcomeBound)
	if got.PreviousDomainID != "" {
		t.Errorf("PreviousDomainID = %q for a first bind", got.PreviousDomainID)
	}
	checkBinding(t, mustBinding(t, s, "acc-1", "cn"), storage.Binding{XAccountID: "acc-1", Site: "cn", DomainID: "dom-1",
		DomainName: "hw_one", Source: storage.SourceNotification, BoundAt: e.ReceivedAt, EventID: e.ID, Convention: "value"})
	_, err := s.GetBinding(t.Context(), "acc-1", "intl")
	wantErr(t, "GetBinding(other site)", err, storage.ErrNotFound)

	// Stored verbatim, with everything the IdP knew.
	stored, err := s.GetBindEvent(t.Context(), e.ID)
	if err != nil {
		t.Fatalf("GetBindEvent: %v", err)
	}
	if !sameTime(stored.ReceivedAt, e.ReceivedAt) {
		t.Errorf("ReceivedAt = %v, want %v", stored.ReceivedAt, e.ReceivedAt)
	}
	want := got
	stored.ReceivedAt, want.ReceivedAt = time.Time{}, time.Time{}
	if fmt.Sprintf("%+v", stored) != fmt.Sprintf("%+v", want) || string(stored.Document) != string(e.Document) {
		t.Errorf("stored event = %+v\nwant           %+v", stored, want)
	}
	_, err = s.GetBindEvent(t.Context(), "no-such-event")
	wantErr(t, "GetBindEvent(unknown)", err, storage.ErrNotFound)

	// The audit row, in the same transaction.
	a := lastBindAudit(t, s, "acc-1")
	if a.Outcome != storage.BindOutcomeBound || a.Site != "cn" || a.ClientAddr != "192.0.2.7" || !sameTime(a.Time, e.ReceivedAt) ||
		a.Detail != got.AuditDetail() || !strings.Contains(a.Detail, "action=bind convention=value source=notification domain_id=dom-1") {
		t.Errorf("audit row = %+v", a)
	}
}

func testBindEventNeedsRecentSSO(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	mustCreate(t, s, customer("acc-2", ""))
	e := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
	try := func(what string) {
		t.Helper()
		before := stateOf(t, s, "acc-1")
		_, err := s.ApplyBindEvent(t.Context(), e, window())
		wantErr(t, "ApplyBindEvent("+what+")", err, storage.ErrNoRecentSSO)
		wantNothingWritten(t, s, "acc-1", before)
	}
	try("no assertion at all")
	issued(t, s, "acc-1", "cn", window().Add(-time.Second))
	try("assertion before the window")
	issued(t, s, "acc-1", "intl", now())
	try("assertion for another site")
	issued(t, s, "acc-2", "cn", now())
	try("assertion for another customer")
	if err := s.AppendAudit(t.Context(), storage.AuditEvent{Time: now(), Kind: "error_response", XAccountID: "acc-1", Site: "cn"}); err != nil {
		t.Fatal(err)
	}
	try("error Response, no assertion")

	// At the very start of the window: accepted.
	issued(t, s, "acc-1", "cn", window())
	mustApply(t, s, e, storage.BindOutcomeBound)
}

func testBindEventSameAccountUnchanged(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now())
	first := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
	mustApply(t, s, first, storage.BindOutcomeBound)
	want := mustBinding(t, s, "acc-1", "cn")

	// The same account again: still one binding, the first one.
	again := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
	again.ReceivedAt = now().Add(time.Minute)
	got := mustApply(t, s, again, storage.BindOutcomeUnchanged)
	if got.PreviousDomainID != "dom-1" {
		t.Errorf("PreviousDomainID = %q", got.PreviousDomainID)
	}
	checkBinding(t, mustBinding(t, s, "acc-1", "cn"), want)

	// A new account name is taken over; the binding is otherwise the same.
	renamed := bindEventFor("acc-1", "dom-1", "hw_renamed", storage.BindActionBind)
	renamed.ReceivedAt = now().Add(2 * time.Minute)
	mustApply(t, s, renamed, storage.BindOutcomeUnchanged)
	want.DomainName = "hw_renamed"
	checkBinding(t, mustBinding(t, s, "acc-1", "cn"), want)
	if a := lastBindAudit(t, s, "acc-1"); !strings.Contains(a.Detail, "old_domain_name=hw_one") {
		t.Errorf("rename not audited: %q", a.Detail)
	}
	// Without a name, the known name stays.
	noName := bindEventFor("acc-1", "dom-1", "", storage.BindActionBind)
	noName.ReceivedAt = now().Add(3 * time.Minute)
	mustApply(t, s, noName, storage.BindOutcomeUnchanged)
	checkBinding(t, mustBinding(t, s, "acc-1", "cn"), want)
	if es, _ := s.ListBindEvents(t.Context(), "acc-1", 0); len(es) != 4 {
		t.Errorf("%d events stored, want 4 (every accepted event is kept)", len(es))
	}
}

func testBindEventRebind(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now())
	// The customer was bound through the API (create-customer), then Huawei
	// reports another account: rebound, audited with both accounts.
	if err := s.PutBinding(t.Context(), storage.Binding{XAccountID: "acc-1", Site: "cn", DomainID: "dom-old", DomainName: "hw_old",
		Source: storage.SourceAPI, BoundAt: now().Add(-time.Hour)}); err != nil {
		t.Fatalf("PutBinding: %v", err)
	}
	e := bindEventFor("acc-1", "dom-new", "hw_new", storage.BindActionBind)
	got := mustApply(t, s, e, storage.BindOutcomeRebound)
	if got.PreviousDomainID != "dom-old" || got.PreviousDomainName != "hw_old" {
		t.Errorf("previous binding = %q %q", got.PreviousDomainID, got.PreviousDomainName)
	}
	checkBinding(t, mustBinding(t, s, "acc-1", "cn"), storage.Binding{XAccountID: "acc-1", Site: "cn", DomainID: "dom-new",
		DomainName: "hw_new", Source: storage.SourceNotification, BoundAt: e.ReceivedAt, EventID: e.ID, Convention: "value"})
	a := lastBindAudit(t, s, "acc-1")
	if a.Outcome != storage.BindOutcomeRebound || !strings.Contains(a.Detail, "domain_id=dom-new") ||
		!strings.Contains(a.Detail, "old_domain_id=dom-old old_domain_name=hw_old") {
		t.Errorf("rebind audit row = %+v", a)
	}
}

func testBindEventUnbind(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now())
	mustApply(t, s, bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind), storage.BindOutcomeBound)
	if err := s.PutBinding(t.Context(), storage.Binding{XAccountID: "acc-1", Site: "intl", DomainID: "dom-1", Source: storage.SourceCLI, BoundAt: now()}); err != nil {
		t.Fatal(err)
	}
	// An unbind needs no recent assertion.
	un := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionUnbind)
	got, err := s.ApplyBindEvent(t.Context(), un, now().Add(time.Hour))
	if err != nil || got.Outcome != storage.BindOutcomeUnbound || got.PreviousDomainID != "dom-1" {
		t.Fatalf("ApplyBindEvent(unbind) = %+v, %v; want unbound", got, err)
	}
	_, err = s.GetBinding(t.Context(), "acc-1", "cn")
	wantErr(t, "GetBinding after unbind", err, storage.ErrNotFound)
	mustBinding(t, s, "acc-1", "intl") // other sites keep theirs
	if a := lastBindAudit(t, s, "acc-1"); a.Outcome != storage.BindOutcomeUnbound || !strings.Contains(a.Detail, "action=unbind") ||
		!strings.Contains(a.Detail, "old_domain_id=dom-1") {
		t.Errorf("unbind audit row = %+v", a)
	}
}

func testBindEventUnbindWithoutBinding(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	got := mustApply(t, s, bindEventFor("acc-1", "dom-1", "", storage.BindActionUnbind), storage.BindOutcomeUnchanged)
	if got.PreviousDomainID != "" {
		t.Errorf("PreviousDomainID = %q", got.PreviousDomainID)
	}
	_, err := s.GetBinding(t.Context(), "acc-1", "cn")
	wantErr(t, "GetBinding", err, storage.ErrNotFound)
	if st := stateOf(t, s, "acc-1"); st.events != 1 || st.audit != 1 {
		t.Errorf("an accepted unbind of an unbound customer is still recorded: %+v", st)
	}
}

func testBindEventUnbindOtherAccount(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now())
	mustApply(t, s, bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind), storage.BindOutcomeBound)
	before := stateOf(t, s, "acc-1")
	_, err := s.ApplyBindEvent(t.Context(), bindEventFor("acc-1", "dom-2", "hw_two", storage.BindActionUnbind), window())
	wantErr(t, "ApplyBindEvent(unbind of another account)", err, storage.ErrOtherAccount)
	wantNothingWritten(t, s, "acc-1", before)
}

func testBindEventBindAgainAfterUnbind(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now())
	bind := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
	mustApply(t, s, bind, storage.BindOutcomeBound)
	mustApply(t, s, bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionUnbind), storage.BindOutcomeUnbound)
	// Byte-identical document, new event: bound again.
	again := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
	if string(again.Document) != string(bind.Document) || again.DocumentHash != bind.DocumentHash {
		t.Fatal("test bug: the documents differ")
	}
	mustApply(t, s, again, storage.BindOutcomeBound)
	if b := mustBinding(t, s, "acc-1", "cn"); b.EventID != again.ID {
		t.Errorf("binding made by event %q, want %q", b.EventID, again.ID)
	}
	if es, _ := s.ListBindEvents(t.Context(), "acc-1", 0); len(es) != 3 {
		t.Errorf("%d events, want 3", len(es))
	}
}

func testBindEventUnknownCustomer(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "nobody", "cn", now())
	for _, action := range []string{storage.BindActionBind, storage.BindActionUnbind} {
		before := stateOf(t, s, "nobody")
		_, err := s.ApplyBindEvent(t.Context(), bindEventFor("nobody", "dom-1", "", action), window())
		wantErr(t, "ApplyBindEvent(unknown customer, "+action+")", err, storage.ErrNotFound)
		wantNothingWritten(t, s, "nobody", before)
	}
}

func testBindEventDuplicateID(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now())
	e := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
	mustApply(t, s, e, storage.BindOutcomeBound)
	before := stateOf(t, s, "acc-1")
	e2 := e
	e2.DomainID = "dom-2"
	_, err := s.ApplyBindEvent(t.Context(), e2, window())
	wantErr(t, "ApplyBindEvent(same ID)", err, storage.ErrAlreadyExists)
	wantNothingWritten(t, s, "acc-1", before)
}

func testBindEventConcurrent(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	issued(t, s, "acc-1", "cn", now())
	// The same bind arriving n times at once (double submits, replicas),
	// in several rounds: exactly one binds, the others find it bound; an
	// unbind between rounds starts the next from no binding.
	const n, rounds = 8, 5
	for round := range rounds {
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			start    = make(chan struct{})
			outcomes = map[string]int{}
		)
		for range n {
			e := bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionBind)
			wg.Go(func() {
				<-start
				got, err := s.ApplyBindEvent(t.Context(), e, window())
				if err != nil {
					t.Errorf("ApplyBindEvent: %v", err)
					return
				}
				mu.Lock()
				outcomes[got.Outcome]++
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		if outcomes[storage.BindOutcomeBound] != 1 || outcomes[storage.BindOutcomeUnchanged] != n-1 {
			t.Fatalf("round %d: outcomes of %d concurrent identical binds = %v, want 1 bound and %d unchanged", round, n, outcomes, n-1)
		}
		mustApply(t, s, bindEventFor("acc-1", "dom-1", "hw_one", storage.BindActionUnbind), storage.BindOutcomeUnbound)
	}
	if st := stateOf(t, s, "acc-1"); st.events != rounds*(n+1) || st.audit != rounds*(n+1)+1 {
		t.Errorf("state = %+v, want %d events and %d audit rows", st, rounds*(n+1), rounds*(n+1)+1)
	}
}

func testBindEventList(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	mustCreate(t, s, customer("acc-2", ""))
	issued(t, s, "acc-1", "cn", now())
	var ids []string
	for i, action := range []string{storage.BindActionBind, storage.BindActionUnbind, storage.BindActionBind} {
		e := bindEventFor("acc-1", "dom-1", "hw_one", action)
		e.ReceivedAt = now().Add(time.Duration(i) * time.Second)
		mustApply(t, s, e, map[int]string{0: storage.BindOutcomeBound, 1: storage.BindOutcomeUnbound, 2: storage.BindOutcomeBound}[i])
		ids = append(ids, e.ID)
	}
	mustApply(t, s, bindEventFor("acc-2", "dom-9", "", storage.BindActionUnbind), storage.BindOutcomeUnchanged)
	es, err := s.ListBindEvents(t.Context(), "acc-1", 0)
	if err != nil {
		t.Fatalf("ListBindEvents: %v", err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.ID)
	}
	if want := []string{ids[2], ids[1], ids[0]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListBindEvents = %v, want newest first %v", got, want)
	}
	if es[1].Action != storage.BindActionUnbind || es[1].Outcome != storage.BindOutcomeUnbound {
		t.Errorf("listed event = %+v", es[1])
	}
	es, err = s.ListBindEvents(t.Context(), "acc-1", 2)
	if err != nil || len(es) != 2 || es[0].ID != ids[2] {
		t.Errorf("ListBindEvents(limit 2) = %d events, %v", len(es), err)
	}
	es, err = s.ListBindEvents(t.Context(), "nobody", 0)
	if err != nil || len(es) != 0 {
		t.Errorf("ListBindEvents(nobody) = %v, %v", es, err)
	}
}
