// Package readiness is the deploy's readiness gate: it waits until a new host has signalled, in SSM Parameter
// Store, that every service it runs is healthy, and explains where to look when it has not. It reads through
// whatever Reader the caller gives it; the host component reads through the AWS provider, so the gate uses
// exactly the provider's credentials, profile, assumed role and region.
package readiness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// DefaultReadyTimeout is how long a deploy waits for a new host's readiness signal.
const DefaultReadyTimeout = 10 * time.Minute

// LaunchAllowance is the part of the ready timeout a boot cannot use: from the moment the instance is running
// (when the provider's create returns and the gate starts to wait) until cloud-init runs the boot script —
// typically well under a minute on AL2023 — plus the time to write the last signal.
const LaunchAllowance = 2 * time.Minute

// MinBudget is the least time a boot is given: installing Docker and the CloudWatch agent, pulling and starting
// even a small service take a couple of minutes.
const MinBudget = 3 * time.Minute

// MinReadyTimeout is the shortest ready timeout that leaves a boot MinBudget after LaunchAllowance.
const MinReadyTimeout = LaunchAllowance + MinBudget

// Budget is the wall-clock time a boot may take, from its start to its last signal, under readyTimeout.
func Budget(readyTimeout time.Duration) time.Duration { return readyTimeout - LaunchAllowance }

// Fingerprint identifies what a host runs: every service's name and image digest.
func Fingerprint(images map[string]string) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(images)) {
		fmt.Fprintf(h, "%s=%s\n", name, images[name])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// ErrNotFound is what a Reader returns while the parameter does not exist yet.
var ErrNotFound = errors.New("parameter not found")

// Reader reads one SSM parameter's value. It returns an error wrapping ErrNotFound while the parameter does not
// exist.
type Reader func(ctx context.Context, name string) (string, error)

// WaitRequest says which signal to wait for and where to point the operator if it never comes.
type WaitRequest struct {
	InstanceID  string
	Parameter   string // the readiness parameter's name
	Fingerprint string
	LogGroup    string
	Region      string
	// URN is the instance's URN: a host that never signalled is no boot attempt (Attempt), so the failure
	// says how to replace it on purpose. Optional.
	URN string
}

// Gate polls a host's readiness parameter.
type Gate struct {
	// Read reads the parameter. Required.
	Read Reader
	// Timeout bounds the wait. Default DefaultReadyTimeout.
	Timeout time.Duration
	// Interval is the pause between reads. Default 5 s.
	Interval time.Duration
	// Log receives the boot's timeline line once the host has signalled ready or failed. Optional.
	Log func(line string)
}

// Wait polls until the parameter says the host is ready with the fingerprint, says it failed, an error no retry
// can fix comes back, or the timeout passes.
func (g Gate) Wait(ctx context.Context, req WaitRequest) error {
	timeout, interval := g.Timeout, g.Interval
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	var lastErr error
	for {
		value, err := g.Read(ctx, req.Parameter)
		switch {
		case err == nil:
			last = value
			s, perr := Parse(value)
			if perr != nil || s.Fingerprint != req.Fingerprint {
				break
			}
			switch s.State {
			case Ready:
				g.log(s.Timeline.Line(req.InstanceID))
				return nil
			case Failed:
				g.log(s.Timeline.Line(req.InstanceID))
				return req.failure(fmt.Sprintf("the new host failed its boot at step %q: %s", s.Step, s.Reason))
			}
		case errors.Is(err, ErrNotFound), ctx.Err() != nil:
		case Permanent(err):
			return req.failure(fmt.Sprintf("the readiness signal cannot be read, and no retry will change "+
				"that: %v", err))
		default:
			lastErr = err
		}
		select {
		case <-ctx.Done():
			what := "no readiness signal"
			if req.URN != "" {
				what += fmt.Sprintf(" (a host that never signals is not counted as a boot attempt, so a re-run "+
					"would wait for it again; replace it on purpose: pulumi up --replace '%s')", req.URN)
			}
			switch {
			case last != "":
				what = fmt.Sprintf("the last signal was %q, not %q or %q with fingerprint %s", last, Ready,
					Failed, req.Fingerprint)
			case lastErr != nil:
				what = fmt.Sprintf("no readiness signal (last error reading it: %v)", lastErr)
			}
			return req.failure(fmt.Sprintf("%s within %s", what, timeout))
		case <-time.After(interval):
		}
	}
}

func (g Gate) log(line string) {
	if g.Log != nil {
		g.Log(line)
	}
}

// failure explains a failed gate: what happened, that traffic did not move, and where to look.
func (r WaitRequest) failure(what string) error {
	return fmt.Errorf("host %s is not ready: %s. The Elastic IP stays on the previous host, which keeps serving "+
		"(on a first deploy nothing was switched); running the deploy again boots a fresh host. Look at the boot "+
		"log in CloudWatch log group %s, stream boot/%s, or run: aws ec2 get-console-output --region %s "+
		"--instance-id %s --latest --output text",
		r.InstanceID, what, r.LogGroup, r.InstanceID, r.Region, r.InstanceID)
}

// notFound are the texts the AWS provider's aws_ssm_parameter data source returns for a parameter that does not
// exist: terraform-provider-aws (internal/service/ssm/parameter.go, findParameterByName) turns SSM's
// ParameterNotFound into a NotFoundError whose text is "couldn't find resource", wrapped as "reading SSM
// Parameter (<name>): …"; the bridge adds "invoking <token>: " (pulumi-terraform-bridge pkg/tfbridge/provider.go,
// Invoke) and the engine "invocation of <token> returned an error: ".
var notFound = []string{"couldn't find resource", "ParameterNotFound"}

// IsNotFound reports whether err, from an invoke of aws:ssm/getParameter, says the parameter does not exist.
func IsNotFound(err error) bool {
	return err != nil && containsAny(err.Error(), notFound)
}

// permanent are the AWS error codes and SDK texts that no retry within a deploy can fix: the identity has no
// credentials, its credentials are expired or invalid, or it may not read the parameter. The AWS SDK for Go v2
// (which terraform-provider-aws uses) prints the API error code in its message ("api error
// AccessDeniedException: …"), and the provider passes that message through.
var permanent = []string{
	"AccessDenied", // AccessDeniedException (SSM), AccessDenied (STS)
	"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "InvalidSignatureException",
	"SignatureDoesNotMatch", "security token included in the request is",
	"no valid credential sources", "failed to refresh cached credentials", "NoCredentialProviders",
}

// Permanent reports whether err is one no retry can fix (credentials or permissions).
func Permanent(err error) bool {
	return err != nil && containsAny(err.Error(), permanent)
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
