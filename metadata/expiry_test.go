package metadata

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestExpiryNotice: an expired certificate (loaded only through
// allow_expired_certificate) is logged as expired, naming the override,
// never as "expires soon" with a negative number of days.
func TestExpiryNotice(t *testing.T) {
	notAfter := time.Date(2028, 6, 18, 0, 0, 0, 0, time.UTC)
	sp := &SP{Site: "cn", NotAfter: notAfter}
	for _, tc := range []struct {
		name    string
		now     time.Time
		ok      bool
		want    []string
		wantNot []string
	}{
		{name: "valid for long", now: notAfter.Add(-60 * 24 * time.Hour)},
		{name: "expires soon", now: notAfter.Add(-10*24*time.Hour - time.Hour), ok: true,
			want: []string{"SP certificate expires soon", "idp sp fetch --site cn", "days_left=10"}, wantNot: []string{"expired"}},
		{name: "expired ten days ago", now: notAfter.Add(10*24*time.Hour + time.Hour), ok: true,
			want:    []string{"SP certificate has expired", "used only because allow_expired_certificate is true", "remove the override", "days_expired=10"},
			wantNot: []string{"expires soon", "days_left", "-10"}},
		{name: "expired this instant", now: notAfter, ok: true, want: []string{"has expired", "days_expired=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, args, ok := sp.ExpiryNotice(tc.now, 30*24*time.Hour)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%s)", ok, tc.ok, msg)
			}
			line := msg
			for i := 0; i+1 < len(args); i += 2 {
				line += fmt.Sprintf(" %v=%v", args[i], args[i+1])
			}
			for _, want := range tc.want {
				if !strings.Contains(line, want) {
					t.Errorf("%q lacks %q", line, want)
				}
			}
			for _, not := range tc.wantNot {
				if strings.Contains(line, not) {
					t.Errorf("%q says %q", line, not)
				}
			}
		})
	}
}
