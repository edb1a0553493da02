package idp

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxClientAddr
)

// requestContext gives every request an ID (echoed in X-Request-ID and put
// on every log line) and resolves the client address: the peer, or, when the
// peer is a trusted proxy, the last untrusted hop of X-Forwarded-For. A
// client cannot spoof its address by sending the header itself, because the
// header is only read from trusted peers and only up to the first untrusted hop.
func (s *Server) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := remoteIP(r)
		var id string
		if v := r.Header.Get("X-Request-ID"); v != "" && s.trustedProxy(peer) && validRequestID(v) {
			id = v
		} else {
			var b [8]byte
			io.ReadFull(s.rand, b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		ctx = context.WithValue(ctx, ctxClientAddr, s.resolveClient(peer, r.Header.Values("X-Forwarded-For")))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) trustedProxy(ip net.IP) bool {
	if ip == nil {
		return false
	}
	for _, n := range s.proxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// resolveClient walks X-Forwarded-For from the right while the hops are
// trusted proxies and returns the first untrusted address.
func (s *Server) resolveClient(peer net.IP, xff []string) string {
	if peer == nil {
		return ""
	}
	if !s.trustedProxy(peer) {
		return peer.String()
	}
	var hops []string
	for _, h := range xff {
		for _, part := range strings.Split(h, ",") {
			hops = append(hops, strings.TrimSpace(part))
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		hop := hops[i]
		if host, _, err := net.SplitHostPort(hop); err == nil {
			hop = host // some proxies write ip:port
		}
		ip := net.ParseIP(hop)
		if ip == nil {
			break // garbage: stop at the last address we could trust
		}
		client = ip
		if !s.trustedProxy(ip) {
			break
		}
	}
	return client.String()
}

func remoteIP(r *http.Request) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return net.ParseIP(host)
}

func validRequestID(v string) bool {
	if len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// clientAddr is the client address resolved by requestContext (the peer
// address when the middleware did not run, e.g. in unit tests).
func clientAddr(r *http.Request) string {
	if v, ok := r.Context().Value(ctxClientAddr).(string); ok {
		return v
	}
	if ip := remoteIP(r); ip != nil {
		return ip.String()
	}
	return r.RemoteAddr
}

// requestID returns the request's ID, or "".
func requestID(ctx context.Context) string {
	v, _ := ctx.Value(ctxRequestID).(string)
	return v
}

// contextHandler adds request_id to every record logged with a request's context.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := requestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
