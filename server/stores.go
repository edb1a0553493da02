package server

import (
	"context"
	"errors"

	"hcidp/idp"
	"hcidp/storage"
)

// ledger is the SAML core's replay cache and audit log: the database,
// shared by every replica.
type ledger struct{ st storage.Storage }

var _ idp.Ledger = ledger{}

func (l ledger) Remember(ctx context.Context, e idp.ReplayEntry) error {
	return replayErr(l.st.InsertRequestID(ctx, e.Issuer, e.ID, e.Expires))
}

func (l ledger) Record(ctx context.Context, e *idp.ReplayEntry, rec idp.Record) error {
	var req *storage.RequestID
	if e != nil {
		req = &storage.RequestID{Issuer: e.Issuer, ID: e.ID, Expires: e.Expires}
	}
	return replayErr(l.st.RecordResponse(ctx, req, storage.AuditEvent{Time: rec.Time, Kind: rec.Kind, XAccountID: rec.XAccountID,
		Site: rec.Site, RequestID: rec.RequestID, AssertionID: rec.AssertionID, ClientAddr: rec.ClientAddr, Outcome: rec.Outcome}))
}

func replayErr(err error) error {
	if errors.Is(err, storage.ErrAlreadyExists) {
		return idp.ErrReplayed
	}
	return err
}

// directory finds an assertion's subject among the partner's customers.
type directory struct{ st storage.Storage }

var _ idp.Directory = directory{}

func (d directory) Subject(ctx context.Context, id string) (idp.Subject, error) {
	c, err := d.st.GetCustomer(ctx, id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && c.Disabled) {
		return idp.Subject{}, idp.ErrNoSubject
	}
	if err != nil {
		return idp.Subject{}, err
	}
	return idp.Subject{XAccountID: c.XAccountID, Email: c.Email, Name: c.Name, Mobile: c.Mobile}, nil
}
