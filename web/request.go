package web

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
	ctxEndpoint
)

// Proxies are the reverse proxies whose X-Forwarded-For (and X-Request-ID)
// is believed (config trusted_proxies, parsed by config.ParseNet).
type Proxies []*net.IPNet

func (ps Proxies) trusted(ip net.IP) bool {
	if ip == nil {
		return false
	}
	for _, n := range ps {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// RequestContext gives every request an ID (echoed in X-Request-ID and put
// on every log line by ContextHandler) and resolves the client address: the
// peer, or, when the peer is a trusted proxy, the last untrusted hop of
// X-Forwarded-For. A client cannot spoof its address by sending the header
// itself, because the header is only read from trusted peers and only up to
// the first untrusted hop. rnd makes the IDs.
func RequestContext(ps Proxies, rnd io.Reader, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := remoteIP(r)
		var id string
		if v := r.Header.Get("X-Request-ID"); v != "" && ps.trusted(peer) && validRequestID(v) {
			id = v
		} else {
			var b [8]byte
			io.ReadFull(rnd, b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), ctxRequestID, id)
		ctx = context.WithValue(ctx, ctxClientAddr, ps.ResolveClient(peer, r.Header.Values("X-Forwarded-For")))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ResolveClient walks X-Forwarded-For from the right while the hops are
// trusted proxies and returns the first untrusted address.
func (ps Proxies) ResolveClient(peer net.IP, xff []string) string {
	if peer == nil {
		return ""
	}
	if !ps.trusted(peer) {
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
		if !ps.trusted(ip) {
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

// ClientAddr is the client address RequestContext resolved (the peer
// address when it did not run, e.g. in unit tests).
func ClientAddr(r *http.Request) string {
	if v, ok := r.Context().Value(ctxClientAddr).(string); ok {
		return v
	}
	if ip := remoteIP(r); ip != nil {
		return ip.String()
	}
	return r.RemoteAddr
}

// RequestID returns the request's ID, or "".
func RequestID(ctx context.Context) string {
	v, _ := ctx.Value(ctxRequestID).(string)
	return v
}

// Endpoint wraps h so that refusals and faults it answers are counted under
// name (the metric follows the route, never the request's path).
func Endpoint(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxEndpoint, name)))
	})
}

// EndpointOf returns the endpoint name Endpoint set, or "".
func EndpointOf(ctx context.Context) string {
	v, _ := ctx.Value(ctxEndpoint).(string)
	return v
}

// ContextHandler adds request_id (the HTTP request's ID) to every record
// logged with a request's context.
type ContextHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h ContextHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

// WithAttrs implements slog.Handler.
func (h ContextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return ContextHandler{h.Handler.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h ContextHandler) WithGroup(name string) slog.Handler {
	return ContextHandler{h.Handler.WithGroup(name)}
}

// Logger returns l (or a logger that discards, when nil) whose records
// carry the request ID.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	if _, ok := l.Handler().(ContextHandler); ok {
		return l
	}
	return slog.New(ContextHandler{l.Handler()})
}
