package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"hcidp/app"
	"hcidp/config"
	"hcidp/huawei"
	"hcidp/metadata"
)

// spJSON is one site of `idp sp show --json` (docs/cli.md).
type spJSON struct {
	Site            string       `json:"site"`
	Metadata        string       `json:"metadata"` // the metadata_file, or "built-in"
	EntityID        string       `json:"entity_id"`
	ACS             []acsJSON    `json:"acs"`
	Signed          bool         `json:"signed"`
	IAMLogin        string       `json:"iam_login"`
	Console         string       `json:"console"`
	Pinning         string       `json:"pinning"` // "configured", "built-in" or "none"
	AllowExpired    bool         `json:"allow_expired_certificate"`
	SigningKeys     []spKeyJSON  `json:"signing_keys"`
	EncryptionCerts []spCertJSON `json:"encryption_certificates"`
}

type acsJSON struct {
	Location string `json:"location"`
	Binding  string `json:"binding"`
	Index    int    `json:"index"` // -1 when the endpoint has none
	Default  bool   `json:"default"`
}

type spCertJSON struct {
	Subject   string    `json:"subject"`
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	DaysLeft  int       `json:"days_left"` // negative once expired
}

type spKeyJSON struct {
	spCertJSON
	Pin    string `json:"pin"`
	Pinned bool   `json:"pinned"`
}

func certJSON(c *x509.Certificate, now time.Time) spCertJSON {
	return spCertJSON{Subject: c.Subject.String(), Serial: c.SerialNumber.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)}
}

func cmdSPShow(args []string, stdout io.Writer) error {
	fs := newFlags("sp show", stdout)
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON (docs/cli.md)")
	if err := fs.parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	now := time.Now()
	sps, err := app.LoadServiceProviders(cfg, now, nil)
	if err != nil {
		return err
	}
	sites := make([]spJSON, 0, len(sps))
	for i, sp := range sps {
		m, c := sp.Meta, cfg.ServiceProviders[i]
		s := spJSON{Site: sp.Site, Metadata: c.MetadataFile, EntityID: m.EntityID, ACS: []acsJSON{}, Signed: m.Signed,
			IAMLogin: sp.Console.AuthURL + "/authui/saml/login", Console: sp.Console.Home, Pinning: "configured",
			AllowExpired: c.AllowExpiredCertificate, SigningKeys: []spKeyJSON{}, EncryptionCerts: []spCertJSON{}}
		if s.Metadata == "" {
			s.Metadata = "built-in"
		}
		if len(c.SigningKeyPins) == 0 {
			s.Pinning = "built-in"
			if len(c.KeyPins()) == 0 {
				s.Pinning = "none"
			}
		}
		for _, ep := range m.ACS {
			s.ACS = append(s.ACS, acsJSON{Location: ep.Location, Binding: ep.Binding, Index: ep.Index, Default: ep.Location == m.DefaultACS.Location})
		}
		for _, cert := range m.SigningCerts {
			pin := metadata.KeyPin(cert)
			s.SigningKeys = append(s.SigningKeys, spKeyJSON{certJSON(cert, now), pin, slices.Contains(c.KeyPins(), pin)})
		}
		for _, cert := range m.EncryptionCerts {
			s.EncryptionCerts = append(s.EncryptionCerts, certJSON(cert, now))
		}
		sites = append(sites, s)
	}
	if *asJSON {
		return writeJSON(stdout, sites)
	}
	for i, s := range sites {
		fmt.Fprintf(stdout, "site %s\n", s.Site)
		fmt.Fprintf(stdout, "  metadata     %s\n", s.Metadata)
		fmt.Fprintf(stdout, "  entityID     %s\n", s.EntityID)
		for _, ep := range s.ACS {
			if ep.Default {
				fmt.Fprintf(stdout, "  ACS          %s (default)\n", ep.Location)
			}
		}
		for _, ep := range s.ACS {
			if !ep.Default {
				fmt.Fprintf(stdout, "               %s\n", ep.Location)
			}
		}
		fmt.Fprintf(stdout, "  signed       %v\n", s.Signed)
		fmt.Fprintf(stdout, "  IAM login    %s\n", s.IAMLogin)
		fmt.Fprintf(stdout, "  console      %s\n", s.Console)
		pinned := map[string]string{"configured": "pinned (signing_key_pins)", "built-in": "pinned by default (the key of the built-in metadata)", "none": "NOT PINNED"}[s.Pinning]
		for _, k := range s.SigningKeys {
			printCert(stdout, k.spCertJSON, s.AllowExpired)
			fmt.Fprintf(stdout, "    key        %s, %s\n", k.Pin, pinned)
		}
		if s.Pinning != "configured" {
			fmt.Fprintf(stdout, "  to pin this site's signing key(s), once you have compared them with Huawei's, add to service_providers[%d]:\n", i)
			var pins []string
			for _, k := range s.SigningKeys {
				pins = append(pins, k.Pin)
			}
			fmt.Fprint(stdout, pinsYAMLOf(pins, "    "))
		}
	}
	return nil
}

