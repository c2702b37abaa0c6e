// Command stackctl runs the stack lifecycle the GitHub workflows call, on the Pulumi Automation API, with one
// progress line per step and exit codes the workflows rely on.
//
//	stackctl setup                                                             once: create staging and production (KMS)
//	stackctl review   -pr 7 [-base staging] [-ttl 72h] [-outputs urls.json]  create/refresh pr-7 and up it
//	stackctl up       -stack staging [-outputs out.json]                       pulumi up (with the policy pack)
//	stackctl preview  -stack staging -out preview.txt                          pulumi preview --diff to a file
//	stackctl destroy  -stack pr-7                                              destroy and remove (ephemeral only)
//	stackctl reap     [-closed 3,5,8]                                          destroy expired or closed review stacks
//	stackctl outputs  -stack production -out last-good.json                    the current outputs, before an up
//	stackctl rollback -stack production -to last-good.json                     redeploy the recorded image digests
//	stackctl drift    -stack production -out drift.txt                         refresh preview; exit 3 on drift
//	stackctl unlock   -stack staging [-min-age 1h] [-force]                    release a cancelled job's state lock
//	stackctl install-cli                                                       install the pinned Pulumi CLI, print its root
//	stackctl comment  -pr 7 -kind review-stack -file urls.json [-sha SHA]      post or edit the pull request's comment
//	stackctl comment  -previews DIR -head-sha SHA -head-repo O/N -head-branch B  the preview run's comments (workflow_run)
//
// Every stack command takes -binary PATH, a prebuilt program that the steps reuse (the committed Pulumi.yaml is
// not edited), and -policy-pack DIR (default: the project's policypack; "" for none), which real previews and
// ups run. The Pulumi CLI is the one under $APPSTACK_PULUMI_ROOT/bin if set, else version -pulumi-version
// (default: project.PulumiVersion), installed through the Automation API when missing; unlock, the break-glass
// command, never installs one: it takes $APPSTACK_PULUMI_ROOT/bin, pulumi on PATH or an installed
// -pulumi-version, and says what is missing otherwise. Where no release can be downloaded, make pulumi-cli
// builds the pinned CLI from the Go module proxy (tools/pulumi-cli/build.sh). comment reads
// GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL as GitHub Actions sets them, and derives the pull request of
// a preview run from the run's head, never from its artifacts (internal/ghcomment).
//
// stackctl -h lists the commands; stackctl <command> -h describes one and its flags.
//
// Exit status: 0 done, 1 the step failed, 2 the command line is wrong, 3 drift found (drift).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"appstack/internal/lifecycle"
	"appstack/internal/project"
)

// errUsage marks a command-line mistake (exit 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m := &lifecycle.Manager{Dir: "."}
	err := run(ctx, os.Args[1:], os.Stdout, m)
	if closeErr := m.Close(); closeErr != nil {
		fmt.Fprintln(os.Stderr, "stackctl: removing the temporary project copy:", closeErr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stackctl:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// exitCode is the exit status for run's error: 0 done, 1 the step failed, 2 a command-line mistake, 3 drift.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, lifecycle.ErrDrift):
		return 3
	}
	return 1
}

