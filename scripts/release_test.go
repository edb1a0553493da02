// Package scripts holds the tests of the repository's shell scripts.
package scripts

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// gitOut runs git in dir and returns its trimmed output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestReleaseBuildsStaticBinariesWithChecksums runs scripts/release.sh as a
// maintainer cutting a release would: on a tagged commit of a clone of this
// repository (the working tree's copy of the script, the committed code). It
// checks each binary is a static, stripped ELF executable of its
// architecture, stamped with the tag, the commit and an unmodified tree,
// that SHA256SUMS lists exactly them, and that the amd64 one prints its
// version.
func TestReleaseBuildsStaticBinariesWithChecksums(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the release build compiles idp for two architectures")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the release build needs git:", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")
	head := gitOut(t, root, "rev-parse", "HEAD")
	gitOut(t, root, "clone", "-q", "--no-checkout", gitOut(t, root, "rev-parse", "--path-format=absolute", "--git-common-dir"), repo)
	gitOut(t, repo, "-c", "advice.detachedHead=false", "checkout", "-q", head)
	script, err := os.ReadFile(filepath.Join(root, "scripts", "release.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "scripts", "release.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	const version = "v0.0.0-releasetest"
	gitOut(t, repo, "tag", version)

	release := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{filepath.Join(repo, "scripts", "release.sh")}, args...)...)
		cmd.Env = append(os.Environ(), "DIST="+filepath.Join(tmp, "dist"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Run("refuses a version without a tag", func(t *testing.T) {
		out, err := release("v9.9.9")
		if err == nil || !strings.Contains(out, "there is no tag v9.9.9") {
			t.Fatalf("release.sh v9.9.9: %v\n%s", err, out)
		}
	})
	t.Run("refuses what is not a version", func(t *testing.T) {
		out, err := release("1.2")
		if err == nil || !strings.Contains(out, "is not a version") {
			t.Fatalf("release.sh 1.2: %v\n%s", err, out)
		}
	})

	out, err := release(version)
	if err != nil {
		t.Fatalf("release.sh %s: %v\n%s", version, err, out)
	}
	dist := filepath.Join(tmp, "dist")
	want := map[string]elf.Machine{
		"idp-" + version + "-linux-amd64": elf.EM_X86_64,
		"idp-" + version + "-linux-arm64": elf.EM_AARCH64,
	}

	// SHA256SUMS: exactly one line per binary, in sha256sum's format, right.
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if _, known := want[name]; !ok || !known || listed[name] {
			t.Errorf("SHA256SUMS line %q: not one line per binary", sc.Text())
			continue
		}
		listed[name] = true
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS: %s has checksum %s, the file %x", name, sum, h)
		}
	}
	if len(listed) != len(want) {
		t.Errorf("SHA256SUMS lists %v, want %d binaries:\n%s", listed, len(want), sums)
	}

	for name, machine := range want {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dist, name)
			f, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Class != elf.ELFCLASS64 || f.Machine != machine || f.Type != elf.ET_EXEC {
				t.Errorf("ELF %v %v %v, want ELFCLASS64 %v ET_EXEC", f.Class, f.Machine, f.Type, machine)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
					t.Errorf("not static: has a %v program header", prog.Type)
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("not static: needs %v", libs)
			}
			for _, sec := range []string{".symtab", ".debug_info"} {
				if f.Section(sec) != nil {
					t.Errorf("not stripped (-ldflags=\"-s -w\"): has %s", sec)
				}
			}
			bi, err := buildinfo.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if bi.Main.Version != version {
				t.Errorf("stamped version %q, want %q", bi.Main.Version, version)
			}
			settings := map[string]string{}
			for _, s := range bi.Settings {
				settings[s.Key] = s.Value
			}
			for k, v := range map[string]string{"vcs.revision": head, "vcs.modified": "false", "CGO_ENABLED": "0",
				"-trimpath": "true", "GOOS": "linux", "GOARCH": strings.TrimPrefix(name[strings.LastIndexByte(name, '-'):], "-")} {
				if settings[k] != v {
					t.Errorf("build setting %s=%q, want %q", k, settings[k], v)
				}
			}
			if machine != elf.EM_X86_64 || runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
				return
			}
			for _, arg := range []string{"version", "--version"} {
				out, err := exec.Command(p, arg).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %s: %v\n%s", name, arg, err, out)
				}
				for _, line := range []string{"idp " + version + "\n", "revision:    " + head + "\n", "go:          go"} {
					if !strings.Contains(string(out), line) {
						t.Errorf("%s %s lacks %q:\n%s", name, arg, line, out)
					}
				}
				if strings.Contains(string(out), "modified") {
					t.Errorf("%s %s says modified:\n%s", name, arg, out)
				}
			}
		})
	}
}
