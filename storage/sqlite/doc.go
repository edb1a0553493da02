// Package sqlite is the embedded storage backend, built on the pure-Go
// modernc.org/sqlite driver.
//
// The database runs in WAL mode with a busy timeout and foreign keys on. All
// writes go through a single connection whose transactions begin IMMEDIATE,
// so read-modify-write sequences never fail with SQLITE_BUSY inside one
// process; other processes sharing the file wait on the busy timeout. Reads use
// a separate pool of read-only connections. Times are stored as INTEGER unix
// microseconds (UTC), matching PostgreSQL's timestamp precision.
package sqlite
