package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// checkListen checks a listen address written by an operator: host:port,
// where host may be empty (every interface) and port is a number. key
// names where it came from (listen, HCIDP_LISTEN, metrics_listen).
func checkListen(key, v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		switch {
		case isDigits(v):
			return fmt.Errorf("%s: %q has no host: write \":%s\" (every network interface) or \"127.0.0.1:%s\" (this machine only)", key, v, v, v)
		case strings.Contains(v, "://"):
			return fmt.Errorf("%s: %q is a URL: write host:port, e.g. \"127.0.0.1:8080\" (base_url is where the public URL goes)", key, v)
		case !strings.Contains(v, ":"):
			return fmt.Errorf("%s: %q has no port: write \"%s:8080\"", key, v, v)
		}
		return fmt.Errorf("%s: %q is not host:port: write e.g. \"127.0.0.1:8080\", \":8080\" or \"[::1]:8080\"", key, v)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: %q: the port %q is not a number from 0 to 65535", key, v, port)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
		return fmt.Errorf("%s: %q: %q is not a host name or IP address", key, v, host)
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ListenKey names where the listen address came from for messages:
// "HCIDP_LISTEN" when the environment set it, else "listen".
func (c *Config) ListenKey() string {
	if c.listenSource != "" {
		return c.listenSource
	}
	return "listen"
}

// ListenError explains why listening on addr failed, naming key (the
// configuration key or flag that set addr: listen, HCIDP_LISTEN,
// metrics_listen, --listen) and the fix. err is net.Listen's error, kept
// wrapped. The free address it suggests is none of avoid (addresses the
// same program is about to listen on).
func ListenError(key, addr string, err error, avoid ...string) error {
	var msg string
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		msg = fmt.Sprintf("%s: %s is already in use: another program (another idp?) listens there; stop it, or set %s to a free address%s",
			key, addr, key, freeExample(addr, avoid))
	case errors.Is(err, syscall.EACCES):
		msg = fmt.Sprintf("%s: %s: permission denied: a port below 1024 needs root or the CAP_NET_BIND_SERVICE capability; "+
			"set %s to a port from 1024 up (e.g. \":8080\") behind a reverse proxy, or grant the capability", key, addr, key)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		msg = fmt.Sprintf("%s: %s is not an address of this machine: set %s to one of its addresses, 127.0.0.1, or \":PORT\" for every interface",
			key, addr, key)
	default:
		return fmt.Errorf("%s: cannot listen on %s: %w", key, addr, err)
	}
	return &listenError{msg, err}
}

// listenError says what to do, and wraps the system's error without
// repeating it.
type listenError struct {
	msg string
	err error
}

func (e *listenError) Error() string { return e.msg }
func (e *listenError) Unwrap() error { return e.err }

// freeExample suggests a port after addr's that is free now and none of
// avoid, e.g. " such as 127.0.0.1:8082", or "" if it finds none.
func freeExample(addr string, avoid []string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n <= 0 || n >= 65535 {
		return ""
	}
	skip := map[string]bool{}
	for _, a := range avoid {
		if _, p, err := net.SplitHostPort(a); err == nil {
			skip[p] = true
		}
	}
	for p := n + 1; p <= min(n+50, 65535); p++ {
		if skip[strconv.Itoa(p)] {
			continue
		}
		candidate := net.JoinHostPort(host, strconv.Itoa(p))
		if ln, err := net.Listen("tcp", candidate); err == nil {
			ln.Close()
			return " such as " + candidate
		}
	}
	return ""
}
