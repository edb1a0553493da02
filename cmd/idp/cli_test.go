package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestHelpPrintsTheCommandsUsage: `idp help CMD`, `CMD -h` and `CMD
// --help` print that command's usage on standard output and succeed.
func TestHelpPrintsTheCommandsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"usage: idp COMMAND", "users update", "keys rotate", "sp fetch", "version", "help"}},
		{[]string{"--help"}, []string{"usage: idp COMMAND"}},
		{[]string{"help", "help"}, []string{"usage: idp COMMAND"}},
		{[]string{"help", "users"}, []string{"usage: idp users COMMAND", "idp users update --config F --xaccount-id ID"}},
		{[]string{"users", "-h"}, []string{"usage: idp users COMMAND"}},
		{[]string{"users", "help", "add"}, []string{"usage: idp users add", "-password-stdin"}},
		{[]string{"help", "users", "add"}, []string{"usage: idp users add --config F --xaccount-id ID", "Create a customer.", "-email string"}},
		{[]string{"users", "add", "-h"}, []string{"usage: idp users add --config F --xaccount-id ID", "-email string"}},
		{[]string{"users", "update", "--help"}, []string{"usage: idp users update", "-display-name"}},
		{[]string{"serve", "-h"}, []string{"usage: idp serve --config F", "HCIDP_LISTEN", "-config file"}},
		{[]string{"help", "keys", "rotate"}, []string{"usage: idp keys rotate --config F", "*.old"}},
		{[]string{"sp", "fetch", "--help"}, []string{"usage: idp sp fetch --site S", "-accept-key sha256:HEX", "metadata_file: FILE"}},
		{[]string{"help", "check"}, []string{"usage: idp check [--config F] [flags] FILE|-", "-idp-cert"}},
		{[]string{"audit", "list", "-h"}, []string{"usage: idp audit list", "-kind kind", "-outcome outcome", "-json"}},
		{[]string{"version", "-h"}, []string{"usage: idp version"}},
		{[]string{"demo", "-h"}, []string{"usage: idp demo", "-log-format format", "-iam-listen"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, err := idpCmd(t, "", tc.args...)
			if code := exitCode(err); code != 0 {
				t.Fatalf("exit status %d (%v), want 0", code, err)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("help lacks %q:\n%s", want, out)
				}
			}
			if errOut != "" {
				t.Errorf("help wrote to standard error: %s", errOut)
			}
		})
	}
}

// TestUsageErrorsSaySoAndExitTwo: an unknown command or subcommand, a bad
// flag or a missing argument names what is wrong and what is accepted,
// with exit status 2; a command that fails exits 1.
func TestUsageErrorsSaySoAndExitTwo(t *testing.T) {
	t.Setenv("HCIDP_CONFIG", "")
	cfg := testConfig(t)
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"users", "frobnicate"}, `unknown users command "frobnicate"; use add, list, update, disable, enable or set-password`, 2},
		{[]string{"keys", "frobnicate"}, `unknown keys command "frobnicate"; use generate or rotate`, 2},
		{[]string{"sp"}, "sp: which one? use show or fetch", 2},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, 2},
		{[]string{"help", "frobnicate"}, `help: unknown command "frobnicate"`, 2},
		{nil, "no command given", 2},
		{[]string{"users", "add", "--frobnicate"}, "users add: flag provided but not defined: -frobnicate", 2},
		{[]string{"users", "list", "--config", cfg, "extra"}, `users list: unexpected argument "extra"`, 2},
		{[]string{"users", "update", "--config", cfg, "--xaccount-id", "cust-1"}, "users update: nothing to change: give --email, --name, --mobile or --display-name", 2},
		{[]string{"sp", "fetch", "--site", "moon"}, `sp fetch: --site "moon": use cn, intl or eu`, 2},
		{[]string{"users", "set-password", "--config", cfg, "--xaccount-id", "nobody", "--password", "long enough"}, `no customer "nobody"`, 1},
		{[]string{"users", "list"}, "--config is required", 1},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := idpCmd(t, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if code := exitCode(err); code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			var u *usageError
			if errors.As(err, &u) && !strings.Contains(u.hint(), "idp help") {
				t.Errorf("usage hint %q does not say where the help is", u.hint())
			}
		})
	}
}

// TestMainExitStatus runs the real binary's main (this test binary,
// re-executed): -h exits 0 with the usage on standard output, an unknown
// subcommand 2 with the message on standard error.
func TestMainExitStatus(t *testing.T) {
	if os.Getenv("HCIDP_TEST_MAIN") == "1" {
		os.Args = append([]string{"idp"}, strings.Fields(os.Getenv("HCIDP_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	for _, tc := range []struct {
		args       string
		code       int
		stdout     string
		stderrWant string
	}{
		{"users add -h", 0, "usage: idp users add", ""},
		{"help users update", 0, "usage: idp users update", ""},
		{"users frobnicate", 2, "", `idp: unknown users command "frobnicate"; use add, list, update, disable, enable or set-password` + "\nRun \"idp help users\" for its commands."},
		{"users list --config /nonexistent/hcidp.yaml", 1, "", "idp: config: open /nonexistent/hcidp.yaml"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestMainExitStatus$")
			cmd.Env = append(os.Environ(), "HCIDP_TEST_MAIN=1", "HCIDP_TEST_ARGS="+tc.args, "HCIDP_CONFIG=")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderrWant) {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
		})
	}
}
