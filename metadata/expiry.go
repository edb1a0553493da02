package metadata

import (
	"fmt"
	"time"
)

// ExpiryNotice is what the operator's log should say about the signing
// certificate of sp (its earliest NotAfter) at now: nothing (ok false)
// while it is valid for longer than warnWithin; a warning that it expires
// soon, with days_left; or, once it has expired (metadata LoadSP accepted
// only because of the allow_expired_certificate override), that it has
// expired and is used only because of that override, with days_expired.
// msg and args are a slog message and its key-value pairs.
func (sp *SP) ExpiryNotice(now time.Time, warnWithin time.Duration) (msg string, args []any, ok bool) {
	left := sp.NotAfter.Sub(now)
	fetch := fmt.Sprintf("`idp sp fetch --site %s --config FILE`", sp.Site)
	switch {
	case left <= 0:
		return "SP certificate has expired: it is used only because allow_expired_certificate is true for this site; " +
				"download the site's new SP metadata (" + fetch + ") and remove the override",
			[]any{"site", sp.Site, "not_after", sp.NotAfter.UTC(), "days_expired", int(-left.Hours() / 24),
				"key", "allow_expired_certificate"}, true
	case left < warnWithin:
		return "SP certificate expires soon: download the site's new SP metadata (" + fetch + ")",
			[]any{"site", sp.Site, "not_after", sp.NotAfter.UTC(), "days_left", int(left.Hours() / 24)}, true
	}
	return "", nil, false
}
