package storage

import "fmt"

// BindWrite is what applying a bind event does to the binding row.
type BindWrite int

const (
	// BindWriteNone leaves the binding as it is.
	BindWriteNone BindWrite = iota
	// BindWriteUpsert makes the binding name the event's account (source
	// SourceNotification, bound at the event's time).
	BindWriteUpsert
	// BindWriteRename updates only the DomainName of the binding.
	BindWriteRename
	// BindWriteDelete deletes the binding.
	BindWriteDelete
)

// DecideBind is the state machine of ApplyBindEvent, shared by every
// backend so that they cannot disagree: given the event and the binding of
// its customer on its site before it (the zero Binding when there is none),
// it returns the event with Outcome and Previous* set and the write to do,
// or ErrOtherAccount (nothing to write) for an unbind naming another
// account. Backends call it inside their transaction, after reading old.
func DecideBind(e BindEvent, old Binding) (BindEvent, BindWrite, error) {
	e.PreviousDomainID, e.PreviousDomainName = old.DomainID, old.DomainName
	bound := old.DomainID != ""
	switch e.Action {
	case BindActionBind:
		switch {
		case !bound:
			e.Outcome = BindOutcomeBound
			return e, BindWriteUpsert, nil
		case old.DomainID != e.DomainID:
			e.Outcome = BindOutcomeRebound
			return e, BindWriteUpsert, nil
		case e.DomainName != "" && old.DomainName != e.DomainName:
			// A document without domainName keeps the name known.
			e.Outcome = BindOutcomeUnchanged
			return e, BindWriteRename, nil
		}
		e.Outcome = BindOutcomeUnchanged
		return e, BindWriteNone, nil
	case BindActionUnbind:
		switch {
		case !bound:
			e.Outcome = BindOutcomeUnchanged
			return e, BindWriteNone, nil
		case old.DomainID != e.DomainID:
			return BindEvent{}, BindWriteNone, fmt.Errorf("%w: unbind of %q names %q, the binding on site %s names %q",
				ErrOtherAccount, e.XAccountID, e.DomainID, e.Site, old.DomainID)
		}
		e.Outcome = BindOutcomeUnbound
		return e, BindWriteDelete, nil
	}
	return BindEvent{}, BindWriteNone, fmt.Errorf("storage: bind event %s: unknown action %q", e.ID, e.Action)
}
