// Package storagetest holds the conformance suite shared by all storage
// backends. A backend's test calls
//
//	storagetest.Run(t, func(t *testing.T) storage.Storage { ... })
//
// and must pass every named subtest, so that callers can rely on the
// documented semantics of storage.Storage whatever the database.
package storagetest
