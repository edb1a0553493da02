//go:build !boringcrypto

package main

// boringEnabled reports whether crypto/rsa runs on BoringCrypto.
func boringEnabled() bool { return false }
