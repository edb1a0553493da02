package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"hcidp/config"
	"hcidp/huawei"
	"hcidp/keys"
	"hcidp/metadata"
)

// cmdKeysRotate makes the configured next key pair the current one. The old
// pair is kept next to it with a time-stamped ".old" suffix.
func cmdKeysRotate(args []string, stdout, stderr io.Writer) error {
	cfg, err := configCommand("keys rotate", args, stderr)
	if err != nil {
		return err
	}
	if cfg.NextKeyFile == "" {
		return errors.New("keys rotate: configure next_key_file and next_cert_file first (create them with `idp keys generate --out DIR`), upload the metadata that lists both, then rotate")
	}
	if _, _, err := keys.LoadKeyPair(cfg.NextKeyFile, cfg.NextCertFile); err != nil {
		return fmt.Errorf("keys rotate: next key pair: %w", err)
	}
	if open, err := keys.KeyFileTooOpen(cfg.NextKeyFile); err == nil && open {
		return fmt.Errorf("keys rotate: %s is readable by others: chmod 600 it first", cfg.NextKeyFile)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	moves := [][2]string{
		{cfg.KeyFile, cfg.KeyFile + "." + stamp + ".old"},
		{cfg.CertFile, cfg.CertFile + "." + stamp + ".old"},
		{cfg.NextKeyFile, cfg.KeyFile},
		{cfg.NextCertFile, cfg.CertFile},
	}
	for i, m := range moves {
		if err := os.Rename(m[0], m[1]); err != nil {
			// Undo what was moved so the installation stays consistent.
			for j := i - 1; j >= 0; j-- {
				os.Rename(moves[j][1], moves[j][0])
			}
			return fmt.Errorf("keys rotate: %w", err)
		}
	}
	fmt.Fprintf(stdout, `rotated: %s and %s now hold the former next key pair (the old pair is kept as *.%s.old).
Next steps:
  1. reload every running server: kill -HUP <pid> (or restart it);
  2. remove next_key_file and next_cert_file from the configuration;
  3. run "idp metadata" and upload the new IDP Metadata.xml in Partner Center.
`, cfg.KeyFile, cfg.CertFile, stamp)
	return nil
}

// cmdSPFetch downloads a site's SP metadata, verifies it (signature
// required, every signing key pinned) and writes it. A new signing key is
// accepted only when named with --accept-key; with --config its pin is then
// written into the site's signing_key_pins (comments and layout kept) before
// the metadata, so that start and SIGHUP accept what was installed.
func cmdSPFetch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sp fetch", stderr)
	cfgPath := fs.String("config", os.Getenv("HCIDP_CONFIG"), "configuration file: write to the site's metadata_file and check its signing_key_pins")
	site := fs.String("site", "", "site: cn, intl or eu")
	from := fs.String("url", "", "metadata URL (default: the site's official URL)")
	out := fs.String("out", "", "write to FILE (default: the site's metadata_file with --config, else standard output)")
	var accept []string
	fs.Func("accept-key", "accept the site's new signing key `sha256:HEX` (its pin, as the refusal prints it; repeatable) and add it to signing_key_pins",
		func(v string) error {
			p, err := metadata.ParseKeyPin(v)
			if err == nil && !slices.Contains(accept, p) {
				accept = append(accept, p)
			}
			return err
		})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	s, ok := huawei.LookupSite(*site)
	if !ok {
		return fmt.Errorf("sp fetch: --site %q: use cn, intl or eu", *site)
	}
	src := *from
	if src == "" {
		src = s.MetadataURL
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && huawei.IsLoopbackHost(u.Hostname()))) {
		return fmt.Errorf("sp fetch: %q: an https URL is required", src)
	}
	// The site's pins: its signing_key_pins, the built-in key for cn.
	pins, entry, index := metadata.BuiltinKeyPins(*site), (*config.ServiceProvider)(nil), -1
	target := *out
	if *cfgPath != "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		for i := range cfg.ServiceProviders {
			if cfg.ServiceProviders[i].Site == *site {
				entry, index = &cfg.ServiceProviders[i], i
				pins = entry.KeyPins()
			}
		}
		if target == "" && entry != nil {
			target = entry.MetadataFile
		}
		if target == "" {
			return fmt.Errorf("sp fetch: site %s has no metadata_file in %s: give --out", *site, *cfgPath)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sp fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sp fetch: %s answered %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, metadata.MaxMetadataSize+1))
	if err != nil {
		return fmt.Errorf("sp fetch: %w", err)
	}
	var allowed []string
	if len(pins) > 0 || len(accept) > 0 {
		allowed = append(slices.Clone(pins), accept...)
	}
	sp, err := metadata.LoadSP(*site, data, metadata.LoadOptions{RequireSignature: true, Pins: allowed})
	var unpinned *metadata.UnpinnedKeyError
	if errors.As(err, &unpinned) {
		flags := ""
		for _, p := range unpinned.Unpinned {
			flags += " --accept-key " + p
		}
		return fmt.Errorf("sp fetch: the signing key of site %s changed: the downloaded metadata is signed with %s, but the pinned key is %s. "+
			"Nothing was written. If Huawei announced this key (compare its fingerprint with Huawei's announcement, out of band), accept it:\n"+
			"  idp sp fetch --site %s%s%s",
			*site, strings.Join(unpinned.Unpinned, " and "), strings.Join(pins, " and "), *site, flags, configArg(*cfgPath))
	}
	if err != nil {
		return fmt.Errorf("sp fetch: the downloaded metadata was refused: %w", err)
	}
	var keys []string
	for _, c := range sp.SigningCerts {
		keys = append(keys, metadata.KeyPin(c))
	}
	var added []string // accepted keys that were not pinned yet
	for _, p := range accept {
		if !slices.Contains(keys, p) {
			return fmt.Errorf("sp fetch: --accept-key %s is not a signing key of the downloaded metadata (its keys: %s); nothing was written",
				p, strings.Join(keys, ", "))
		}
		if !slices.Contains(pins, p) {
			added = append(added, p)
		}
	}
	fmt.Fprintf(stderr, "verified %s metadata: entityID %s, ACS %s, certificate valid until %s, signing key %s\n",
		*site, sp.EntityID, sp.DefaultACS.Location, sp.NotAfter.Format(time.DateOnly), strings.Join(keys, ", "))

	if len(added) > 0 {
		if entry == nil {
			fmt.Fprintf(stderr, "accepted %s for this download only: pin it in the site's service_providers entry:\n%s",
				strings.Join(added, ", "), pinsYAMLOf(append(slices.Clone(pins), added...), "  "))
		} else if err := addPins(*cfgPath, *site, index, entry, pins, added, stdout); err != nil {
			return err
		}
	}
	if len(pins) == 0 && len(accept) == 0 {
		fmt.Fprintf(stderr, "note: site %s is not pinned: its metadata's signature proves integrity, not origin. Once you have compared the key with Huawei's, pin it:\n"+
			"  idp sp fetch --site %s --accept-key %s%s\n", *site, *site, strings.Join(keys, " --accept-key "), configArg(*cfgPath))
	}
	if len(pins) > 0 {
		var unused []string
		for _, p := range pins {
			if !slices.Contains(keys, p) {
				unused = append(unused, p)
			}
		}
		if len(unused) > 0 {
			fmt.Fprintf(stderr, "note: the pinned key(s) %s no longer sign the site's metadata; remove them from signing_key_pins once Huawei has retired them\n",
				strings.Join(unused, ", "))
		}
	}
	if target == "" {
		_, err = stdout.Write(data)
		return err
	}
	if err := writeFileAtomic(target, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (send SIGHUP to running servers to load it)\n", target)
	return nil
}

// addPins writes the pins of added into the site's signing_key_pins of the
// configuration file. A site pinned by default (cn, no signing_key_pins)
// gets its default pins written too, since an explicit list replaces the
// default. If the file's layout cannot be edited safely, nothing is written
// and the error shows the YAML to add.
func addPins(cfgPath, site string, index int, entry *config.ServiceProvider, pins, added []string, stdout io.Writer) error {
	add := added
	if len(entry.SigningKeyPins) == 0 {
		add = append(slices.Clone(pins), added...)
	}
	path, err := filepath.EvalSymlinks(cfgPath)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	edited, err := config.AddSigningKeyPins(src, site, add)
	if err == nil {
		_, err = config.Parse(edited, filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("sp fetch: cannot add the key pin to %s (%w); nothing was written. Add this to service_providers[%d] by hand, then run the command again:\n%s",
			cfgPath, err, index, pinsYAMLOf(append(slices.Clone(entry.SigningKeyPins), add...), "  "))
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := writeFileAtomic(path, edited, mode); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pinned %s in service_providers[%d].signing_key_pins of %s\n", strings.Join(added, ", "), index, cfgPath)
	return nil
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

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place: readers see the old or the new file, never half of one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
