// Package e2e is appstack's end-to-end test on a real AWS account: it creates an ephemeral stack, waits for every
// health URL, switches to a new version while a bounded request loop counts failed requests, deploys a version
// that fails its boot (twice: the re-run must boot a fresh host), rolls back by pinning the first deploy's image
// digest, destroys the stack and checks that nothing tagged with it remains. It prints a timeline of each deploy.
// A fleet stack (appstack:hosting: fleet) instead gets a rolling deploy under the loop and a failing version that
// the deploy's rollout rolls back, with the group's instances checked through a GroupReader (fleet.go).
//
// This package holds the logic and is tested without a cloud: the stack and AWS are behind small interfaces
// (Stack, Cloud, TagClient, StateReader) that package e2e/cloud implements on the Pulumi Automation API and
// aws-sdk-go-v2, and cmd/e2e wires together. It links neither the Pulumi SDK nor the large AWS service clients.
package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"
)

// ErrUsage marks a command-line mistake: exit status 2.
var ErrUsage = errors.New("usage")

// StackPrefix starts every stack the suite creates; it destroys only stacks it created under this prefix.
const StackPrefix = "pr-e2e-"

// The ways a deliberately failing version can fail its boot (-fail-with).
const (
	// FailPull pins the first service to a digest its repository does not hold: the boot fails at step "pull",
	// and nothing would listen on the service port if the address ever moved to that host.
	FailPull = "pull"
	// FailHealth gives the first service a readyPath that never answers: the boot fails at step "health".
	FailHealth = "health"
)

// Options are the suite's settings, from the command line.
type Options struct {
	// Dir is the project directory (Pulumi.yaml and the stack files). Default ".".
	Dir string
	// Base is the stack whose configuration the ephemeral stack copies. Default staging.
	Base string
	// Stack is the ephemeral stack's name: pr-e2e-<short id>. Default a fresh random id.
	Stack string
	// TTL sets the stack's appstack:expiresAt, so that the reaper destroys it should this run die. Default 3h.
	TTL time.Duration
	// Region overrides the base configuration's aws:region. Optional.
	Region string
	// HealthTimeout bounds the wait for every health URL after a deploy. Default 5m.
	HealthTimeout time.Duration
	// Interval is the pause between two requests of the request loop. Default 200ms.
	Interval time.Duration
	// RequestTimeout bounds one request of the loop. Default 5s.
	RequestTimeout time.Duration
	// LoopBound is the longest the request loop runs during one deploy; it stops by itself there. Default 45m.
	LoopBound time.Duration
	// Tail is how long the loop keeps going after a deploy returns (the old host is deleted by then). Default 20s.
	Tail time.Duration
	// FailWith picks how the failing version fails its boot: pull or health. Default pull.
	FailWith string
	// Hosting sets appstack:hosting on the stack: single, or fleet (an Auto Scaling group behind the front door,
	// so the base must have appstack:domain). Default: the base stack's.
	Hosting string
	// ScanWait bounds how long the leftover scan retries while the tagging API catches up. Default 5m.
	ScanWait time.Duration
	// Require turns a skip (missing credentials, backend or Docker) into a failure, for CI. Default false.
	Require bool
	// Keep leaves the stack in place when a step fails, for inspection (the reaper still removes it at its
	// expiry). Default false: the stack is always destroyed.
	Keep bool
	// PulumiVersion installs that Pulumi CLI through the Automation API when it is missing. Optional.
	PulumiVersion string
	// SecretsProvider is the new stack's secrets provider, such as awskms://alias/x. Optional.
	SecretsProvider string
	// Binary is a prebuilt program binary every deploy reuses (runtime.options.binary). Optional.
	Binary string
}

var stackName = regexp.MustCompile(`^` + StackPrefix + `[a-z0-9]{1,16}$`)

