package readiness_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/readiness"
)

// fakeSSM answers GetParameter from a script of replies, repeating the last one, and keeps a parameter store
// for the pruning calls.
type fakeSSM struct {
	mu      sync.Mutex
	replies []reply
	names   []string
	store   []string
	deleted []string
}

func (f *fakeSSM) GetParametersByPath(_ context.Context, in *ssm.GetParametersByPathInput,
	_ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// Pages of three, to exercise the paging.
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	out := &ssm.GetParametersByPathOutput{}
	for _, name := range f.store[start:min(start+3, len(f.store))] {
		out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(name)})
	}
	if start+3 < len(f.store) {
		out.NextToken = aws.String(strconv.Itoa(start + 3))
	}
	return out, nil
}

func (f *fakeSSM) DeleteParameters(_ context.Context, in *ssm.DeleteParametersInput, _ ...func(*ssm.Options)) (
	*ssm.DeleteParametersOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(in.Names) > 10 {
		return nil, errors.New("ValidationException: at most 10 names")
	}
	f.deleted = append(f.deleted, in.Names...)
	return &ssm.DeleteParametersOutput{}, nil
}

type reply struct {
	value string
	err   error
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (
	*ssm.GetParameterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = append(f.names, aws.ToString(in.Name))
	r := f.replies[0]
	if len(f.replies) > 1 {
		f.replies = f.replies[1:]
	}
	if r.err != nil {
		return nil, r.err
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String(r.value)}}, nil
}

var notFound = &ssmtypes.ParameterNotFound{Message: aws.String("not yet")}

func request() readiness.WaitRequest {
	return readiness.WaitRequest{InstanceID: "i-0new", Parameter: "/appstack/staging/app/ready/i-0new",
		Fingerprint: "sha256:abc", LogGroup: "app-logs-1", Region: "ap-southeast-1"}
}

func wait(replies ...reply) (*fakeSSM, error) {
	f := &fakeSSM{replies: replies}
	w := &readiness.SSMWaiter{Client: f, Timeout: 50 * time.Millisecond, Interval: time.Millisecond}
	return f, w.Wait(context.Background(), request())
}

func TestGateOpensOnTheExpectedFingerprint(t *testing.T) {
	f, err := wait(reply{err: notFound}, reply{err: notFound}, reply{value: "sha256:abc"})
	require.NoError(t, err)
	assert.Len(t, f.names, 3, "polls until the signal appears")
	assert.Equal(t, "/appstack/staging/app/ready/i-0new", f.names[0])
}

func TestGateOpensAtOnceWhenNothingChanged(t *testing.T) {
	f, err := wait(reply{value: "sha256:abc"})
	require.NoError(t, err)
	assert.Len(t, f.names, 1, "a deploy with no change reads the signal once and does not wait")
}

func TestAnOpenGatePrunesTheOtherHostsSignals(t *testing.T) {
	f := &fakeSSM{replies: []reply{{value: "sha256:abc"}}}
	for i := range 13 {
		f.store = append(f.store, fmt.Sprintf("/appstack/staging/app/ready/i-0old%02d", i))
	}
	f.store = append(f.store, "/appstack/staging/app/ready/i-0new")
	w := &readiness.SSMWaiter{Client: f, Timeout: 50 * time.Millisecond, Interval: time.Millisecond}
	require.NoError(t, w.Wait(context.Background(), request()))
	assert.Len(t, f.deleted, 13, "every other host's signal, over several pages and in batches of ten")
	assert.NotContains(t, f.deleted, "/appstack/staging/app/ready/i-0new")
}

func TestAFailedGatePrunesNothing(t *testing.T) {
	f := &fakeSSM{replies: []reply{{value: "failed:health:web"}}, store: []string{"/appstack/staging/app/ready/i-0old"}}
	w := &readiness.SSMWaiter{Client: f, Timeout: 50 * time.Millisecond, Interval: time.Millisecond}
	require.Error(t, w.Wait(context.Background(), request()))
	assert.Empty(t, f.deleted, "the old host's signal stays while it still serves")
}

func TestGateReportsABootFailure(t *testing.T) {
	_, err := wait(reply{err: notFound}, reply{value: "failed:pull:docker pull web failed after 5 attempts"})
	require.Error(t, err)
	for _, want := range []string{
		`host i-0new is not ready: the new host failed its boot at step "pull": docker pull web failed after 5 attempts`,
		"The Elastic IP stays on the previous host, which keeps serving",
		"CloudWatch log group app-logs-1, stream boot/i-0new",
		"aws ec2 get-console-output --region ap-southeast-1 --instance-id i-0new --latest",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestGateTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
		want  string
	}{
		{"no signal", reply{err: notFound}, "no readiness signal within 50ms"},
		{"another fingerprint", reply{value: "sha256:old"},
			`the host signalled "sha256:old", not the expected "sha256:abc" within 50ms`},
		{"the parameter cannot be read", reply{err: errors.New("AccessDeniedException")},
			"no readiness signal (last error reading it: AccessDeniedException) within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wait(tc.reply)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "aws ec2 get-console-output")
		})
	}
}

func digestRef(repo string, n int) string {
	return fmt.Sprintf("123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/%s@sha256:%064x", repo, n)
}

func TestFingerprintFollowsTheDigests(t *testing.T) {
	a := readiness.Fingerprint(map[string]string{"web": digestRef("web", 1), "api": digestRef("api", 1)})
	assert.Equal(t, a, readiness.Fingerprint(map[string]string{"api": digestRef("api", 1), "web": digestRef("web", 1)}))
	assert.NotEqual(t, a, readiness.Fingerprint(map[string]string{"web": digestRef("web", 2), "api": digestRef("api", 1)}))
	assert.Regexp(t, `^sha256:[0-9a-f]{32}$`, a)
}
