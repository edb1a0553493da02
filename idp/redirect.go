package idp

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"hcidp/saml"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits of the HTTP-Redirect binding (docs/threat-model.md "Order of checks" 1).
const (
	MaxURLBytes        = 16 << 10  // whole request URI
	maxInflatedRequest = 128 << 10 // AuthnRequest after inflate
	maxRelayState      = 1024      // decoded RelayState (docs/profile.md §2)
)

// RawParam is one query parameter as received: Raw is the still-encoded
// value (what the signature covers), Value the decoded one.
type RawParam struct {
	Raw   string
	Value string
	Set   bool
}

// SignedQuery is a strictly parsed redirect-binding query string.
type SignedQuery struct {
	params map[string]*RawParam
}

// Get returns the parameter name (one of the names the query was parsed
// for): never nil.
func (q *SignedQuery) Get(name string) *RawParam { return q.params[name] }

// ParseSignedQuery parses rawQuery strictly (docs/threat-model.md "Order
// of checks", step 2): every pair
// must be well formed and percent-decodable, no ';' separators, and each of
// the names in known at most once. Other parameters are ignored.
func ParseSignedQuery(rawQuery string, known ...string) (*SignedQuery, *Refusal) {
	q := &SignedQuery{params: make(map[string]*RawParam, len(known))}
	for _, k := range known {
		q.params[k] = &RawParam{}
	}
	if strings.Contains(rawQuery, ";") {
		return nil, refuse(400, "query.semicolon", "the query string contains ';'")
	}
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		rawKey, rawVal, hasEq := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, refuse(400, "query.malformed", "a query parameter name is not valid percent-encoding")
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, refuse(400, "query.malformed", "query parameter "+key+" is not valid percent-encoding")
		}
		p, ok := q.params[key]
		if !ok {
			continue
		}
		if !hasEq {
			return nil, refuse(400, "query.malformed", "query parameter "+key+" has no value")
		}
		if p.Set {
			return nil, refuse(400, "query.duplicate", "query parameter "+key+" appears more than once")
		}
		*p = RawParam{Raw: rawVal, Value: val, Set: true}
	}
	return q, nil
}

// sigHash maps an allow-listed SigAlg to its hash (docs/threat-model.md step 3: before
// any crypto). Huawei prints the URI in upper case, so the comparison is
// case-insensitive (docs/profile.md §2). rsa-sha1 only when allowed.
func sigHash(alg string, allowSHA1 bool) (crypto.Hash, bool) {
	switch strings.ToLower(alg) {
	case saml.AlgRSASHA256:
		return crypto.SHA256, true
	case saml.AlgRSASHA384:
		return crypto.SHA384, true
	case saml.AlgRSASHA512:
		return crypto.SHA512, true
	case saml.AlgRSASHA1:
		return crypto.SHA1, allowSHA1
	}
	return 0, false
}

// SignedOctets rebuilds the signed string from the raw received values in the
// canonical order "first=..&[second=..&]SigAlg=..", whatever order they
// arrived in (SAML bindings §3.4.4.1).
func SignedOctets(q *SignedQuery, names ...string) []byte {
	var b strings.Builder
	for _, n := range names {
		p := q.Get(n)
		if !p.Set {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(p.Raw)
	}
	return []byte(b.String())
}

// queryDigest hashes the signed octets with h.
func queryDigest(octets []byte, h crypto.Hash) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(octets)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(octets)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(octets)
		return d[:]
	}
	hh := h.New()
	hh.Write(octets)
	return hh.Sum(nil)
}

// verifyQuerySignature checks sig over octets with any of certs, whatever
// their validity period; it returns the index of the certificate that
// verified, or -1. The server verifies with the precomputed keys of its trust
// snapshot instead (trust.go), which also enforce the validity period.
func verifyQuerySignature(octets []byte, sig []byte, h crypto.Hash, certs []*x509.Certificate) int {
	digest := queryDigest(octets, h)
	for i, c := range certs {
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			continue
		}
		if verifyPKCS1v15(pub, h, digest, sig) == nil {
			return i
		}
	}
	return -1
}

