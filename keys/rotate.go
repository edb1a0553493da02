package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrNoNextPair is returned by Rotate when no next key pair is configured.
var ErrNoNextPair = errors.New("next_key_file and next_cert_file are not set: create the next pair with " +
	"`idp keys generate --out DIR`, set both keys, reload the servers, upload the metadata that lists both certificates " +
	"in Partner Center, and rotate once Huawei has it")

// Rotate is the last step of a signing-key rollover: it makes next the
// current pair. The current files are kept beside themselves as
// <file>.<UTC time of now>.old, then next's files are renamed to the
// current names, so that the configuration's key_file and cert_file hold
// the new pair without an edit. It returns the archived pair.
//
// Rotate refuses, changing nothing, when no next pair is set
// (ErrNoNextPair), when the next pair does not load (LoadNextKeyPair: a
// missing file, a wrong PEM, a mismatch), when next is the current pair
// (the same files, or the same key), when the next key file is readable by
// its group or others (a private key stays mode 0600), or when an archive
// name is taken. Each step is a rename(2), atomic on its own: a reader sees
// the old file or the new one, never a partial one. When a step fails the
// steps done are undone; file modes are kept, so the new current key stays
// 0600. The current pair itself is not loaded: an expired or broken pair
// can be rotated away.
func Rotate(current, next Pair, now time.Time) (archived Pair, err error) {
	return rotate(current, next, now, os.Rename)
}

func rotate(current, next Pair, now time.Time, rename func(from, to string) error) (Pair, error) {
	current = Current(current.KeyFile, current.CertFile)
	next = Next(next.KeyFile, next.CertFile)
	if next.KeyFile == "" || next.CertFile == "" {
		return Pair{}, ErrNoNextPair
	}
	if current.KeyFile == "" || current.CertFile == "" {
		return Pair{}, errors.New("key_file and cert_file must be set to rotate into them")
	}
	for _, f := range []struct{ name, path string }{{KeyFileKey, current.KeyFile}, {CertFileKey, current.CertFile}} {
		if _, err := os.Lstat(f.path); err != nil {
			return Pair{}, fmt.Errorf("%s %s: %w; nothing was rotated", f.name, f.path, err)
		}
	}
	if samePath(next.KeyFile, current.KeyFile) || samePath(next.CertFile, current.CertFile) {
		return Pair{}, fmt.Errorf("next_key_file/next_cert_file name the same files as key_file/cert_file (%s, %s): "+
			"the next pair must be new files (`idp keys generate --out DIR` in another directory); nothing was rotated", current.KeyFile, current.CertFile)
	}
	nextKey, _, err := next.Load()
	if err != nil {
		return Pair{}, fmt.Errorf("%w; nothing was rotated", err)
	}
	if curKey, _, err := current.Load(); err == nil && curKey.PublicKey.Equal(&nextKey.PublicKey) {
		return Pair{}, fmt.Errorf("next_key_file %s holds the same key as key_file %s: there is nothing to roll over to; "+
			"create a new pair with `idp keys generate --out DIR`", next.KeyFile, current.KeyFile)
	}
	if open, err := KeyFileTooOpen(next.KeyFile); err != nil {
		return Pair{}, err
	} else if open {
		return Pair{}, fmt.Errorf("next_key_file %s is readable by other users: `chmod 600 %s` first (it becomes the signing key); nothing was rotated",
			next.KeyFile, next.KeyFile)
	}

	stamp := now.UTC().Format("20060102T150405Z")
	archived := Pair{KeyFile: current.KeyFile + "." + stamp + ".old", CertFile: current.CertFile + "." + stamp + ".old",
		KeyName: KeyFileKey, CertName: CertFileKey}
	for _, p := range []string{archived.KeyFile, archived.CertFile} {
		if _, err := os.Lstat(p); err == nil {
			return Pair{}, fmt.Errorf("%s already exists: wait a second and rotate again; nothing was rotated", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return Pair{}, fmt.Errorf("%w", err)
		}
	}
	moves := [][2]string{
		{current.KeyFile, archived.KeyFile},
		{current.CertFile, archived.CertFile},
		{next.KeyFile, current.KeyFile},
		{next.CertFile, current.CertFile},
	}
	for i, m := range moves {
		if err := rename(m[0], m[1]); err != nil {
			// Undo what was moved so the installation stays as it was.
			var undo []error
			for j := i - 1; j >= 0; j-- {
				if uerr := rename(moves[j][1], moves[j][0]); uerr != nil {
					undo = append(undo, uerr)
				}
			}
			if len(undo) > 0 {
				return Pair{}, fmt.Errorf("rotating: %w; undoing it failed too (%v): check %s and %s by hand",
					err, errors.Join(undo...), current.KeyFile, current.CertFile)
			}
			return Pair{}, fmt.Errorf("rotating: %w; nothing was rotated", err)
		}
	}
	for _, d := range uniqueDirs(current.KeyFile, current.CertFile, next.KeyFile, next.CertFile) {
		if err := syncDir(d); err != nil {
			return archived, err
		}
	}
	return archived, nil
}

// samePath reports whether a and b name the same file (after cleaning and,
// where they exist, resolving symbolic links).
func samePath(a, b string) bool {
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return filepath.Clean(p)
	}
	return resolve(a) == resolve(b)
}

func uniqueDirs(paths ...string) []string {
	var dirs []string
	seen := map[string]bool{}
	for _, p := range paths {
		d := filepath.Dir(p)
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs
}