// Parse reads the command line. Every mistake wraps ErrUsage and names the flag.
func Parse(args []string) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Dir, "dir", ".", "project directory")
	fs.StringVar(&o.Base, "base", "staging", "stack whose configuration the ephemeral stack copies")
	fs.StringVar(&o.Stack, "stack", "", "stack name, pr-e2e-<id> (default: a fresh random id)")
	fs.DurationVar(&o.TTL, "ttl", 3*time.Hour, "expiry of the stack, after which the reaper destroys it")
	fs.StringVar(&o.Region, "region", "", "AWS region (default: the base configuration's aws:region)")
	fs.DurationVar(&o.HealthTimeout, "health-timeout", 5*time.Minute, "bound of the wait for every health URL")
	fs.DurationVar(&o.Interval, "interval", 200*time.Millisecond, "pause between two requests of the loop")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 5*time.Second, "bound of one request of the loop")
	fs.DurationVar(&o.LoopBound, "loop-bound", 45*time.Minute, "longest the request loop runs during a deploy")
	fs.DurationVar(&o.Tail, "tail", 20*time.Second, "how long the loop goes on after a deploy returns")
	fs.StringVar(&o.FailWith, "fail-with", FailPull, "how the failing version fails its boot: pull or health")
	fs.StringVar(&o.Hosting, "hosting", "", "set appstack:hosting: single or fleet (default: the base stack's)")
	fs.DurationVar(&o.ScanWait, "scan-wait", 5*time.Minute, "how long the leftover scan retries")
	fs.BoolVar(&o.Require, "require", false, "fail instead of skipping when a prerequisite is missing")
	fs.BoolVar(&o.Keep, "keep", false, "keep the stack when a step fails, for inspection")
	fs.StringVar(&o.PulumiVersion, "pulumi-version", "", "Pulumi CLI version to install if missing")
	fs.StringVar(&o.SecretsProvider, "secrets-provider", "", "secrets provider of the new stack")
	fs.StringVar(&o.Binary, "binary", "", "prebuilt program binary to reuse (runtime.options.binary)")
	if err := fs.Parse(args); err != nil {
		return Options{}, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("%w: unexpected argument %q (every setting is a flag)", ErrUsage, fs.Arg(0))
	}
	if o.Stack == "" {
		o.Stack = NewStackName()
	}
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: -%s: %s", ErrUsage, flag, fmt.Sprintf(format, args...)))
	}
	if !stackName.MatchString(o.Stack) {
		bad("stack", "%q: want %s followed by 1-16 lower-case letters or digits, so that the suite never "+
			"touches a stack it did not create", o.Stack, StackPrefix)
	}
	if o.Base == "" {
		bad("base", "empty: name the stack whose configuration to copy")
	}
	if o.Dir == "" {
		bad("dir", "empty")
	}
	within := func(flag string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			bad(flag, "%s is outside %s-%s", d, lo, hi)
		}
	}
	within("ttl", o.TTL, 30*time.Minute, 24*time.Hour)
	within("health-timeout", o.HealthTimeout, 10*time.Second, 30*time.Minute)
	within("interval", o.Interval, 10*time.Millisecond, 10*time.Second)
	within("request-timeout", o.RequestTimeout, 100*time.Millisecond, time.Minute)
	within("loop-bound", o.LoopBound, time.Minute, 2*time.Hour)
	within("tail", o.Tail, 0, 5*time.Minute)
	within("scan-wait", o.ScanWait, 0, time.Hour)
	if o.FailWith != FailPull && o.FailWith != FailHealth {
		bad("fail-with", "%q: want %s or %s", o.FailWith, FailPull, FailHealth)
	}
	if o.Hosting != "" && o.Hosting != SingleHosting && o.Hosting != FleetHosting {
		bad("hosting", "%q: want %s or %s", o.Hosting, SingleHosting, FleetHosting)
	}
	if o.RequestTimeout >= o.LoopBound {
		bad("request-timeout", "%s must be shorter than -loop-bound %s", o.RequestTimeout, o.LoopBound)
	}
	return o, errors.Join(errs...)
}

// NewStackName returns pr-e2e-<8 random hex digits>.
func NewStackName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return StackPrefix + hex.EncodeToString(b)
}

// ExitCode is the command's exit status for err: 0 passed or skipped, 2 a command-line mistake, 1 anything else.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	}
	return 1
}
