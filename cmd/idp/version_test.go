package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionReportsModuleVersionAndVCSStamp(t *testing.T) {
	const rev = "1f8c5cb0d2a3e4f5a6b7c8d9e0f1a2b3c4d5e6f7"
	settings := func(modified string) []debug.BuildSetting {
		s := []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "CGO_ENABLED", Value: "0"},
			{Key: "GOARCH", Value: "arm64"},
			{Key: "GOOS", Value: "linux"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-01T03:08:00Z"},
		}
		if modified != "" {
			s = append(s, debug.BuildSetting{Key: "vcs.modified", Value: modified})
		}
		return s
	}
	tests := []struct {
		name    string
		bi      *debug.BuildInfo
		ok      bool
		want    buildVersion
		lines   []string // each must appear in the output
		without []string // none may appear
	}{
		{
			name: "tagged release from a clean checkout",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "hcidp", Version: "v1.2.0"}, Settings: settings("false")},
			ok:   true,
			want: buildVersion{Version: "v1.2.0", Revision: rev, Time: "2026-12-01T03:08:00Z", GoVersion: "go1.26.8", Platform: "linux/arm64"},
			lines: []string{"idp v1.2.0\n", "revision:    " + rev + "\n", "commit time: 2026-12-01T03:08:00Z\n",
				"go:          go1.26.8 linux/arm64\n"},
			without: []string{"modified"},
		},
		{
			name: "untagged commit with uncommitted changes",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8",
				Main: debug.Module{Path: "hcidp", Version: "v0.0.0-20261201030800-1f8c5cb0d2a3+dirty"}, Settings: settings("true")},
			ok: true,
			want: buildVersion{Version: "v0.0.0-20261201030800-1f8c5cb0d2a3+dirty", Revision: rev, Time: "2026-12-01T03:08:00Z",
				Modified: true, GoVersion: "go1.26.8", Platform: "linux/arm64"},
			lines: []string{"idp v0.0.0-20261201030800-1f8c5cb0d2a3+dirty\n",
				"revision:    " + rev + " (modified: built with uncommitted changes)\n"},
		},
		{
			name:    "built without VCS stamping",
			bi:      &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "hcidp", Version: "(devel)"}},
			ok:      true,
			want:    buildVersion{Version: "(devel)", GoVersion: "go1.26.8"},
			lines:   []string{"idp (devel)\n", "revision:    unknown (built without VCS information"},
			without: []string{"commit time"},
		},
		{
			name:  "no build information at all",
			ok:    false,
			want:  buildVersion{Version: "(devel)"},
			lines: []string{"idp (devel)\n", "revision:    unknown"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := readBuildVersion(tc.bi, tc.ok)
			if got != tc.want {
				t.Fatalf("readBuildVersion:\n got %+v\nwant %+v", got, tc.want)
			}
			out := got.String()
			for _, l := range tc.lines {
				if !strings.Contains(out, l) {
					t.Errorf("output lacks %q:\n%s", l, out)
				}
			}
			for _, l := range tc.without {
				if strings.Contains(out, l) {
					t.Errorf("output has %q:\n%s", l, out)
				}
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	want := readBuildVersion(bi, ok).String()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := idpCmd(t, "", args...)
		if err != nil {
			t.Fatalf("idp %s: %v", args[0], err)
		}
		if out != want || !strings.HasPrefix(out, "idp ") {
			t.Errorf("idp %s printed %q, want %q", args[0], out, want)
		}
	}
	if _, _, err := idpCmd(t, "", "version", "extra"); err == nil || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Errorf("idp version extra: %v", err)
	}
	if out, _, _ := idpCmd(t, "", "help"); !strings.Contains(out, "version") {
		t.Errorf("the usage does not list the version command:\n%s", out)
	}
}
