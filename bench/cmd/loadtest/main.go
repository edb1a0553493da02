// Command loadtest measures `idp serve` on one core against the physical
// limit of one RSA signature per SSO and against crewjam/saml's IdP.
//
// It builds (or takes, --idp-bin) an idp binary, writes a configuration,
// keys and a mock Huawei IAM's SP metadata into a temporary directory, adds
// a customer with `idp users add`, starts `taskset -c 0 idp serve`, times how
// long it takes to answer /healthz, signs in once through the login form and
// then, from core 1, fires pre-signed unique AuthnRequests at fixed
// concurrency (1, 4, 16), checking every answer is the 200 auto-POST page and
// verifying a sample of Responses with xmlsec1. In the same run it measures
// the raw rsa.SignPKCS1v15 rate on core 0 (standard build and, on
// linux/amd64, a GOEXPERIMENT=boringcrypto build of this tool), crewjam/saml
// v0.5.1's IdentityProvider.ServeSSO on core 0 with the same kind of
// requests, and the server's RSS idle and with 10,000 live sessions.
//
//	go run ./bench/cmd/loadtest [--idp-bin bin/idp] [--benchmarks-md BENCHMARKS.md]
//
// Everything listens on 127.0.0.1; every loop is bounded by a count and a
// duration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "raw-rsa":
			exitOn(cmdRawRSA(os.Args[2:]))
			return
		case "crewjam-server":
			exitOn(cmdCrewjamServer(os.Args[2:]))
			return
		case "serve-profiled":
			exitOn(cmdServeProfiled(os.Args[2:]))
			return
		}
	}
	exitOn(run(os.Args[1:]))
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	idpBin       string
	boringIdPBin string
	levels       []int
	duration     time.Duration
	requests     int
	spBits       int
	idpBits      int
	database     string
	section      string
	sessions     int
	samples      int
	readyRuns    int
	rawDuration  time.Duration
	boring       bool
	crewjam      bool
	benchmarksMD string
	keep         bool
	cpuProfile   string
	log          *slog.Logger
}

func run(args []string) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	var o options
	var levels string
	fs.StringVar(&o.idpBin, "idp-bin", "", "idp binary to measure (default: go build -o TMP/idp ./cmd/idp)")
	fs.StringVar(&levels, "concurrency", "1,4,16", "comma-separated client concurrency levels")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "time limit per concurrency level")
	fs.IntVar(&o.requests, "requests", 4000, "pre-signed requests per concurrency level (the other limit)")
	fs.IntVar(&o.spBits, "sp-bits", 2048, "RSA key size of the mock IAM (request signatures); Huawei's is 4096")
	fs.IntVar(&o.idpBits, "idp-bits", 0, "RSA key size of the IdP's signing key (default: that of `idp keys generate`)")
	fs.StringVar(&o.database, "database", "", "the server's database (config key database; default: SQLite in the working directory)")
	fs.StringVar(&o.section, "section", "", "with --benchmarks-md: write between the markers <!-- loadtest[:SECTION]:begin/end -->")
	fs.IntVar(&o.sessions, "sessions", 10000, "live sessions to create before the second RSS reading")
	fs.IntVar(&o.samples, "xmlsec-samples", 10, "Responses per level verified with xmlsec1")
	fs.IntVar(&o.readyRuns, "ready-runs", 5, "cold starts of idp serve timed to readiness")
	fs.DurationVar(&o.rawDuration, "raw-duration", 3*time.Second, "duration of each raw RSA measurement")
	fs.BoolVar(&o.boring, "boring", runtime.GOOS == "linux" && runtime.GOARCH == "amd64", "also measure raw RSA with a GOEXPERIMENT=boringcrypto build")
	fs.StringVar(&o.boringIdPBin, "boring-idp-bin", "", "also load this (boringcrypto) idp binary at the same levels")
	fs.BoolVar(&o.crewjam, "crewjam", true, "also load crewjam/saml's IdP")
	fs.StringVar(&o.benchmarksMD, "benchmarks-md", "", "write the report between the loadtest markers of this Markdown file")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "serve with this tool's serve-profiled (same app code as idp serve) and write its CPU profile here")
	verbose := fs.Bool("v", false, "log progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			return fmt.Errorf("--concurrency: %q is not a number in 1..256", f)
		}
		o.levels = append(o.levels, n)
	}
	if o.requests < 10 || o.requests > 200000 || o.sessions < 0 || o.sessions > 100000 {
		return errors.New("--requests must be in 10..200000 and --sessions in 0..100000")
	}
	lvl := slog.LevelWarn
	if *verbose {
		lvl = slog.LevelInfo
	}
	o.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "hcidp-loadtest-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "loadtest: working directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	rep, err := measure(ctx, dir, o)
	if err != nil {
		return err
	}
	if len(args) > 0 {
		rep.Flags = " " + strings.Join(args, " ")
	}
	md := rep.markdown()
	fmt.Print(md)
	if o.benchmarksMD != "" {
		return writeBetweenMarkers(o.benchmarksMD, o.section, md)
	}
	return nil
}

// markers delimit a generated report in BENCHMARKS.md: <!-- loadtest:begin
// --> and <!-- loadtest:end -->, or with a section name
// <!-- loadtest:NAME:begin --> and <!-- loadtest:NAME:end -->.
func markers(section string) (begin, end string) {
	if section != "" {
		section += ":"
	}
	return "<!-- loadtest:" + section + "begin -->", "<!-- loadtest:" + section + "end -->"
}

func writeBetweenMarkers(path, section, md string) error {
	markBegin, markEnd := markers(section)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(old)
	block := markBegin + "\n" + md + markEnd
	i, j := strings.Index(s, markBegin), strings.Index(s, markEnd)
	if i >= 0 && j > i {
		s = s[:i] + block + s[j+len(markEnd):]
	} else {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// repoRoot finds the module root (the directory with go.mod declaring hcidp).
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module hcidp\n") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("run loadtest from inside the hcidp repository, or pass --idp-bin")
		}
		d = parent
	}
}

// goBuild builds pkg into out, with extra environment (GOEXPERIMENT=...).
func goBuild(ctx context.Context, root, out, pkg string, env ...string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s %s: %v\n%s", strings.Join(env, " "), pkg, err, buf.String())
	}
	return nil
}

// pinned returns the command line prefixed with `taskset -c CPU` when
// taskset exists.
func pinned(cpu int, name string, args ...string) *exec.Cmd {
	if tasksetPath != "" {
		return exec.Command(tasksetPath, append([]string{"-c", strconv.Itoa(cpu), name}, args...)...)
	}
	return exec.Command(name, args...)
}

var tasksetPath, _ = exec.LookPath("taskset")

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
