package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// buildVersion is what the Go toolchain stamped into this binary (see
// `go help buildinfo` and -buildvcs): the main module's version, which since
// Go 1.24 is derived from the VCS (a tag such as v1.2.0 on a clean checkout,
// else a pseudo-version, with "+dirty" for uncommitted changes), and the
// commit it was built from. Nothing here is set by -ldflags: a release build
// and a plain `go build` in a git checkout carry the same information, and
// two builds of one commit are byte-identical.
type buildVersion struct {
	Version   string // main module version; "(devel)" when the VCS gave none
	Revision  string // vcs.revision, the full commit hash; "" when not stamped
	Time      string // vcs.time, the commit time (RFC 3339); "" when not stamped
	Modified  bool   // vcs.modified: the tree had uncommitted changes
	GoVersion string // the toolchain, e.g. go1.26.8
	Platform  string // GOOS/GOARCH of the build
}

// readBuildVersion extracts the version from debug.ReadBuildInfo's result.
func readBuildVersion(bi *debug.BuildInfo, ok bool) buildVersion {
	v := buildVersion{Version: "(devel)"}
	if !ok || bi == nil {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	v.GoVersion = bi.GoVersion
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		v.Platform = goos + "/" + goarch
	}
	return v
}

// String is what `idp version` prints: the version on the first line, then
// one "key: value" line for each stamped fact.
func (v buildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "idp %s\n", v.Version)
	rev := v.Revision
	switch {
	case rev == "":
		rev = "unknown (built without VCS information: from a source archive, a git worktree, or with -buildvcs=false)"
	case v.Modified:
		rev += " (modified: built with uncommitted changes)"
	}
	fmt.Fprintf(&b, "revision:    %s\n", rev)
	if v.Time != "" {
		fmt.Fprintf(&b, "commit time: %s\n", v.Time)
	}
	if v.GoVersion != "" {
		fmt.Fprintf(&b, "go:          %s %s\n", v.GoVersion, v.Platform)
	}
	return b.String()
}

// cmdVersion prints the version of this binary (`idp version`, `idp --version`).
func cmdVersion(args []string, stdout io.Writer) error {
	fs := newFlags("version", stdout)
	if err := fs.parse(args); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, readBuildVersion(debug.ReadBuildInfo()).String())
	return err
}
