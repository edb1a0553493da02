// Package migrate loads the numbered SQL migrations that each storage backend
// embeds. Applying them is left to the backend, which knows its own locking.
package migrate
