package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"hcidp/app"
	"hcidp/check"
	"hcidp/keys"
)

// cmdCheck validates a Response against the profile and explains each
// failure. With --config, the IdP certificate and entity ID and the site's
// ACS and entityID come from the configuration; flags override them.
func cmdCheck(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("check", stdout)
	fs.args = "FILE|-"
	cfgPath := fs.String("config", os.Getenv("HCIDP_CONFIG"), "configuration `file` (gives the IdP certificate, entity ID and SP)")
	site := fs.String("site", "", "site whose SP metadata gives Destination and Audience (default: the only or first configured)")
	certFile := fs.String("idp-cert", "", "IdP certificate PEM (instead of --config)")
	entityID := fs.String("idp-entity-id", "", "IdP entityID (instead of --config)")
	dest := fs.String("destination", "", "expected Destination / Recipient (the SP's ACS URL)")
	aud := fs.String("audience", "", "expected Audience (the SP's entityID)")
	irt := fs.String("in-response-to", "", "expected InResponseTo (the AuthnRequest ID)")
	bp := fs.String("bp-id", "", "expected bpId")
	at := fs.String("now", "", "check as of this RFC 3339 time (default: now)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf(fs.name, "check: give one FILE to check, or - for standard input")
	}
	exp := check.Expect{IdPEntityID: *entityID, Destination: *dest, Audience: *aud, InResponseTo: *irt, BpID: *bp}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErrorf(fs.name, "check: --now %q: give an RFC 3339 time (%v)", *at, err)
		}
		exp.Now = t
	}
	if *cfgPath != "" {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		_, cert, err := keys.LoadKeyPair(cfg.KeyFile, cfg.CertFile)
		if err != nil {
			return err
		}
		exp.IdPCerts = []*x509.Certificate{cert}
		if exp.IdPEntityID == "" {
			exp.IdPEntityID = cfg.EntityID
		}
		if exp.BpID == "" {
			exp.BpID = cfg.BpID
		}
		sps, err := app.LoadServiceProviders(cfg, time.Now(), nil)
		if err != nil {
			return err
		}
		for _, sp := range sps {
			if *site == "" || sp.Site == *site {
				if exp.Destination == "" {
					exp.Destination = sp.Meta.DefaultACS.Location
				}
				if exp.Audience == "" {
					exp.Audience = sp.Meta.EntityID
				}
				break
			}
		}
	}
	if *certFile != "" {
		b, err := os.ReadFile(*certFile)
		if err != nil {
			return err
		}
		certs, err := parsePEMCertificates(b)
		if err != nil {
			return fmt.Errorf("--idp-cert: %w", err)
		}
		exp.IdPCerts = certs
	}
	if len(exp.IdPCerts) == 0 || exp.IdPEntityID == "" || exp.Destination == "" || exp.Audience == "" {
		return usageErrorf(fs.name, "check needs the IdP certificate and entity ID and the SP's ACS and entityID: give --config, or --idp-cert, --idp-entity-id, --destination and --audience")
	}
	var input []byte
	var err error
	if fs.Arg(0) == "-" {
		input, err = io.ReadAll(io.LimitReader(stdin, 4<<20))
	} else {
		input, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	doc, err := check.Decode(input)
	if err != nil {
		return err
	}
	res := check.Response(doc, exp)
	if res.OK {
		fmt.Fprintf(stdout, "OK: the Response %s follows the Huawei Cloud profile\n", res.ResponseID)
		fmt.Fprintf(stdout, "  assertion %s for xAccountId %q\n", res.AssertionID, res.Attributes["xAccountId"])
		return nil
	}
	fmt.Fprintf(stdout, "FAILED: %d problem(s)\n", len(res.Findings))
	for _, f := range res.Findings {
		fmt.Fprintf(stdout, "  - [%s] %s\n", f.Rule, f.Message)
	}
	return fmt.Errorf("the Response does not follow the profile")
}

// parsePEMCertificates reads every CERTIFICATE block of a PEM file.
func parsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE found")
	}
	return certs, nil
}