func printCert(w io.Writer, c spCertJSON, allowExpired bool) {
	fmt.Fprintf(w, "  certificate  %s\n", c.Subject)
	left := fmt.Sprintf("%d days left", c.DaysLeft)
	if !time.Now().Before(c.NotAfter) {
		left = fmt.Sprintf("EXPIRED %d days ago", -c.DaysLeft)
		if allowExpired {
			left += "; loaded only because allow_expired_certificate is true"
		}
	}
	fmt.Fprintf(w, "    expires    %s (%s)\n", c.NotAfter.Format(time.RFC3339), left)
}

// pinsYAMLOf is a signing_key_pins entry listing pins, indented by indent.
func pinsYAMLOf(pins []string, indent string) string {
	var b strings.Builder
	b.WriteString(indent + "signing_key_pins:\n")
	for _, p := range pins {
		fmt.Fprintf(&b, "%s  - %q\n", indent, p)
	}
	return b.String()
}

func configArg(path string) string {
	if path == "" {
		return ""
	}
	return " --config " + path
}

// cmdSPFetch downloads a site's SP metadata and verifies it
// (metadata.Fetch: signature required, every signing key pinned or
// accepted), then installs it. A key accepted with --accept-key is first
// written into the site's signing_key_pins (config.PinSigningKeys), so that
// start and SIGHUP accept what was installed.
func cmdSPFetch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sp fetch", stdout)
	cfgPath := fs.String("config", os.Getenv("HCIDP_CONFIG"), "configuration `file`: write to the site's metadata_file and check its signing_key_pins")
	site := fs.String("site", "", "`site`: cn, intl or eu")
	from := fs.String("url", "", "metadata `URL` (default: the site's official URL)")
	out := fs.String("out", "", "write to `FILE` (default: the site's metadata_file with --config, else standard output)")
	var accept []string
	fs.Func("accept-key", "accept the site's new signing key `sha256:HEX` (its pin, as the refusal prints it; repeatable) and add it to signing_key_pins",
		func(v string) error {
			p, err := metadata.ParseKeyPin(v)
			if err == nil && !slices.Contains(accept, p) {
				accept = append(accept, p)
			}
			return err
		})
	if err := fs.parse(args); err != nil {
		return err
	}
	if _, ok := huawei.LookupSite(*site); !ok {
		return usageErrorf(fs.name, "sp fetch: --site %q: use %s", *site, orList(huawei.SiteNames()))
	}
	// The site's pins: its signing_key_pins, the built-in key for cn.
	pins, entry := metadata.BuiltinKeyPins(*site), (*config.ServiceProvider)(nil)
	target := *out
	if *cfgPath != "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		for i := range cfg.ServiceProviders {
			if cfg.ServiceProviders[i].Site == *site {
				entry = &cfg.ServiceProviders[i]
				pins = entry.KeyPins()
			}
		}
		switch {
		case target != "":
		case entry == nil:
			return fmt.Errorf("sp fetch: %s has no service_providers entry for site %s: give --out FILE, then add the site:\n"+
				"  service_providers:\n    - site: %s\n      metadata_file: FILE", *cfgPath, *site, *site)
		case entry.MetadataFile == "":
			return fmt.Errorf("sp fetch: site %s uses the metadata built into idp (its service_providers entry in %s has no metadata_file), "+
				"so there is no file to replace: give --out FILE to write the download there, then set `metadata_file: FILE` in that entry and reload (SIGHUP)",
				*site, *cfgPath)
		default:
			target = entry.MetadataFile
		}
	}

	f, err := metadata.Fetch(ctx, nil, *site, metadata.FetchOptions{URL: *from, Pins: pins, Accept: accept})
	// again is this command's other flags, for a command line to run again.
	again := configArg(*cfgPath)
	if *from != "" {
		again += " --url " + *from
	}
	if *out != "" {
		again += " --out " + *out
	}
	var unpinned *metadata.UnpinnedKeyError
	var notSigning *metadata.NotASigningKeyError
	switch {
	case errors.As(err, &unpinned):
		flags := ""
		for _, p := range unpinned.Unpinned {
			flags += " --accept-key " + p
		}
		return fmt.Errorf("sp fetch: the signing key of site %s changed: the downloaded metadata is signed with %s, but the pinned key is %s. "+
			"Nothing was written. If Huawei announced this key (compare its fingerprint with Huawei's announcement, out of band), accept it:\n"+
			"  idp sp fetch --site %s%s%s",
			*site, strings.Join(unpinned.Unpinned, " and "), strings.Join(pins, " and "), *site, flags, again)
	case errors.As(err, &notSigning):
		return fmt.Errorf("sp fetch: --accept-key %s is not a signing key of the downloaded metadata (its keys: %s); nothing was written",
			notSigning.Key, strings.Join(notSigning.Keys, ", "))
	case errors.Is(err, metadata.ErrInsecureURL):
		return fmt.Errorf("sp fetch: %w", err)
	case errors.Is(err, metadata.ErrDownload):
		return fmt.Errorf("sp fetch: %w; nothing was written (check the network, a proxy in $HTTPS_PROXY, or give the file's address with --url)", err)
	case err != nil:
		return fmt.Errorf("sp fetch: the downloaded metadata was refused; nothing was written: %w", err)
	}
	sp := f.SP
	fmt.Fprintf(stderr, "verified %s metadata: entityID %s, ACS %s, certificate valid until %s, signing key %s\n",
		*site, sp.EntityID, sp.DefaultACS.Location, sp.NotAfter.Format(time.DateOnly), strings.Join(f.Keys, ", "))

	if len(f.NewPins) > 0 {
		if entry == nil {
			fmt.Fprintf(stderr, "accepted %s for this download only: pin it in the site's service_providers entry:\n%s",
				strings.Join(f.NewPins, ", "), pinsYAMLOf(append(slices.Clone(pins), f.NewPins...), "  "))
		} else {
			index, err := config.PinSigningKeys(*cfgPath, *site, f.NewPins)
			var pe *config.PinFileError
			if errors.As(err, &pe) {
				return fmt.Errorf("sp fetch: %w. Add this to service_providers[%d] by hand, then run the command again:\n%s",
					pe, pe.Index, pinsYAMLOf(pe.Pins, "  "))
			}
			if err != nil {
				return fmt.Errorf("sp fetch: %w", err)
			}
			fmt.Fprintf(stdout, "pinned %s in service_providers[%d].signing_key_pins of %s\n", strings.Join(f.NewPins, ", "), index, *cfgPath)
		}
	}
	if len(pins) == 0 && len(accept) == 0 {
		fmt.Fprintf(stderr, "note: site %s is not pinned: its metadata's signature proves integrity, not origin. Once you have compared the key with Huawei's, pin it:\n"+
			"  idp sp fetch --site %s --accept-key %s%s\n", *site, *site, strings.Join(f.Keys, " --accept-key "), again)
	}
	if len(f.StalePins) > 0 {
		fmt.Fprintf(stderr, "note: the pinned key(s) %s no longer sign the site's metadata; remove them from signing_key_pins once Huawei has retired them\n",
			strings.Join(f.StalePins, ", "))
	}
	if target == "" {
		_, err = stdout.Write(f.Data)
		return err
	}
	if err := renameio.WriteFile(target, f.Data, 0o644, renameio.WithStaticPermissions(0o644)); err != nil {
		return fmt.Errorf("sp fetch: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (send SIGHUP to running servers to load it)\n", target)
	if entry != nil && entry.MetadataFile == "" {
		if builtin, _ := metadata.BuiltinSPMetadata(*site); string(builtin) == string(f.Data) {
			fmt.Fprintf(stdout, "it is the same document as the metadata built into idp, which site %s uses now: nothing to switch\n", *site)
		} else {
			abs, err := filepath.Abs(target)
			if err != nil {
				abs = target
			}
			fmt.Fprintf(stdout, "site %s still uses the metadata built into idp: to use the file you downloaded, add to its service_providers entry in %s:\n"+
				"      metadata_file: %s\nthen reload (SIGHUP)\n", *site, *cfgPath, abs)
		}
	}
	return nil
}
