package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rotation is a current pair in dir/certs and a next pair in dir/next.
type rotation struct {
	current, next       Pair
	curKey, curCert     []byte
	nextKey, nextCert   []byte
	currentDir, nextDir string
}

func newRotation(t *testing.T) rotation {
	t.Helper()
	dir := t.TempDir()
	r := rotation{currentDir: filepath.Join(dir, "certs"), nextDir: filepath.Join(dir, "next")}
	curKey, curCert := testPair(t)
	if err := WriteFiles(r.currentDir, curKey, curCert, false); err != nil {
		t.Fatal(err)
	}
	nextKey, nextCert, err := Generate(2048, "hcidp next", 24*time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(r.nextDir, nextKey, nextCert, false); err != nil {
		t.Fatal(err)
	}
	r.current = Current(filepath.Join(r.currentDir, KeyFileName), filepath.Join(r.currentDir, CertFileName))
	r.next = Next(filepath.Join(r.nextDir, KeyFileName), filepath.Join(r.nextDir, CertFileName))
	r.curKey, r.curCert = readFile(t, r.current.KeyFile), readFile(t, r.current.CertFile)
	r.nextKey, r.nextCert = readFile(t, r.next.KeyFile), readFile(t, r.next.CertFile)
	return r
}

// unchanged fails unless every file of the rotation is as it was.
func (r rotation) unchanged(t *testing.T) {
	t.Helper()
	for _, f := range []struct {
		path string
		want []byte
	}{{r.current.KeyFile, r.curKey}, {r.current.CertFile, r.curCert}, {r.next.KeyFile, r.nextKey}, {r.next.CertFile, r.nextCert}} {
		if got, err := os.ReadFile(f.path); err != nil || !bytes.Equal(got, f.want) {
			t.Errorf("%s changed (%v)", f.path, err)
		}
	}
	if old, _ := filepath.Glob(filepath.Join(r.currentDir, "*.old")); len(old) > 0 {
		t.Errorf("archives left behind: %v", old)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRotateInstallsTheNextPair: the next pair takes the current names
// (key mode 0600 kept), the old pair is archived as *.<time>.old, and the
// next files are gone.
func TestRotateInstallsTheNextPair(t *testing.T) {
	r := newRotation(t)
	archived, err := Rotate(r.current, r.next, testNow)
	if err != nil {
		t.Fatal(err)
	}
	stamp := ".20261123T120000Z.old"
	if archived.KeyFile != r.current.KeyFile+stamp || archived.CertFile != r.current.CertFile+stamp {
		t.Errorf("archived = %+v, want the current names + %s", archived, stamp)
	}
	if got := readFile(t, r.current.KeyFile); !bytes.Equal(got, r.nextKey) {
		t.Error("key_file does not hold the next key")
	}
	if got := readFile(t, r.current.CertFile); !bytes.Equal(got, r.nextCert) {
		t.Error("cert_file does not hold the next certificate")
	}
	if !bytes.Equal(readFile(t, archived.KeyFile), r.curKey) || !bytes.Equal(readFile(t, archived.CertFile), r.curCert) {
		t.Error("the archive does not hold the former pair")
	}
	assertMode(t, r.current.KeyFile, 0o600)
	assertMode(t, archived.KeyFile, 0o600)
	for _, p := range []string{r.next.KeyFile, r.next.CertFile} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after the rotation", p)
		}
	}
	if _, _, err := LoadKeyPair(r.current.KeyFile, r.current.CertFile); err != nil {
		t.Fatalf("the rotated pair does not load: %v", err)
	}
}

// TestRotateRefuses: every refusal names the key and the fix, and changes
// nothing.
func TestRotateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, r *rotation) (current, next Pair)
		want  []string
	}{
		{"no next pair", func(t *testing.T, r *rotation) (Pair, Pair) { return r.current, Pair{} },
			[]string{"next_key_file and next_cert_file are not set", "idp keys generate --out DIR"}},
		{"next key missing", func(t *testing.T, r *rotation) (Pair, Pair) {
			n := r.next
			n.KeyFile = filepath.Join(r.nextDir, "absent.key")
			return r.current, n
		}, []string{"next_key_file", "absent.key does not exist", "idp keys generate --out ", "nothing was rotated"}},
		{"next is the current files", func(t *testing.T, r *rotation) (Pair, Pair) {
			return r.current, Next(r.current.KeyFile, r.current.CertFile)
		}, []string{"same files as key_file/cert_file", "nothing was rotated"}},
		{"next is the current files by another path", func(t *testing.T, r *rotation) (Pair, Pair) {
			return r.current, Next(filepath.Join(r.currentDir, ".", KeyFileName), filepath.Join(r.nextDir, "..", "certs", CertFileName))
		}, []string{"same files as key_file/cert_file"}},
		{"next is a copy of the current key", func(t *testing.T, r *rotation) (Pair, Pair) {
			os.WriteFile(r.next.KeyFile, r.curKey, 0o600)
			os.WriteFile(r.next.CertFile, r.curCert, 0o644)
			r.nextKey, r.nextCert = r.curKey, r.curCert
			return r.current, r.next
		}, []string{"holds the same key as key_file", "nothing to roll over to"}},
		{"next certificate of another key", func(t *testing.T, r *rotation) (Pair, Pair) {
			os.WriteFile(r.next.CertFile, r.curCert, 0o644)
			r.nextCert = r.curCert
			return r.current, r.next
		}, []string{"next_cert_file", "does not match next_key_file", "nothing was rotated"}},
		{"next key readable by others", func(t *testing.T, r *rotation) (Pair, Pair) {
			os.Chmod(r.next.KeyFile, 0o644)
			return r.current, r.next
		}, []string{"readable by other users", "chmod 600 "}},
		{"current key missing", func(t *testing.T, r *rotation) (Pair, Pair) {
			os.Remove(r.current.KeyFile)
			r.curKey = nil
			return r.current, r.next
		}, []string{"key_file", "nothing was rotated"}},
		{"archive name taken", func(t *testing.T, r *rotation) (Pair, Pair) {
			taken := r.current.KeyFile + ".20261123T120000Z.old"
			os.WriteFile(taken, nil, 0o600)
			t.Cleanup(func() { os.Remove(taken) })
			return r.current, r.next
		}, []string{"already exists", "nothing was rotated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRotation(t)
			cur, next := tc.setup(t, &r)
			_, err := Rotate(cur, next, testNow)
			if err == nil {
				t.Fatal("Rotate succeeded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if tc.name == "current key missing" {
				return // there is no current key to compare
			}
			if tc.name == "archive name taken" {
				os.Remove(r.current.KeyFile + ".20261123T120000Z.old")
			}
			r.unchanged(t)
		})
	}
}

// TestRotateUndoesAFailedStep: when a rename fails half-way, the renames
// done are undone and both pairs are where they were.
func TestRotateUndoesAFailedStep(t *testing.T) {
	for failAt := 1; failAt <= 4; failAt++ {
		r := newRotation(t)
		calls := 0
		rename := func(from, to string) error {
			calls++
			if calls == failAt {
				return errors.New("injected failure")
			}
			return os.Rename(from, to)
		}
		if _, err := rotate(r.current, r.next, testNow, rename); err == nil || !strings.Contains(err.Error(), "nothing was rotated") {
			t.Fatalf("failure at step %d: %v", failAt, err)
		}
		r.unchanged(t)
	}
}
