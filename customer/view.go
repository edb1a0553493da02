package customer

import (
	"context"
	"errors"
	"time"

	"hcidp/huawei"
	"hcidp/storage"
)

// The read side of the write path: how a customer, its bindings and its
// bind events are shown, the same to the portal API's callers and to
// `idp … --json` (docs/api.md, docs/cli.md). Never a password hash.

// View is a customer as shown.
type View struct {
	XAccountID  string    `json:"xaccount_id"`
	DisplayName string    `json:"display_name"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Mobile      string    `json:"mobile"`
	HasPassword bool      `json:"has_password"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ViewOf shows c.
func ViewOf(c storage.Customer) View {
	return View{XAccountID: c.XAccountID, DisplayName: c.DisplayName, Email: c.Email, Name: c.Name, Mobile: c.Mobile,
		HasPassword: c.PasswordHash != "", Disabled: c.Disabled, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

// BindingView is a binding as shown. Convention and EventID: for source
// "notification", the signature convention that verified and the bind
// event; "" otherwise.
type BindingView struct {
	Site       string    `json:"site"`
	DomainID   string    `json:"domain_id"`
	DomainName string    `json:"domain_name"`
	Source     string    `json:"source"`
	BoundAt    time.Time `json:"bound_at"`
	Convention string    `json:"convention"`
	EventID    string    `json:"event_id"`
}

// BindingViewOf shows b.
func BindingViewOf(b storage.Binding) BindingView {
	return BindingView{Site: b.Site, DomainID: b.DomainID, DomainName: b.DomainName, Source: b.Source, BoundAt: b.BoundAt.UTC(),
		Convention: b.Convention, EventID: b.EventID}
}

// Bindings returns the customer's bindings, one per site at most, in the
// order of the sites (only site when it is not "").
func Bindings(ctx context.Context, st storage.Storage, id, site string) ([]BindingView, error) {
	out := []BindingView{}
	for _, s := range huawei.SiteNames() {
		if site != "" && s != site {
			continue
		}
		b, err := st.GetBinding(ctx, id, s)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, BindingViewOf(b))
	}
	return out, nil
}

// BindEventView is a received bind-result notification as shown.
type BindEventView struct {
	ID                 string    `json:"id"`
	Site               string    `json:"site"`
	Action             string    `json:"action"`
	Convention         string    `json:"convention"`
	Source             string    `json:"source"`
	Outcome            string    `json:"outcome"`
	DomainID           string    `json:"domain_id"`
	DomainName         string    `json:"domain_name"`
	PreviousDomainID   string    `json:"previous_domain_id"`
	PreviousDomainName string    `json:"previous_domain_name"`
	ReceivedAt         time.Time `json:"received_at"`
	DocumentSHA256     string    `json:"document_sha256"`
}

// BindEventViewOf shows e.
func BindEventViewOf(e storage.BindEvent) BindEventView {
	return BindEventView{ID: e.ID, Site: e.Site, Action: e.Action, Convention: e.Convention, Source: storage.SourceNotification,
		Outcome: e.Outcome, DomainID: e.DomainID, DomainName: e.DomainName, PreviousDomainID: e.PreviousDomainID,
		PreviousDomainName: e.PreviousDomainName, ReceivedAt: e.ReceivedAt.UTC(), DocumentSHA256: e.DocumentHash}
}
