package web

import (
	"net"
	"testing"
)

func TestResolveClientTrustsOnlyConfiguredProxies(t *testing.T) {
	var ps Proxies
	for _, p := range []string{"10.0.0.0/8", "192.0.2.7"} {
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			n = &net.IPNet{IP: net.ParseIP(p).To4(), Mask: net.CIDRMask(32, 32)}
		}
		ps = append(ps, n)
	}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct client ignores its own header", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
		{"proxy: last untrusted hop", "10.1.1.1", []string{"198.51.100.5"}, "198.51.100.5"},
		{"spoofed left-most entry ignored", "10.1.1.1", []string{"6.6.6.6, 198.51.100.5"}, "198.51.100.5"},
		{"chain of proxies", "10.1.1.1", []string{"198.51.100.5, 192.0.2.7", "10.2.2.2"}, "198.51.100.5"},
		{"garbage stops the walk", "10.1.1.1", []string{"198.51.100.5, not-an-ip"}, "10.1.1.1"},
		{"proxy without header", "192.0.2.7", nil, "192.0.2.7"},
		{"hop with a port", "10.1.1.1", []string{"198.51.100.5:4711"}, "198.51.100.5"},
		{"IPv6 hop with a port", "10.1.1.1", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ps.ResolveClient(net.ParseIP(tt.peer), tt.xff); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}
