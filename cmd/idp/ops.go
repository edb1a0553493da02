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
	"time"

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

// cmdSPFetch downloads a site's SP metadata, verifies it (signature required)
// and writes it.
func cmdSPFetch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sp fetch", stderr)
	cfgPath := fs.String("config", os.Getenv("HCIDP_CONFIG"), "configuration file: write to the site's metadata_file")
	site := fs.String("site", "", "site: cn, intl or eu")
	from := fs.String("url", "", "metadata URL (default: the site's official URL)")
	out := fs.String("out", "", "write to FILE (default: the site's metadata_file with --config, else standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	s, ok := metadata.LookupSite(*site)
	if !ok {
		return fmt.Errorf("sp fetch: --site %q: use cn, intl or eu", *site)
	}
	src := *from
	if src == "" {
		src = s.MetadataURL
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && metadata.IsLoopbackHost(u.Hostname()))) {
		return fmt.Errorf("sp fetch: %q: an https URL is required", src)
	}
	target := *out
	if target == "" && *cfgPath != "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		for _, sp := range cfg.ServiceProviders {
			if sp.Site == *site {
				target = sp.MetadataFile
			}
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
	sp, err := metadata.LoadSP(*site, data, metadata.LoadOptions{RequireSignature: true})
	if err != nil {
		return fmt.Errorf("sp fetch: the downloaded metadata was refused: %w", err)
	}
	fmt.Fprintf(stderr, "verified %s metadata: entityID %s, ACS %s, certificate valid until %s\n",
		*site, sp.EntityID, sp.DefaultACS.Location, sp.NotAfter.Format(time.DateOnly))
	if target == "" {
		_, err = stdout.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".sp-metadata-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (send SIGHUP to running servers to load it)\n", target)
	return nil
}
