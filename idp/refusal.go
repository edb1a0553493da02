package idp

import "fmt"

// Refusal is a request hcidp will not act on (docs/threat-model.md, "What a
// refusal looks like"): a 4xx
// status, a generic page in the customer's language, a reason code in the
// log, and nothing written.
type Refusal struct {
	Status int
	// Reason is a short stable code for logs and metrics, e.g. "signature.invalid".
	Reason string
	// Detail explains the refusal to the operator (logged, never shown).
	Detail string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s: %s", r.Status, r.Reason, r.Detail) }

func refuse(status int, reason, detail string) *Refusal {
	return &Refusal{Status: status, Reason: reason, Detail: detail}
}

// Refuse returns a Refusal.
func Refuse(status int, reason, detail string) *Refusal { return refuse(status, reason, detail) }
