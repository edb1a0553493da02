package scripts

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fakeGo stands in for the go command under scripts/fuzz.sh: it records
// which package and target each "go test -fuzz" asks for, and prints the
// engine's last progress line with the count of $FAKE_EXECS_<Target> (or
// $FAKE_EXECS); a count of -1 prints none, as a target that never ran.
const fakeGo = `#!/usr/bin/env bash
name="" pkg=""
for a in "$@"; do
  case "$a" in
    -fuzz=*) name="${a#-fuzz=^}"; name="${name%\$}" ;;
    -*|test) ;;
    *) pkg="$a" ;;
  esac
done
echo "$pkg $name" >> "$FAKE_GO_LOG"
var="FAKE_EXECS_$name"
n="${!var:-$FAKE_EXECS}"
if [ "$n" != "-1" ]; then
  echo "fuzz: elapsed: 0s, gathering baseline coverage: 0/12 completed"
  echo "fuzz: elapsed: 3s, execs: $n ($n/sec), new interesting: 0 (total: 12)"
fi
echo PASS
`

// runFuzzScript runs scripts/fuzz.sh with the fake go command first in
// PATH and env added, and returns its output, its exit status and the
// "package target" pairs it fuzzed.
func runFuzzScript(t *testing.T, env []string, args ...string) (string, int, []string) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "go.log")
	cmd := exec.Command("bash", append([]string{"fuzz.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "FAKE_GO_LOG="+log,
		"HCIDP_FUZZ_MIN_EXECS_PER_SEC=", "HCIDP_FUZZ_MINIMIZE_TIME=")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("fuzz.sh: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(log)
	var ran []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		ran = append(ran, sc.Text())
	}
	return string(out), code, ran
}

var fuzzFuncRE = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// moduleFuzzTargets returns "./<dir> <Target>" for every fuzz target of
// the hcidp module (bench and deploy/validate are modules of their own).
func moduleFuzzTargets(t *testing.T) []string {
	t.Helper()
	var targets []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != ".." && (strings.HasPrefix(d.Name(), ".") || fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fuzzFuncRE.FindAllStringSubmatch(string(b), -1) {
			rel, _ := filepath.Rel("..", filepath.Dir(path))
			targets = append(targets, "./"+filepath.ToSlash(rel)+" "+m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(targets)
	return targets
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestFuzzScriptRunsEveryFuzzTarget: scripts/fuzz.sh fuzzes every fuzz
// target of the module, each in the package that defines it. A target
// listed under the wrong package fuzzes nothing ("no fuzz tests to fuzz")
// and one left out is never explored beyond its seeds.
func TestFuzzScriptRunsEveryFuzzTarget(t *testing.T) {
	want := moduleFuzzTargets(t)
	if len(want) == 0 {
		t.Fatal("found no fuzz targets in the module")
	}
	out, code, ran := runFuzzScript(t, []string{"FAKE_EXECS=100000"}, "1s")
	slices.Sort(ran)
	if !slices.Equal(ran, want) {
		t.Errorf("fuzz.sh fuzzes\n  %s\nthe module's fuzz targets are\n  %s", strings.Join(ran, "\n  "), strings.Join(want, "\n  "))
	}
	if code != 0 || !strings.Contains(out, "fuzz.sh: all targets passed") {
		t.Errorf("exit %d with every target above its floor:\n%s", code, out)
	}
}

// TestFuzzScriptFailsATargetBelowItsFloor: a target that executes fewer
// inputs than HCIDP_FUZZ_MIN_EXECS_PER_SEC (default 20) per second of the
// duration fails the run, and the summary names it; the others pass.
func TestFuzzScriptFailsATargetBelowItsFloor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      []string
		duration string
		code     int
		failed   []string // targets the summary marks FAILED
	}{
		{"every target at its floor", []string{"FAKE_EXECS=20"}, "1s", 0, nil},
		{"one target one short of its floor", []string{"FAKE_EXECS=100000", "FAKE_EXECS_FuzzLoadSPMetadata=19"}, "1s", 1, []string{"FuzzLoadSPMetadata"}},
		{"a target that never reports executions", []string{"FAKE_EXECS=100000", "FAKE_EXECS_FuzzParseSignedQuery=-1"}, "1s", 1, []string{"FuzzParseSignedQuery"}},
		{"the floor follows the duration", []string{"FAKE_EXECS=100000", "FAKE_EXECS_FuzzBindCallback=2999"}, "2m30s", 1, []string{"FuzzBindCallback"}},
		{"the floor follows HCIDP_FUZZ_MIN_EXECS_PER_SEC", []string{"FAKE_EXECS=50", "HCIDP_FUZZ_MIN_EXECS_PER_SEC=5"}, "10s", 0, nil},
		{"a duration in milliseconds", []string{"FAKE_EXECS=100000", "FAKE_EXECS_FuzzAuthnRequestPipeline=9"}, "500ms", 1, []string{"FuzzAuthnRequestPipeline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code, ran := runFuzzScript(t, tc.env, tc.duration)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			if len(ran) != len(moduleFuzzTargets(t)) {
				t.Errorf("a failing target stopped the run: fuzzed %v", ran)
			}
			var failed []string
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "Fuzz") && strings.Contains(line, " execs ") {
					if strings.Contains(line, "FAILED: fewer than") {
						failed = append(failed, f[0])
					} else if !strings.HasSuffix(line, " ok") {
						t.Errorf("summary line %q is neither ok nor FAILED", line)
					}
				}
			}
			if !slices.Equal(failed, tc.failed) {
				t.Errorf("FAILED targets %v, want %v:\n%s", failed, tc.failed, out)
			}
			if tc.code != 0 && !strings.Contains(out, "a target made no progress") {
				t.Errorf("no failure message:\n%s", out)
			}
		})
	}
	if out, code, _ := runFuzzScript(t, nil, "ten seconds"); code != 2 || !strings.Contains(out, "is not a duration") {
		t.Errorf("a malformed duration: exit %d\n%s", code, out)
	}
}
