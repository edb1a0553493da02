package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DatabaseKey names where the database setting came from for messages:
// "HCIDP_DATABASE" when the environment set it, else "database".
func (c *Config) DatabaseKey() string {
	if c.databaseSource != "" {
		return c.databaseSource
	}
	return "database"
}

// CheckDatabase checks what can be checked of the database before it is
// opened, so that the error names the key and the fix rather than what
// SQLite says: for sqlite:PATH, that PATH's directory exists, is a
// directory and is writable (SQLite writes its journal beside the file),
// and that PATH is not a directory. A PostgreSQL DSN is checked by
// connecting. It is separate from Validate because it looks at this
// machine: commands that do not open the database (metadata, check) do not
// call it.
func (c *Config) CheckDatabase() error {
	path, ok := strings.CutPrefix(c.Database, "sqlite:")
	if !ok || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	key := c.DatabaseKey()
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s: %s is a directory: name the database file in it, e.g. sqlite:%s", key, path, filepath.Join(path, "hcidp.db"))
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: the directory %s of sqlite:%s does not exist: create it (`mkdir -p %s`, writable by the user that runs idp), or set %s to a file in an existing directory",
			key, dir, path, dir, key)
	case err != nil:
		return fmt.Errorf("%s: the directory of sqlite:%s: %w", key, path, err)
	case !fi.IsDir():
		return fmt.Errorf("%s: %s, the directory of sqlite:%s, is not a directory: set %s to a file in a directory", key, dir, path, key)
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return fmt.Errorf("%s: the directory %s of sqlite:%s is not writable by this user (%v): SQLite writes its journal beside the database; "+
			"run idp as the user that owns it, or set %s to a writable place (with systemd: StateDirectory=, e.g. sqlite:/var/lib/hcidp/hcidp.db)",
			key, dir, path, err, key)
	}
	return nil
}
