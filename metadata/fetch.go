package metadata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"hcidp/huawei"
)

// FetchTimeout bounds a whole download when the caller's context has no
// earlier deadline.
const FetchTimeout = 30 * time.Second

// FetchOptions tune Fetch.
type FetchOptions struct {
	// URL is where to download from; empty means the site's official
	// metadata URL (huawei.Site.MetadataURL).
	URL string
	// Pins are the site's signing-key pins (canonical, as ParseKeyPin
	// returns them); empty means the site is not pinned.
	Pins []string
	// Accept are new keys the operator accepts for this download (the
	// `--accept-key` of `idp sp fetch`): each must be a signing key of the
	// downloaded metadata.
	Accept []string
	// Now is the time certificates are checked against; zero means
	// time.Now().
	Now time.Time
}

// Fetched is a downloaded and verified SP metadata document.
type Fetched struct {
	// URL is where it came from.
	URL string
	// Data is the document exactly as downloaded, to be written verbatim.
	Data []byte
	// SP is the loaded metadata.
	SP *SP
	// Keys are the pins of its signing keys, in document order.
	Keys []string
	// NewPins are the accepted keys that were not pinned yet: the caller
	// adds them to the site's signing_key_pins.
	NewPins []string
	// StalePins are pins that no longer sign the metadata: the operator
	// removes them once Huawei has retired the key.
	StalePins []string
}

// ErrInsecureURL is returned by Fetch for a URL that is neither https nor
// http on a loopback host, and for a redirect to one.
var ErrInsecureURL = errors.New("an https URL is required (plain http only for a loopback host)")

// NotASigningKeyError says that an accepted key does not sign the
// downloaded metadata.
// ErrDownload: the metadata could not be downloaded (network, HTTP
// status); nothing was verified.
var ErrDownload = errors.New("metadata: could not download")

type NotASigningKeyError struct {
	Key  string
	Keys []string // the metadata's signing keys
}

func (e *NotASigningKeyError) Error() string {
	return fmt.Sprintf("the accepted key %s is not a signing key of the downloaded metadata (its keys: %s)", e.Key, strings.Join(e.Keys, ", "))
}

// Fetch downloads site's SP metadata with client (nil: http.DefaultClient
// with FetchTimeout) and verifies it as an installation would load it, with
// a signature required:
//
//   - the URL (and every redirect) is https, or http on a loopback host
//     (huawei.SecureScheme); anything else is ErrInsecureURL;
//   - the answer is 200 and at most MaxMetadataSize bytes;
//   - LoadSP with RequireSignature and the pins opts.Pins plus opts.Accept:
//     a signing key outside them is an *UnpinnedKeyError (wrapped), whose
//     Unpinned lists the keys to accept;
//   - every accepted key signs the metadata (*NotASigningKeyError).
//
// Nothing is written: the caller installs Data and records NewPins.
func Fetch(ctx context.Context, client *http.Client, site string, opts FetchOptions) (*Fetched, error) {
	s, ok := huawei.LookupSite(site)
	if !ok {
		return nil, fmt.Errorf("metadata: site %q: use one of %s", site, strings.Join(huawei.SiteNames(), ", "))
	}
	src := opts.URL
	if src == "" {
		src = s.MetadataURL
	}
	u, err := url.Parse(src)
	if err != nil || u.Host == "" || !huawei.SecureScheme(u) {
		return nil, fmt.Errorf("metadata: %q: %w", src, ErrInsecureURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	// The https-or-loopback rule holds for every hop, not only the first.
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !huawei.SecureScheme(req.URL) {
			return fmt.Errorf("redirected to %s: %w", req.URL.Redacted(), ErrInsecureURL)
		}
		if len(via) >= 5 {
			return errors.New("more than 5 redirects")
		}
		if client.CheckRedirect != nil {
			return client.CheckRedirect(req, via)
		}
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, FetchTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDownload, u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrDownload, u.Redacted(), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDownload, u.Redacted(), err)
	}
	if len(data) > MaxMetadataSize {
		return nil, fmt.Errorf("metadata: %s sent more than %d bytes: that is not a site's SP metadata", u.Redacted(), MaxMetadataSize)
	}

	var allowed []string
	if len(opts.Pins) > 0 || len(opts.Accept) > 0 {
		allowed = append(slices.Clone(opts.Pins), opts.Accept...)
	}
	sp, err := LoadSP(site, data, LoadOptions{RequireSignature: true, Pins: allowed, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	f := &Fetched{URL: u.String(), Data: data, SP: sp}
	for _, c := range sp.SigningCerts {
		f.Keys = append(f.Keys, KeyPin(c))
	}
	for _, p := range opts.Accept {
		if !slices.Contains(f.Keys, p) {
			return nil, &NotASigningKeyError{Key: p, Keys: f.Keys}
		}
		if !slices.Contains(opts.Pins, p) && !slices.Contains(f.NewPins, p) {
			f.NewPins = append(f.NewPins, p)
		}
	}
	for _, p := range opts.Pins {
		if !slices.Contains(f.Keys, p) {
			f.StalePins = append(f.StalePins, p)
		}
	}
	return f, nil
}
