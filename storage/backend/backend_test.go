package backend

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		database string
		kind     kind
		target   string
		wantErr  string
	}{
		{"sqlite file", "sqlite:/var/lib/hcidp/hcidp.db", kindSQLite, "/var/lib/hcidp/hcidp.db", ""},
		{"sqlite relative", "sqlite:hcidp.db", kindSQLite, "hcidp.db", ""},
		{"sqlite memory", "sqlite::memory:", kindSQLite, ":memory:", ""},
		{"postgres", "postgres://u:p@db:5432/hcidp?sslmode=require", kindPostgres, "postgres://u:p@db:5432/hcidp?sslmode=require", ""},
		{"postgresql", "postgresql://db/hcidp", kindPostgres, "postgresql://db/hcidp", ""},
		{"empty", "", 0, "", "no database given"},
		{"sqlite no path", "sqlite:", 0, "", "missing path"},
		{"sqlite URL", "sqlite:///tmp/x.db", 0, "", "not a URL"},
		{"bare path", "/tmp/hcidp.db", 0, "", `write "sqlite:/tmp/hcidp.db"`},
		{"mysql", "mysql://u:secret@db/hcidp", 0, "", `unsupported database scheme "mysql"`},
		{"key value", "host=db user=u password=secret", 0, "", "postgres://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, target, err := parse(tt.database)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse(%q) error = %v, want it to contain %q", tt.database, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("parse(%q) error leaks the password: %v", tt.database, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tt.database, err)
			}
			if k != tt.kind || target != tt.target {
				t.Errorf("parse(%q) = %v, %q; want %v, %q", tt.database, k, target, tt.kind, tt.target)
			}
		})
	}
}

func TestOpenSQLite(t *testing.T) {
	for _, db := range []string{"sqlite::memory:", "sqlite:" + filepath.Join(t.TempDir(), "hcidp.db")} {
		s, err := Open(t.Context(), db)
		if err != nil {
			t.Fatalf("Open(%q): %v", db, err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
		s.Close()
	}
}

func TestOpenInvalid(t *testing.T) {
	if _, err := Open(t.Context(), "redis://localhost"); err == nil {
		t.Fatal("Open(redis://...) succeeded")
	}
}

// TestOpenWithPassesTheClock: the store reads the time from Options.Now,
// here years ahead of the real clock, so a session that expires in an hour
// of real time has long expired.
func TestOpenWithPassesTheClock(t *testing.T) {
	ahead := time.Now().AddDate(10, 0, 0)
	s, err := OpenWith(t.Context(), "sqlite::memory:", Options{Now: func() time.Time { return ahead }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CommitCtx(t.Context(), "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.FindCtx(t.Context(), "tok"); err != nil || found {
		t.Errorf("FindCtx = %v, %v; want not found at the store's clock", found, err)
	}
}
