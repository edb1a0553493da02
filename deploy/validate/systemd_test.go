package validate

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"hcidp/config"
)

// serviceUnit is what the [Service] section of a unit says about the files
// the service sees.
type serviceUnit struct {
	env            map[string]string // Environment= (EnvironmentFile= is optional and may be absent)
	configPath     string            // --config of ExecStart
	writable       []string          // StateDirectory= (under /var/lib), ReadWritePaths=, PrivateTmp's /tmp
	readOnly       []string          // ReadOnlyPaths=
	inaccessible   []string          // InaccessiblePaths=
	protectStrict  bool              // ProtectSystem=strict: everything else is read-only
	workingDir     string
	stateDirectory string
}

func parseServiceUnit(text string) (*serviceUnit, error) {
	opts, err := unit.DeserializeOptions(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	u := &serviceUnit{env: map[string]string{}}
	for _, o := range opts {
		if o.Section != "Service" {
			continue
		}
		fields := strings.Fields(o.Value)
		switch o.Name {
		case "Environment":
			for _, f := range fields {
				k, v, _ := strings.Cut(strings.Trim(f, `"`), "=")
				u.env[k] = v
			}
		case "ExecStart":
			for i, f := range fields {
				if f == "--config" && i+1 < len(fields) {
					u.configPath = fields[i+1]
				} else if v, ok := strings.CutPrefix(f, "--config="); ok {
					u.configPath = v
				}
			}
		case "StateDirectory":
			for _, f := range fields {
				u.stateDirectory = f
				u.writable = append(u.writable, path.Join("/var/lib", f))
			}
		case "ReadWritePaths":
			u.writable = append(u.writable, trimPrefixes(fields)...)
		case "ReadOnlyPaths":
			u.readOnly = append(u.readOnly, trimPrefixes(fields)...)
		case "InaccessiblePaths":
			u.inaccessible = append(u.inaccessible, trimPrefixes(fields)...)
		case "PrivateTmp":
			if o.Value == "yes" || o.Value == "true" {
				u.writable = append(u.writable, "/tmp")
			}
		case "ProtectSystem":
			u.protectStrict = o.Value == "strict"
		case "WorkingDirectory":
			u.workingDir = strings.TrimPrefix(o.Value, "-")
		}
	}
	return u, nil
}

// trimPrefixes drops the "-" (ignore if missing) and "+" prefixes systemd
// allows on path lists.
func trimPrefixes(fields []string) []string {
	var out []string
	for _, f := range fields {
		out = append(out, strings.TrimLeft(f, "-+"))
	}
	return out
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func underAny(p string, dirs []string) bool {
	return deepest(p, dirs) >= 0
}

// deepest returns the length of the most specific entry of dirs that holds p,
// or -1: systemd applies the most specific of nested path settings.
func deepest(p string, dirs []string) int {
	n := -1
	for _, d := range dirs {
		if under(p, d) && len(path.Clean(d)) > n {
			n = len(path.Clean(d))
		}
	}
	return n
}

// checkSQLitePaths returns why the SQLite database the unit would open is not
// writable, given the configuration file's text, or nil. SQLite writes the
// database, its -wal and -shm files and its journal, so the directory must be
// writable, not only the file.
func checkSQLitePaths(t *testing.T, u *serviceUnit, configText string) error {
	t.Helper()
	for _, name := range []string{"HCIDP_DATABASE", "HCIDP_LISTEN", "HCIDP_API_KEY"} {
		t.Setenv(name, u.env[name])
	}
	cfg, err := config.Parse([]byte(configText), path.Dir(u.configPath))
	if err != nil {
		return fmt.Errorf("the configuration does not parse: %w", err)
	}
	db, ok := strings.CutPrefix(cfg.Database, "sqlite:")
	if !ok {
		return fmt.Errorf("database %q is not SQLite", cfg.Database)
	}
	dir := path.Dir(db)
	switch {
	case !path.IsAbs(db):
		return fmt.Errorf("database %s is relative: it depends on the working directory", db)
	case underAny(dir, u.inaccessible):
		return fmt.Errorf("database directory %s is in InaccessiblePaths=%v", dir, u.inaccessible)
	case underAny(dir, u.readOnly) && deepest(dir, u.readOnly) >= deepest(dir, u.writable):
		return fmt.Errorf("database directory %s is in ReadOnlyPaths=%v", dir, u.readOnly)
	case u.protectStrict && !underAny(dir, u.writable):
		return fmt.Errorf("database directory %s is read-only under ProtectSystem=strict (writable: %v)", dir, u.writable)
	case dir == "/tmp" || under(dir, "/tmp"):
		return fmt.Errorf("database directory %s is the private /tmp, lost at every restart", dir)
	}
	return nil
}

// minimalConfig is a configuration without a database key: the built-in
// default, sqlite:hcidp.db, resolves next to the configuration file.
const minimalConfig = `base_url: https://idp.partner.example
key_file: /etc/hcidp/idp.key
cert_file: /etc/hcidp/idp.crt
bp_id: bp-0001
x_account_type: ZXT
service_providers:
  - site: cn
`

// TestSystemdUnitStoresSQLiteInItsStateDirectory proves that
// deploy/hcidp.service runs the example configuration's SQLite database: it
// lies in the unit's StateDirectory, writable, while /etc/hcidp (the
// configuration and the keys) stays read-only. The unit sets no
// HCIDP_DATABASE: it would override hcidp.yaml for the service but not for
// the admin commands an operator runs, which read hcidp.yaml alone.
func TestSystemdUnitStoresSQLiteInItsStateDirectory(t *testing.T) {
	b, err := os.ReadFile("../hcidp.service")
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseServiceUnit(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if u.stateDirectory != "hcidp" {
		t.Errorf("StateDirectory=%q, want hcidp (/var/lib/hcidp)", u.stateDirectory)
	}
	if u.configPath == "" || !underAny(u.configPath, u.readOnly) {
		t.Errorf("the configuration %q should be in ReadOnlyPaths=%v", u.configPath, u.readOnly)
	}
	if u.workingDir != "" && !underAny(u.workingDir, u.writable) {
		t.Errorf("WorkingDirectory=%s is outside the unit's writable paths %v", u.workingDir, u.writable)
	}
	if v, ok := u.env["HCIDP_DATABASE"]; ok {
		t.Errorf("the unit sets HCIDP_DATABASE=%s: the service and the admin commands would use different databases", v)
	}
	example, err := os.ReadFile("../hcidp.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("example configuration", func(t *testing.T) {
		if err := checkSQLitePaths(t, u, string(example)); err != nil {
			t.Error(err)
		}
	})

	// The check itself, on the two ways to get it wrong.
	t.Run("a database next to the configuration is caught", func(t *testing.T) {
		err := checkSQLitePaths(t, u, minimalConfig)
		if err == nil || !strings.Contains(err.Error(), "/etc/hcidp") {
			t.Fatalf("the collision of sqlite:hcidp.db with ReadOnlyPaths=/etc/hcidp was not found: %v", err)
		}
	})
	t.Run("a unit without StateDirectory is caught", func(t *testing.T) {
		ou, err := parseServiceUnit(strings.Replace(string(b), "StateDirectory=hcidp\n", "", 1))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSQLitePaths(t, ou, string(example)); err == nil || !strings.Contains(err.Error(), "/var/lib/hcidp") {
			t.Fatalf("a read-only /var/lib/hcidp under ProtectSystem=strict was not found: %v", err)
		}
	})

	// systemd's own checker, with ExecStart pointed at an executable that
	// exists here (it checks that the binary is executable).
	t.Run("systemd-analyze verify", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("systemd-analyze is missing in CI (Debian package systemd):", err)
			}
			t.Skip("systemd-analyze is not installed (Debian package systemd)")
		}
		stand, err := exec.LookPath("true")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "hcidp.service")
		if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte("ExecStart=/usr/local/bin/idp "), []byte("ExecStart="+stand+" ")), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", p).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}
