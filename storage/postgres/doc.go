// Package postgres is the PostgreSQL storage backend, built on pgx v5
// (pgxpool). Several hcidp replicas may share one database: atomic
// operations use row locks or single-statement upserts, and migrations run
// under a transaction-scoped advisory lock so that concurrent start-ups apply
// them once. Tables live in the first schema of the connection's search_path.
package postgres
