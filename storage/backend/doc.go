// Package backend opens the storage backend named by a database string, as
// given in the configuration file or on the command line.
package backend
