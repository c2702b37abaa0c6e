// Command e2e is appstack's end-to-end test on a real AWS account (docs/e2e.md): an ephemeral stack pr-e2e-<id>
// is deployed, switched to a new version under a request loop, given a version that fails its boot (twice),
// rolled back by pinned digest, destroyed, and checked for leftovers. A fleet stack (-hosting fleet, or a base
// with appstack:hosting: fleet) gets a rolling deploy under the loop and a failing version that the deploy's
// rollout rolls back instead. Without AWS credentials, a Pulumi backend, Docker or the Pulumi CLI it prints
// what is missing and exits 0 (1 with -require).
//
//	go run ./cmd/e2e [-base staging] [-hosting single|fleet] [-ttl 3h] [-region R] [-fail-with pull|health] ...
//
// Exit status: 0 passed or skipped, 1 a step failed, 2 the command line is wrong.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"appstack/e2e"
	"appstack/e2e/cloud"
	"appstack/internal/lifecycle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	switch code := e2e.ExitCode(err); code {
	case 0:
	case 2:
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(code)
	default:
		fmt.Fprintln(os.Stderr, "e2e: FAILED:", err)
		os.Exit(code)
	}
}

func run(ctx context.Context, args []string, out io.Writer) (err error) {
	o, err := e2e.Parse(args)
	if err != nil {
		return err
	}
	who, proceed, err := e2e.Prerequisites(ctx, e2e.Env{}, o, out, func(ctx context.Context) (string, error) {
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(stsRegion(o.Region)))
		if err != nil {
			return "", err
		}
		return cloud.Identity(ctx, cfg, 15*time.Second)
	})
	if !proceed {
		return err
	}
	m := &lifecycle.Manager{Dir: o.Dir, Binary: o.Binary, Progress: out}
	// The Manager works in a temporary copy of the project; Close removes it.
	defer func() {
		if cerr := m.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if o.SecretsProvider != "" {
		m.Options = append(m.Options, auto.SecretsProvider(o.SecretsProvider))
	}
	if root := os.Getenv("APPSTACK_PULUMI_ROOT"); root != "" {
		// The CLI stackctl install-cli put there: the version the project pins (internal/project).
		cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
		if err != nil {
			return fmt.Errorf("the Pulumi CLI in $APPSTACK_PULUMI_ROOT (%s): %w", root, err)
		}
		m.Options = append(m.Options, auto.Pulumi(cmd))
	} else if o.PulumiVersion != "" {
		version, err := semver.ParseTolerant(o.PulumiVersion)
		if err != nil {
			return fmt.Errorf("%w: -pulumi-version %q: %v", e2e.ErrUsage, o.PulumiVersion, err)
		}
		cmd, err := auto.InstallPulumiCommand(ctx, &auto.PulumiCommandOptions{Version: version})
		if err != nil {
			return fmt.Errorf("installing the Pulumi CLI %s: %w", version, err)
		}
		m.Options = append(m.Options, auto.Pulumi(cmd))
	}
	c, err := cloud.New(ctx, m, out, o)
	if err != nil {
		return err
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.Region))
	if err != nil {
		return fmt.Errorf("AWS configuration: %w", err)
	}
	fmt.Fprintf(out, "e2e: stack %s in %s as %s, from %s's configuration\n", o.Stack, c.Region, who, o.Base)
	suite := &e2e.Suite{
		Options: o,
		Cloud:   c,
		Out:     out,
		Scanner: e2e.Scanner{
			Tags:      resourcegroupstaggingapi.NewFromConfig(cfg),
			States:    cloud.States{EC2: ec2.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg)},
			Params:    cloud.Params{SSM: ssm.NewFromConfig(cfg)},
			ParamPath: "/" + c.Project + "/" + o.Stack,
			Log:       out,
		},
		Fleet: e2e.FleetCheck{Groups: cloud.Groups{AutoScaling: autoscaling.NewFromConfig(cfg)}},
	}
	if err := suite.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "e2e: PASSED (stack %s)\n", o.Stack)
	return nil
}

// stsRegion is the region of the identity check, before the stack's region is read from its configuration: STS
// answers GetCallerIdentity in every region.
func stsRegion(flag string) string {
	for _, r := range []string{flag, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")} {
		if r != "" {
			return r
		}
	}
	return "us-east-1"
}
