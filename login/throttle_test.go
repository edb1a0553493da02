package login

import (
	"testing"
	"time"
)

func TestLockForBacksOffExponentially(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{
		{0, 0}, {4, 0}, {5, time.Second}, {6, 2 * time.Second}, {7, 4 * time.Second},
		{14, 512 * time.Second}, {15, 15 * time.Minute}, {100, 15 * time.Minute}, {1 << 30, 15 * time.Minute},
	} {
		if got := lockFor(tt.n, FreeAccountAttempts); got != tt.want {
			t.Errorf("lockFor(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
	if throttleKeep < throttleMaxLock {
		t.Error("counters must outlive the longest lock")
	}
}

func TestAddrKeyGroupsIPv6By64(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":                 "192.0.2.1",
		"::ffff:192.0.2.1":          "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1%eth0": "2001:db8:1:2::/64",
		"not-an-ip":                 "not-an-ip",
	} {
		if got := addrKey(in); got != want {
			t.Errorf("addrKey(%q) = %q, want %q", in, got, want)
		}
	}
}
