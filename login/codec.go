package login

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"
)

// sessionCodec is how a session is stored: its deadline and its values,
// which are strings and int64s only (session.go). Written by hand because
// scs's default, encoding/gob, builds a new decoder for every session it
// reads, and compiling gob's decoding engine for a map of interfaces cost
// about 230 allocations and 40 µs on every signed-in request, the SSO
// included; this format costs a handful. Sessions stored before it (gob)
// still decode, so an upgrade signs nobody out.
//
// Layout: the magic sessionMagic, the deadline as a varint of Unix
// nanoseconds, the number of values as a uvarint, then for each value in
// key order: the key (uvarint length, bytes), a tag ('s' string, 'i'
// int64), the value (a string as uvarint length and bytes, an int64 as a
// varint).
type sessionCodec struct{}

// sessionMagic starts every session this codec writes. A gob stream never
// starts with a zero byte (its first byte is a non-zero message length).
const sessionMagic = "\x00hcs1"

var _ scs.Codec = sessionCodec{}

var errSessionCorrupt = errors.New("session data is corrupt")

func (sessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	if deadline.Year() < 1678 || deadline.Year() > 2261 { // beyond Unix nanoseconds in an int64
		return nil, fmt.Errorf("session deadline %v cannot be stored", deadline)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := make([]byte, 0, 64+32*len(keys))
	b = append(b, sessionMagic...)
	b = binary.AppendVarint(b, deadline.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		switch v := values[k].(type) {
		case string:
			b = appendString(append(b, 's'), v)
		case int64:
			b = binary.AppendVarint(append(b, 'i'), v)
		default:
			return nil, fmt.Errorf("session value %q is a %T; the session codec stores strings and int64s", k, v)
		}
	}
	return b, nil
}

func (sessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	if len(b) < len(sessionMagic) || string(b[:len(sessionMagic)]) != sessionMagic {
		return scs.GobCodec{}.Decode(b) // stored before this codec
	}
	r := sessionReader{b: b[len(sessionMagic):]}
	deadline := r.varint()
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) { // every value takes at least a byte
		return time.Time{}, nil, errSessionCorrupt
	}
	values := make(map[string]any, n)
	for range n {
		k := r.string()
		switch r.byte() {
		case 's':
			values[k] = r.string()
		case 'i':
			values[k] = r.varint()
		default:
			r.bad = true
		}
		if r.bad {
			return time.Time{}, nil, errSessionCorrupt
		}
	}
	if len(r.b) != 0 {
		return time.Time{}, nil, errSessionCorrupt
	}
	return time.Unix(0, deadline), values, nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// sessionReader reads the layout above; bad is set at the first error and
// every later read returns a zero value.
type sessionReader struct {
	b   []byte
	bad bool
}

func (r *sessionReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 || r.bad {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *sessionReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || r.bad {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *sessionReader) byte() byte {
	if len(r.b) == 0 || r.bad {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *sessionReader) string() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
