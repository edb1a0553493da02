package portalop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"
)

// Test hooks: they make the provider answer what a broken or hostile
// provider would, with its real key, so that a relying party's refusals are
// tested against a real server. `idp demo` never uses them.

// SignIDToken signs claims as a JWT with the provider's key (RS256, its
// kid): a token the provider's JWKS vouches for, whatever it says.
func (s *Server) SignIDToken(claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.store.key.key, KeyID: s.store.key.id}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// IDTokenClaims verifies raw with the provider's key and returns its
// claims, so that a test can re-sign a real token with one claim changed.
func (s *Server) IDTokenClaims(raw string) (map[string]any, error) {
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(&s.store.key.key.PublicKey)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// OnTokenResponse installs fn to edit every successful token response (its
// JSON object: id_token, access_token, ...) before it is sent; nil removes
// it.
func (s *Server) OnTokenResponse(fn func(body map[string]any)) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.tokenHook = fn
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.hookMu.Lock()
	hook := s.tokenHook
	s.hookMu.Unlock()
	if hook == nil {
		s.provider.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.provider.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			http.Error(w, fmt.Sprintf("portalop: token hook: %v", err), http.StatusInternalServerError)
			return
		}
		hook(m)
		body, _ = json.Marshal(m)
	}
	h := w.Header()
	maps.Copy(h, rec.Header())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}
