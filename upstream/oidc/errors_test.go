package oidc

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestErrorReasonMatchingAndStatus(t *testing.T) {
	err := fmt.Errorf("callback: %w", fail(ReasonDenied, "the provider answered access_denied"))
	if !errors.Is(err, &Error{Reason: ReasonDenied}) || errors.Is(err, &Error{Reason: ReasonState}) {
		t.Fatal("errors.Is does not match by reason")
	}
	for _, r := range Reasons {
		want := http.StatusBadRequest
		switch r {
		case ReasonDenied, ReasonUnknownCustomer, ReasonCustomerDisabled:
			want = http.StatusForbidden
		}
		if got := (&Error{Reason: r}).Status(); got != want || got >= 500 {
			t.Errorf("%s: status %d, want %d", r, got, want)
		}
	}
}
