package config

import (
	"fmt"
	"os"
	"strings"
)

// MinAPIKeyLength is the shortest accepted portal API key (`openssl rand
// -base64 32` prints 44 characters).
const MinAPIKeyLength = 32

// resolveAPIKey settles where the portal API key comes from, in order:
// $HCIDP_API_KEY, then api_key, then the file named by api_key_file (its
// content, surrounding white space trimmed). Setting both api_key and
// api_key_file is an error. It records the source so that validation errors
// name the right key.
func (c *Config) resolveAPIKey() error {
	if v := os.Getenv("HCIDP_API_KEY"); v != "" {
		c.APIKey, c.apiKeySource = v, "HCIDP_API_KEY"
		return nil
	}
	switch {
	case c.APIKeyFile != "" && c.APIKey != "":
		return fmt.Errorf("api_key_file: set either api_key or api_key_file, not both")
	case c.APIKeyFile != "":
		c.APIKeyFile = c.Path(c.APIKeyFile)
		b, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			return fmt.Errorf("api_key_file: %w", err)
		}
		c.APIKey = strings.TrimSpace(string(b))
		c.apiKeySource = "api_key_file " + c.APIKeyFile
		if c.APIKey == "" {
			return fmt.Errorf("api_key_file: %s is empty", c.APIKeyFile)
		}
	case c.APIKey != "":
		c.apiKeySource = "api_key"
	}
	return nil
}

// APIEnabled reports whether the portal hand-off API is on (an API key is set).
func (c *Config) APIEnabled() bool { return c.APIKey != "" }

// validateAPIKey checks the key's strength and form: at least
// MinAPIKeyLength printable ASCII characters without spaces, so that it fits
// an "Authorization: Bearer" header unchanged.
func (c *Config) validateAPIKey() error {
	if c.APIKey == "" {
		return nil
	}
	key := c.apiKeySource
	if key == "" {
		key = "api_key"
	}
	if len(c.APIKey) < MinAPIKeyLength {
		return fmt.Errorf("%s: the API key is %d characters long; use at least %d random characters (e.g. `openssl rand -base64 32`)", key, len(c.APIKey), MinAPIKeyLength)
	}
	for _, r := range c.APIKey {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("%s: the API key must be printable ASCII without spaces", key)
		}
	}
	return nil
}