// run executes one subcommand with m.
func run(ctx context.Context, args []string, stdout io.Writer, m *lifecycle.Manager) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: stackctl %s [flags]", errUsage, commandNames())
	}
	args, helped, err := help(stdout, args)
	if helped || err != nil {
		return err
	}
	switch args[0] {
	case "comment":
		return comment(ctx, args[1:], stdout)
	case "setup":
		return setup(ctx, args[1:], stdout, m)
	}
	fs := flag.NewFlagSet("stackctl "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", ".", "project directory (Pulumi.yaml and the stack files)")
	stack := fs.String("stack", "", "stack name")
	pr := fs.Int("pr", 0, "pull request number (review)")
	base := fs.String("base", "staging", "stack whose configuration a review stack copies")
	ttl := fs.Duration("ttl", 72*time.Hour, "how long a review stack lives before the reaper may destroy it")
	out := fs.String("out", "", "file for the preview, the outputs or the drift diff (preview, outputs, drift)")
	to := fs.String("to", "", "outputs file whose imageDigests to redeploy (rollback)")
	policyPack := fs.String("policy-pack", "policypack", "policy pack directory, relative to -dir, that real "+
		"previews and ups run; empty for none")
	minAge := fs.Duration("min-age", time.Hour, "unlock refuses a lock younger than this (unlock)")
	force := fs.Bool("force", false, "release a lock younger than -min-age (unlock)")
	outputs := fs.String("outputs", "", "file to write the stack outputs to as JSON (review, up)")
	closed := fs.String("closed", "", "comma-separated numbers of closed pull requests (reap)")
	binary := fs.String("binary", "", "prebuilt program binary to reuse (runtime.options.binary)")
	cliVersion := fs.String("pulumi-version", project.PulumiVersion, "Pulumi CLI version to install if missing "+
		"(Automation API), unless $APPSTACK_PULUMI_ROOT names one")
	secretsProvider := fs.String("secrets-provider", "", "secrets provider for new stacks, such as awskms://alias/x")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return printCommandHelp(stdout, args[0], fs, false)
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	m.Dir = *dir
	m.Binary = *binary
	if *secretsProvider != "" {
		m.Options = append(m.Options, auto.SecretsProvider(*secretsProvider))
	}
	version, err := semver.ParseTolerant(*cliVersion)
	if err != nil {
		return fmt.Errorf("%w: -pulumi-version %q: %v", errUsage, *cliVersion, err)
	}
	if *policyPack != "" {
		m.PolicyPacks = []string{filepath.Join(*dir, *policyPack)}
		if abs, err := filepath.Abs(m.PolicyPacks[0]); err == nil {
			m.PolicyPacks[0] = abs
		}
	}
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%w: stackctl %s needs %s", errUsage, args[0], what)
		}
		return nil
	}
	// cli makes the workspaces use the Pulumi CLI; called once the command line is known to be right.
	cli := func() error { return useCLI(ctx, m, version) }
	switch args[0] {
	case "install-cli":
		root, err := installCLI(ctx, version)
		if err == nil {
			fmt.Fprintln(stdout, root)
		}
		return err
	case "outputs":
		if err := need(*stack != "" && *out != "", "-stack and -out"); err != nil {
			return err
		}
		if err := cli(); err != nil {
			return err
		}
		outs, err := m.Outputs(ctx, *stack)
		if err != nil {
			return err
		}
		return lifecycle.WriteOutputs(*out, outs)
	case "rollback":
		if err := need(*stack != "" && *to != "", "-stack and -to"); err != nil {
			return err
		}
		if err := cli(); err != nil {
			return err
		}
		res, err := m.Rollback(ctx, *stack, *to)
		if err != nil || *outputs == "" {
			return err
		}
		return lifecycle.WriteOutputs(*outputs, res.Outputs)
	case "drift":
		if err := need(*stack != "" && *out != "", "-stack and -out"); err != nil {
			return err
		}
		if err := cli(); err != nil {
			return err
		}
		return m.Drift(ctx, *stack, *out)
	case "unlock":
		if err := need(*stack != "", "-stack"); err != nil {
			return err
		}
		if err := localCLI(m, version); err != nil {
			return err
		}
		released, err := m.Unlock(ctx, *stack, *minAge, *force)
		fmt.Fprintf(stdout, "released %d lock(s) of %s\n", len(released), *stack)
		return err
	case "review":
		if err := need(*pr > 0, "-pr N"); err != nil {
			return err
		}
		if err := cli(); err != nil {
			return err
		}
		if _, err := m.CreateReview(ctx, *pr, *base, *ttl); err != nil {
			return err
		}
		return up(ctx, m, lifecycle.ReviewName(*pr), *outputs)
	case "up":
		if err := need(*stack != "", "-stack"); err != nil {
			return err
		}
		if err := cli(); err != nil {
			return err
		}
		return up(ctx, m, *stack, *outputs)
	case "preview":
		if err := need(*stack != "" && *out != "", "-stack and -out"); err != nil {
			return err
		}
		if err := cli(); err != nil {
			return err
		}
		return m.Preview(ctx, *stack, *out)
	case "destroy":
		if err := need(*stack != "", "-stack"); err != nil {
			return err
		}
		if err := cli(); err != nil {
			return err
		}
		return m.Destroy(ctx, *stack)
	case "reap":
		prs, err := parseList(*closed)
		if err != nil {
			return fmt.Errorf("%w: -closed: %v", errUsage, err)
		}
		if err := cli(); err != nil {
			return err
		}
		reaped, err := m.Reap(ctx, prs)
		fmt.Fprintf(stdout, "reaped %d stack(s): %s\n", len(reaped), strings.Join(reaped, " "))
		return err
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

// useCLI makes the workspaces use the Pulumi CLI under $APPSTACK_PULUMI_ROOT/bin if set, else version v,
// installed under ~/.pulumi/versions/<v> if missing.
func useCLI(ctx context.Context, m *lifecycle.Manager, v semver.Version) error {
	if root := os.Getenv("APPSTACK_PULUMI_ROOT"); root != "" {
		return useRoot(m, root)
	}
	root, err := cliRoot(v)
	if err != nil {
		return err
	}
	cmd, err := auto.InstallPulumiCommand(ctx, &auto.PulumiCommandOptions{Version: v, Root: root})
	if err != nil {
		return fmt.Errorf("installing the Pulumi CLI %s: %w (%s)", v, err, buildHint)
	}
	m.Options = append(m.Options, auto.Pulumi(cmd))
	return nil
}

// useRoot makes the workspaces use the Pulumi CLI at root/bin/pulumi.
func useRoot(m *lifecycle.Manager, root string) error {
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	if err != nil {
		return fmt.Errorf("the Pulumi CLI in %s: %w", filepath.Join(root, "bin"), err)
	}
	m.Options = append(m.Options, auto.Pulumi(cmd))
	return nil
}

// errNoCLI is localCLI's error when no Pulumi CLI is at hand.
var errNoCLI = errors.New("no Pulumi CLI")

// localCLI makes the workspaces use a Pulumi CLI that is already on this machine, and never downloads one:
// $APPSTACK_PULUMI_ROOT/bin/pulumi if the variable is set, else pulumi on PATH, else version v where install-cli
// puts it. unlock is the break-glass command, run after a deploy died, perhaps where nothing can be downloaded,
// and it needs the CLI only to learn the backend's URL.
func localCLI(m *lifecycle.Manager, v semver.Version) error {
	if root := os.Getenv("APPSTACK_PULUMI_ROOT"); root != "" {
		return useRoot(m, root)
	}
	if _, err := exec.LookPath("pulumi"); err == nil {
		cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{SkipVersionCheck: true})
		if err != nil {
			return fmt.Errorf("the Pulumi CLI on PATH: %w", err)
		}
		m.Options = append(m.Options, auto.Pulumi(cmd))
		return nil
	}
	root, err := cliRoot(v)
	if err != nil {
		root = filepath.Join("~", ".pulumi", "versions", v.String())
	} else if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err == nil {
		return useRoot(m, root)
	}
	return fmt.Errorf("%w: $APPSTACK_PULUMI_ROOT is not set, there is no pulumi on PATH and none in %s, and this "+
		"command never downloads one; point APPSTACK_PULUMI_ROOT at a directory with bin/pulumi (%s), or put "+
		"pulumi on PATH", errNoCLI, filepath.Join(root, "bin"), buildHint)
}

