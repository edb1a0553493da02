//go:build boringcrypto

package main

import "crypto/boring"

// boringEnabled reports whether crypto/rsa runs on BoringCrypto.
func boringEnabled() bool { return boring.Enabled() }
