package storage

import "time"

// LaunchTokenTTL is how long a portal launch token may wait to be used.
const LaunchTokenTTL = 60 * time.Second

// LaunchToken is a one-time portal hand-off: the partner's backend mints it
// through the API, the customer's browser redeems it at GET /launch and is
// signed in without a password. Only the SHA-256 of the token is stored, so
// a copy of the database cannot be used to sign anyone in.
type LaunchToken struct {
	// Hash is the hex SHA-256 of the token. Primary key.
	Hash       string
	XAccountID string
	// Site and Service say where the customer continues: /console?site=&service=.
	// Service may be empty (the site's console home).
	Site    string
	Service string
	// Expires is when the token stops being accepted; Created when it was minted.
	Expires time.Time
	Created time.Time
}