// buildHint says how to get the pinned CLI where no release can be downloaded.
const buildHint = "without access to the Pulumi releases, build the pinned CLI and its Go language host from the " +
	"Go module proxy with make pulumi-cli (tools/pulumi-cli/build.sh ROOT) and set APPSTACK_PULUMI_ROOT=ROOT"

// cliRoot is where the Automation API installs version v by default: ~/.pulumi/versions/<v>.
func cliRoot(v semver.Version) (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".pulumi", "versions", v.String()), nil
}

// installCLI installs Pulumi CLI version v (a no-op when it is installed) and returns its root: the CLI is
// <root>/bin/pulumi.
func installCLI(ctx context.Context, v semver.Version) (string, error) {
	root, err := cliRoot(v)
	if err != nil {
		return "", err
	}
	if _, err := auto.InstallPulumiCommand(ctx, &auto.PulumiCommandOptions{Version: v, Root: root}); err != nil {
		return "", fmt.Errorf("installing the Pulumi CLI %s: %w (%s)", v, err, buildHint)
	}
	return root, nil
}

func up(ctx context.Context, m *lifecycle.Manager, stack, outputs string) error {
	res, err := m.Up(ctx, stack)
	if err != nil || outputs == "" {
		return err
	}
	return lifecycle.WriteOutputs(outputs, res.Outputs)
}

func parseList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a pull request number", part)
		}
		out = append(out, n)
	}
	return out, nil
}
