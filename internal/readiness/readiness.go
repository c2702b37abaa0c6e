// Package readiness is the deploy's readiness gate: it waits until a new host has signalled, in SSM Parameter
// Store, that every service it runs is healthy, and explains where to look when it has not.
package readiness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DefaultReadyTimeout is how long a deploy waits for a new host's readiness signal.
const DefaultReadyTimeout = 10 * time.Minute

// FailedPrefix starts the signal of a boot that failed: failed:<step>:<reason>.
const FailedPrefix = "failed:"

// Waiter blocks until the host with instanceID has signalled that it runs fingerprint, and returns an error
// that says why not otherwise.
type Waiter interface {
	Wait(ctx context.Context, req WaitRequest) error
}

// WaitRequest says which signal to wait for and where to point the operator if it never comes.
type WaitRequest struct {
	InstanceID  string
	Parameter   string // the readiness parameter's name
	Fingerprint string
	LogGroup    string
	Region      string
}

// Fingerprint identifies what a host runs: every service's name and image digest.
func Fingerprint(images map[string]string) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(images)) {
		fmt.Fprintf(h, "%s=%s\n", name, images[name])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// SSMAPI is the part of the SSM client the gate uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput,
		error)
	GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, opts ...func(*ssm.Options)) (
		*ssm.GetParametersByPathOutput, error)
	DeleteParameters(ctx context.Context, in *ssm.DeleteParametersInput, opts ...func(*ssm.Options)) (
		*ssm.DeleteParametersOutput, error)
}

// SSMWaiter polls the readiness parameter in SSM Parameter Store.
type SSMWaiter struct {
	// Client reads parameters. Default: an SSM client from the standard AWS configuration chain (the same
	// credentials `pulumi up` uses), created on first use.
	Client SSMAPI
	// Timeout bounds the wait. Default DefaultReadyTimeout.
	Timeout time.Duration
	// Interval is the pause between reads. Default 5 s.
	Interval time.Duration

	once sync.Once
	err  error
}

// Wait polls until the parameter holds the fingerprint, holds a failure, or the timeout passes.
func (w *SSMWaiter) Wait(ctx context.Context, req WaitRequest) error {
	if err := w.client(ctx, req.Region); err != nil {
		return fmt.Errorf("readiness gate: no AWS client to read %s: %w", req.Parameter, err)
	}
	timeout, interval := w.Timeout, w.Interval
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
		out, err := w.Client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(req.Parameter)})
		var notFound *ssmtypes.ParameterNotFound
		switch {
		case err == nil && out.Parameter != nil:
			last = aws.ToString(out.Parameter.Value)
			if last == req.Fingerprint {
				w.prune(ctx, req.Parameter)
				return nil
			}
			if strings.HasPrefix(last, FailedPrefix) {
				step, reason, _ := strings.Cut(strings.TrimPrefix(last, FailedPrefix), ":")
				return req.failure(fmt.Sprintf("the new host failed its boot at step %q: %s", step, reason))
			}
		case errors.As(err, &notFound):
		case ctx.Err() != nil:
		default:
			lastErr = err
		}
		select {
		case <-ctx.Done():
			what := "no readiness signal"
			switch {
			case last != "":
				what = fmt.Sprintf("the host signalled %q, not the expected %q", last, req.Fingerprint)
			case lastErr != nil:
				what = fmt.Sprintf("no readiness signal (last error reading it: %v)", lastErr)
			}
			return req.failure(fmt.Sprintf("%s within %s", what, timeout))
		case <-time.After(interval):
		}
	}
}

// prune deletes the other hosts' signals under the same path once this host's signal matched, so that one
// parameter per boot does not pile up. It is best effort: a failure leaves stale signals, never a failed deploy.
func (w *SSMWaiter) prune(ctx context.Context, keep string) {
	dir := path.Dir(keep)
	var stale []string
	var next *string
	for {
		out, err := w.Client.GetParametersByPath(ctx, &ssm.GetParametersByPathInput{Path: aws.String(dir),
			NextToken: next})
		if err != nil {
			return
		}
		for _, p := range out.Parameters {
			if name := aws.ToString(p.Name); name != keep {
				stale = append(stale, name)
			}
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	// DeleteParameters takes at most ten names a call.
	for chunk := range slices.Chunk(stale, 10) {
		if _, err := w.Client.DeleteParameters(ctx, &ssm.DeleteParametersInput{Names: chunk}); err != nil {
			return
		}
	}
}

func (w *SSMWaiter) client(ctx context.Context, region string) error {
	w.once.Do(func() {
		if w.Client != nil {
			return
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
		if err != nil {
			w.err = err
			return
		}
		w.Client = ssm.NewFromConfig(cfg)
	})
	return w.err
}

// failure explains a failed gate: what happened, that traffic did not move, and where to look.
func (r WaitRequest) failure(what string) error {
	return fmt.Errorf("host %s is not ready: %s. The Elastic IP stays on the previous host, which keeps serving "+
		"(on a first deploy nothing was switched). Look at the boot log in CloudWatch log group %s, stream "+
		"boot/%s, or run: aws ec2 get-console-output --region %s --instance-id %s --latest --output text",
		r.InstanceID, what, r.LogGroup, r.InstanceID, r.Region, r.InstanceID)
}

type waiterKey struct{}

// WithWaiter makes every host created with the returned context use w instead of polling SSM; offline runs and
// tests use it.
func WithWaiter(ctx *pulumi.Context, w Waiter) *pulumi.Context {
	return ctx.WithValue(waiterKey{}, w)
}

// From returns the waiter installed by WithWaiter, or one that polls SSM with the given timeout.
func From(ctx *pulumi.Context, timeout time.Duration) Waiter {
	if w, ok := ctx.Value(waiterKey{}).(Waiter); ok {
		return w
	}
	return &SSMWaiter{Timeout: timeout}
}
