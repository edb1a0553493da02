package main

import (
	"fmt"
	"io"
	"time"

	"hcidp/keys"
)

func cmdKeysGenerate(args []string, stdout io.Writer) error {
	fs := newFlags("keys generate", stdout)
	out := fs.String("out", "", "`directory` for idp.key and idp.crt")
	bits := fs.Int("bits", 3072, "RSA key size: 2048, 3072 or 4096")
	cn := fs.String("cn", "hcidp", "certificate subject common name")
	days := fs.Int("days", 1095, "certificate validity in days")
	force := fs.Bool("force", false, "overwrite existing files")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf(fs.name, "keys generate: --out DIR is required")
	}
	if *days < 1 || *days > 3650 {
		return usageErrorf(fs.name, "keys generate: --days must be between 1 and 3650")
	}
	key, cert, err := keys.Generate(*bits, *cn, time.Duration(*days)*24*time.Hour, time.Now())
	if err != nil {
		return err
	}
	if err := keys.WriteFiles(*out, key, cert, *force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/idp.key (mode 0600) and %s/idp.crt (RSA-%d, CN=%s, valid until %s)\n",
		*out, *out, *bits, *cn, cert.NotAfter.Format(time.DateOnly))
	return nil
}

// cmdKeysRotate makes the configured next key pair the current one
// (keys.Rotate) and says what to do next.
func cmdKeysRotate(args []string, stdout io.Writer) error {
	cfg, err := configCommand("keys rotate", args, stdout)
	if err != nil {
		return err
	}
	archived, err := keys.Rotate(keys.Current(cfg.KeyFile, cfg.CertFile), keys.Next(cfg.NextKeyFile, cfg.NextCertFile), time.Now())
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	fmt.Fprintf(stdout, `rotated: %s and %s now hold the former next key pair (the old pair is kept as %s and %s).
Next steps:
  1. reload every running server: kill -HUP <pid> (or restart it);
  2. remove next_key_file and next_cert_file from the configuration;
  3. run "idp metadata" and upload the new IDP Metadata.xml in Partner Center.
`, cfg.KeyFile, cfg.CertFile, archived.KeyFile, archived.CertFile)
	return nil
}
