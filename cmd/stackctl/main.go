// Command stackctl runs the stack lifecycle the GitHub workflows call, on the Pulumi Automation API, with one
// progress line per step and exit codes the workflows rely on.
//
//	stackctl review  -pr 7 [-base staging] [-ttl 72h] [-outputs urls.json]   create/refresh pr-7 and up it
//	stackctl up      -stack staging [-outputs out.json]                        pulumi up
//	stackctl preview -stack staging -out preview.txt                           pulumi preview --diff to a file
//	stackctl destroy -stack pr-7                                               destroy and remove (ephemeral only)
//	stackctl reap    [-closed 3,5,8]                                           destroy expired or closed review stacks
//	stackctl comment -pr 7 -kind review-stack -file urls.json [-sha SHA]      post or edit the pull request's comment
//	stackctl comment -previews DIR -head-sha SHA -head-repo O/N -head-branch B the preview run's comments (workflow_run)
//
// Every stack command takes -binary PATH, a prebuilt program that preview and up reuse, and -pulumi-version V,
// which installs that Pulumi CLI through the Automation API when it is not installed yet. comment reads
// GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL as GitHub Actions sets them, and derives the pull request of
// a preview run from the run's head, never from its artifacts (internal/ghcomment).
//
// Exit status: 0 done, 1 the step failed, 2 the command line is wrong.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"appstack/internal/lifecycle"
)

// errUsage marks a command-line mistake (exit 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, &lifecycle.Manager{Dir: "."})
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "stackctl:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "stackctl:", err)
		os.Exit(1)
	}
}

// run executes one subcommand with m.
func run(ctx context.Context, args []string, stdout io.Writer, m *lifecycle.Manager) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: stackctl review|up|preview|destroy|reap|comment [flags]", errUsage)
	}
	if args[0] == "comment" {
		return comment(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("stackctl "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("dir", ".", "project directory (Pulumi.yaml and the stack files)")
	stack := fs.String("stack", "", "stack name")
	pr := fs.Int("pr", 0, "pull request number (review)")
	base := fs.String("base", "staging", "stack whose configuration a review stack copies")
	ttl := fs.Duration("ttl", 72*time.Hour, "how long a review stack lives before the reaper may destroy it")
	out := fs.String("out", "", "file for the preview (preview)")
	outputs := fs.String("outputs", "", "file to write the stack outputs to as JSON (review, up)")
	closed := fs.String("closed", "", "comma-separated numbers of closed pull requests (reap)")
	binary := fs.String("binary", "", "prebuilt program binary to reuse (runtime.options.binary)")
	cliVersion := fs.String("pulumi-version", "", "Pulumi CLI version to install if missing (Automation API)")
	secretsProvider := fs.String("secrets-provider", "", "secrets provider for new stacks, such as awskms://alias/x")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	m.Dir = *dir
	m.Binary = *binary
	if *secretsProvider != "" {
		m.Options = append(m.Options, auto.SecretsProvider(*secretsProvider))
	}
	if *cliVersion != "" {
		if err := installCLI(ctx, m, *cliVersion); err != nil {
			return err
		}
	}
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%w: stackctl %s needs %s", errUsage, args[0], what)
		}
		return nil
	}
	switch args[0] {
	case "review":
		if err := need(*pr > 0, "-pr N"); err != nil {
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
		return up(ctx, m, *stack, *outputs)
	case "preview":
		if err := need(*stack != "" && *out != "", "-stack and -out"); err != nil {
			return err
		}
		return m.Preview(ctx, *stack, *out)
	case "destroy":
		if err := need(*stack != "", "-stack"); err != nil {
			return err
		}
		return m.Destroy(ctx, *stack)
	case "reap":
		prs, err := parseList(*closed)
		if err != nil {
			return fmt.Errorf("%w: -closed: %v", errUsage, err)
		}
		reaped, err := m.Reap(ctx, prs)
		fmt.Fprintf(stdout, "reaped %d stack(s): %s\n", len(reaped), strings.Join(reaped, " "))
		return err
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

// installCLI makes the workspaces use Pulumi CLI version v, installing it under ~/.pulumi/versions if missing.
func installCLI(ctx context.Context, m *lifecycle.Manager, v string) error {
	version, err := semver.ParseTolerant(v)
	if err != nil {
		return fmt.Errorf("%w: -pulumi-version %q: %v", errUsage, v, err)
	}
	cmd, err := auto.InstallPulumiCommand(ctx, &auto.PulumiCommandOptions{Version: version})
	if err != nil {
		return fmt.Errorf("installing the Pulumi CLI %s: %w", version, err)
	}
	m.Options = append(m.Options, auto.Pulumi(cmd))
	return nil
}

func up(ctx context.Context, m *lifecycle.Manager, stack, outputs string) error {
	res, err := m.Up(ctx, stack)
	if err != nil {
		return err
	}
	if outputs == "" {
		return nil
	}
	plain := map[string]any{}
	for k, v := range res.Outputs {
		if v.Secret {
			plain[k] = "[secret]"
		} else {
			plain[k] = v.Value
		}
	}
	raw, err := json.MarshalIndent(plain, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(outputs, append(raw, '\n'), 0o600)
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