// decodeSignature decodes the Signature parameter (standard base64; RSA
// signatures are at most 512 bytes for 4096-bit keys, allow up to 8192-bit).
func decodeSignature(s string) ([]byte, bool) {
	if s == "" || len(s) > 1400 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// QuerySignature is a redirect-binding signature that verified.
type QuerySignature struct {
	digest, sig []byte
	hash        crypto.Hash
	// now is the time the keys' validity periods are checked at, and t the
	// trust snapshot they come from: one request sees one of each.
	now time.Time
	t   *trust
	// sp is the first trusted SP whose currently valid signing key verified it.
	sp *ServiceProvider
}

// VerifySignedQuery runs docs/threat-model.md steps 3 and 4 on a strictly parsed
// query: SigAlg and Signature present, SigAlg on the allow-list before any
// crypto, then the signature over the raw received values of signed (in that
// order, whatever order they arrived in) with the signing keys of the
// trusted SPs' metadata; the key is never chosen from the request. A key
// counts only inside its certificate's validity period, unless the site's
// allow_expired_certificate override is set (docs/threat-model.md "SP
// metadata loading"): a signature that verifies only with an expired or
// not yet valid key is refused with its own reason. what names the message
// in refusals.
func (p *IdP) VerifySignedQuery(q *SignedQuery, what string, signed ...string) (*QuerySignature, *Refusal) {
	v, _, ref := p.VerifySignedMessages(q, what, SignedOctets(q, signed...))
	return v, ref
}

// VerifySignedMessages is VerifySignedQuery for a message that may be signed
// over one of several octet strings (the bind-result notification, whose
// signed octets Huawei does not document: docs/profile.md §4). It returns the
// index of the message that verified; the signature is accepted over one of
// messages and nothing else.
func (p *IdP) VerifySignedMessages(q *SignedQuery, what string, messages ...[]byte) (*QuerySignature, int, *Refusal) {
	sigAlg, sig := q.Get("SigAlg"), q.Get("Signature")
	if !sigAlg.Set || !sig.Set {
		return nil, -1, refuse(http.StatusForbidden, "signature.missing", what+" is not signed (SigAlg and Signature are required)")
	}
	h, ok := sigHash(sigAlg.Value, p.cfg.AllowSHA1)
	if !ok {
		return nil, -1, refuse(400, "sigalg.unsupported", "SigAlg "+truncate(sigAlg.Value, 100)+" is not allowed")
	}
	sigBytes, ok := decodeSignature(sig.Value)
	if !ok {
		return nil, -1, refuse(http.StatusForbidden, "signature.encoding", "Signature is not base64")
	}
	now, t := p.now(), p.trust()
	var outside *trustedKey // a key that verified outside its validity period
	var outsideSP *ServiceProvider
	for mi, m := range messages {
		v := &QuerySignature{digest: queryDigest(m, h), sig: sigBytes, hash: h, now: now, t: t}
		for i := range t.verifiers {
			sv := &t.verifiers[i]
			ok, k := sv.verify(v)
			if ok {
				v.sp = sv.sp
				return v, mi, nil
			}
			if k != nil && outside == nil {
				outside, outsideSP = k, sv.sp
			}
		}
	}
	if outside != nil {
		if now.Before(outside.notBefore) {
			return nil, -1, refuse(http.StatusForbidden, "signature.key_not_yet_valid", "the signature of "+what+" verifies only with a signing certificate of site "+
				outsideSP.Site+" that is not valid before "+outside.notBefore.UTC().Format(time.RFC3339)+" (check this machine's clock)")
		}
		return nil, -1, refuse(http.StatusForbidden, "signature.expired_key", "the signature of "+what+" verifies only with the signing certificate of site "+
			outsideSP.Site+" that expired on "+outside.notAfter.UTC().Format(time.RFC3339)+
			": install the site's current SP metadata (idp sp fetch), or set allow_expired_certificate for the site")
	}
	return nil, -1, refuse(http.StatusForbidden, "signature.invalid", "the signature of "+what+" does not verify with any trusted SP certificate")
}

// VerifiedBy reports whether a currently valid signing key of sp (or any, with
// the site's override) verifies the signature.
func (v *QuerySignature) VerifiedBy(sp *ServiceProvider) bool {
	if sp == v.sp {
		return true
	}
	sv := v.t.verifierOf(sp)
	if sv == nil {
		return false
	}
	ok, _ := sv.verify(v)
	return ok
}

// SP returns the first trusted SP whose valid signing key verified the
// signature.
func (v *QuerySignature) SP() *ServiceProvider { return v.sp }

// SPs returns the trusted SPs of the trust snapshot the signature was
// verified against.
func (v *QuerySignature) SPs() []*ServiceProvider { return v.t.sps }

// NewSignedQuery returns an empty SignedQuery for the parameters names, for
// a parser of another encoding (a multipart/form-data body) to fill with Set.
func NewSignedQuery(names ...string) *SignedQuery {
	q := &SignedQuery{params: make(map[string]*RawParam, len(names))}
	for _, k := range names {
		q.params[k] = &RawParam{}
	}
	return q
}

// Set records the parameter name as received (raw) and decoded (value);
// names the query was not made for are ignored.
func (q *SignedQuery) Set(name, raw, value string) {
	if p, ok := q.params[name]; ok {
		*p = RawParam{Raw: raw, Value: value, Set: true}
	}
}
