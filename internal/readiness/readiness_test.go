package readiness_test

import (
	"context"
	"errors"
	"fmt"
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

// fakeSSM answers GetParameter from a script of replies, repeating the last one.
type fakeSSM struct {
	mu      sync.Mutex
	replies []reply
	names   []string
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
