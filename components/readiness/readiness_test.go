package readiness_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/readiness"
)

const fp = "sha256:0123456789abcdef0123456789abcdef"

// reads answers the gate from a script of replies, repeating the last one, and records the names read.
type reads struct {
	mu      sync.Mutex
	replies []reply
	names   []string
}

type reply struct {
	value string
	err   error
}

func (r *reads) read(_ context.Context, name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, name)
	rp := r.replies[0]
	if len(r.replies) > 1 {
		r.replies = r.replies[1:]
	}
	return rp.value, rp.err
}

// errNotFound is what pulumi-aws returns for a missing parameter (terraform-provider-aws findParameterByName), as
// the engine wraps it for the program.
var errNotFound = errors.New("invocation of aws:ssm/getParameter:getParameter returned an error: invoking " +
	"aws:ssm/getParameter:getParameter: 1 error occurred:\n\t* reading SSM Parameter " +
	"(/appstack/staging/app/ready/i-0new): couldn't find resource")

func request() readiness.WaitRequest {
	return readiness.WaitRequest{InstanceID: "i-0new", Parameter: "/appstack/staging/app/ready/i-0new",
		Fingerprint: fp, LogGroup: "app-logs-1", Region: "ap-southeast-1",
		URN: "urn:pulumi:staging::appstack::aws:ec2/instance:Instance::app-host-instance"}
}

func wait(replies ...reply) (*reads, []string, error) {
	r := &reads{replies: replies}
	var lines []string
	g := readiness.Gate{Read: func(ctx context.Context, name string) (string, error) {
		v, err := r.read(ctx, name)
		if readiness.IsNotFound(err) {
			err = fmt.Errorf("%w: %v", readiness.ErrNotFound, err)
		}
		return v, err
	}, Timeout: 50 * time.Millisecond, Interval: time.Millisecond, Log: func(l string) { lines = append(lines, l) }}
	return r, lines, g.Wait(context.Background(), request())
}

var readyValue = "ready " + fp + " install=12,pull=8,secret=1,start=2,health=20,total=43"

func TestGateOpensOnReadyWithTheExpectedFingerprint(t *testing.T) {
	r, lines, err := wait(reply{err: errNotFound}, reply{value: "booting " + fp}, reply{value: readyValue})
	require.NoError(t, err)
	assert.Len(t, r.names, 3, "polls until the signal says ready")
	assert.Equal(t, "/appstack/staging/app/ready/i-0new", r.names[0])
	assert.Equal(t, []string{"boot timeline i-0new: install=12s pull=8s secret=1s start=2s health=20s total=43s"}, lines,
		"the timeline is printed once")
}

func TestGateOpensAtOnceWhenNothingChanged(t *testing.T) {
	r, _, err := wait(reply{value: readyValue})
	require.NoError(t, err)
	assert.Len(t, r.names, 1, "a deploy with no change reads the signal once and does not wait")
}

func TestGateReportsABootFailure(t *testing.T) {
	_, lines, err := wait(reply{err: errNotFound},
		reply{value: "failed " + fp + " install=12,total=40 pull docker pull web failed"})
	require.Error(t, err)
	for _, want := range []string{
		`host i-0new is not ready: the new host failed its boot at step "pull": docker pull web failed`,
		"The Elastic IP stays on the previous host, which keeps serving",
		"running the deploy again boots a fresh host",
		"CloudWatch log group app-logs-1, stream boot/i-0new",
		"aws ec2 get-console-output --region ap-southeast-1 --instance-id i-0new --latest",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Equal(t, []string{"boot timeline i-0new: install=12s total=40s"}, lines)
}

func TestGateFailsFastOnErrorsNoRetryFixes(t *testing.T) {
	// The texts the AWS SDK for Go v2 gives these errors, as pulumi-aws passes them to the program.
	for name, text := range map[string]string{
		"access denied": "reading SSM Parameter (/x): operation error SSM: GetParameter, https response error " +
			"StatusCode: 400, RequestID: 1, api error AccessDeniedException: User: arn:aws:sts::1:assumed-role/r/s " +
			"is not authorized to perform: ssm:GetParameter",
		"expired token": "operation error SSM: GetParameter, https response error StatusCode: 400, RequestID: 1, " +
			"api error ExpiredTokenException: The security token included in the request is expired",
		"invalid token":  "api error UnrecognizedClientException: The security token included in the request is invalid.",
		"no credentials": "failed to refresh cached credentials, no EC2 IMDS role found",
	} {
		t.Run(name, func(t *testing.T) {
			r, _, err := wait(reply{err: errors.New(text)})
			require.Error(t, err)
			assert.Len(t, r.names, 1, "no second read")
			assert.Contains(t, err.Error(), "no retry will change that: "+text)
		})
	}
}

func TestGateTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
		want  string
	}{
		{"no signal", reply{err: errNotFound}, "no readiness signal (a host that never signals is not counted as " +
			"a boot attempt, so a re-run would wait for it again; replace it on purpose: pulumi up --replace " +
			"'urn:pulumi:staging::appstack::aws:ec2/instance:Instance::app-host-instance') within 50ms"},
		{"still booting", reply{value: "booting " + fp},
			`the last signal was "booting ` + fp + `", not "ready" or "failed" with fingerprint ` + fp + " within 50ms"},
		{"another fingerprint", reply{value: "ready sha256:ffffffffffffffffffffffffffffffff -"},
			`the last signal was "ready sha256:ffffffffffffffffffffffffffffffff -"`},
		{"a passing error", reply{err: errors.New("api error ThrottlingException: Rate exceeded")},
			"no readiness signal (last error reading it: api error ThrottlingException: Rate exceeded) within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := wait(tc.reply)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Greater(t, len(r.names), 1, "kept polling")
		})
	}
}

func TestSignalsRoundTrip(t *testing.T) {
	for _, s := range []readiness.Signal{
		{State: readiness.Booting, Fingerprint: fp},
		{State: readiness.Ready, Fingerprint: fp, Timeline: readiness.Timeline{{Name: "install", Seconds: 3},
			{Name: "total", Seconds: 9}}},
		{State: readiness.Failed, Fingerprint: fp, Step: "health",
			Reason: "timeout: web did not answer /health and /ready on port 8080 by the boot deadline (480s)"},
		{State: readiness.Failed, Fingerprint: fp, Step: "metadata", Timeline: readiness.Timeline{{Name: "total", Seconds: 20}},
			Reason: "the instance metadata service did not answer"},
	} {
		got, err := readiness.Parse(s.String())
		require.NoError(t, err, s.String())
		assert.Equal(t, s, got)
	}
	for _, bad := range []string{"", fp, "failed:pull:docker", "ready " + fp, "ready notafingerprint -",
		"failed " + fp + " - ", "ready " + fp + " install=x", "unknown " + fp} {
		_, err := readiness.Parse(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestTimelineLineParses(t *testing.T) {
	tl := readiness.Timeline{{Name: "total", Seconds: 43}, {Name: "health", Seconds: 20}, {Name: "install", Seconds: 12}}
	line := tl.Line("i-0abc")
	assert.Equal(t, "boot timeline i-0abc: install=12s health=20s total=43s", line, "steps in boot order, total last")
	id, got, err := readiness.ParseTimeline(line)
	require.NoError(t, err)
	assert.Equal(t, "i-0abc", id)
	assert.Equal(t, readiness.Timeline{{Name: "install", Seconds: 12}, {Name: "health", Seconds: 20},
		{Name: "total", Seconds: 43}}, got)
	_, _, err = readiness.ParseTimeline("boot timeline i-0abc: install=12")
	assert.Error(t, err)
}

func TestAttemptCountsTheFingerprintsBootsThatDidNotEndReady(t *testing.T) {
	other := "sha256:ffffffffffffffffffffffffffffffff"
	failed := "failed " + fp + " total=30 pull docker pull web failed"
	assert.Equal(t, 0, readiness.Attempt(fp, nil), "a first deploy")
	assert.Equal(t, 1, readiness.Attempt(fp, []string{"ready " + other + " -", failed}), "a re-run after a failure")
	assert.Equal(t, 2, readiness.Attempt(fp, []string{failed, "booting " + fp}), "after a second, interrupted boot")
	assert.Equal(t, 1, readiness.Attempt(fp, []string{failed, readyValue}),
		"after the re-run succeeded the number stays: a no-change deploy keeps the host")
	assert.Equal(t, 0, readiness.Attempt(fp, []string{"sha256:0123", "failed " + other + " - pull x"}),
		"old-format values and other fingerprints do not count")
}

func TestFailFastClassification(t *testing.T) {
	assert.True(t, readiness.IsNotFound(errNotFound))
	assert.False(t, readiness.Permanent(errNotFound))
	assert.False(t, readiness.Permanent(errors.New("api error ThrottlingException: Rate exceeded")))
	assert.False(t, readiness.Permanent(errors.New("dial tcp: i/o timeout")))
}

func TestFingerprintFollowsTheDigests(t *testing.T) {
	ref := func(repo string, n int) string {
		return fmt.Sprintf("123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/%s@sha256:%064x", repo, n)
	}
	a := readiness.Fingerprint(map[string]string{"web": ref("web", 1), "api": ref("api", 1)})
	assert.Equal(t, a, readiness.Fingerprint(map[string]string{"api": ref("api", 1), "web": ref("web", 1)}))
	assert.NotEqual(t, a, readiness.Fingerprint(map[string]string{"web": ref("web", 2), "api": ref("api", 1)}))
	assert.Regexp(t, `^sha256:[0-9a-f]{32}$`, a)
}

func TestUserDataNamesThePrefixAndFingerprint(t *testing.T) {
	script := "#!/bin/bash\nregion=ap-southeast-1\nready_prefix=/appstack/pr-7/app/ready\nfingerprint=" + fp + "\n"
	want := readiness.BootParams{ReadyPrefix: "/appstack/pr-7/app/ready", Fingerprint: fp}
	got, err := readiness.ParseUserData(script, "")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err = zw.Write([]byte(script))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	got, err = readiness.ParseUserData("", base64.StdEncoding.EncodeToString(buf.Bytes()))
	require.NoError(t, err, "userDataBase64 holds the gzipped script, as cloud-init unpacks it")
	assert.Equal(t, want, got)

	got, err = readiness.ParseUserData("#!/bin/bash\necho hello\n", "")
	require.NoError(t, err)
	assert.Empty(t, got.ReadyPrefix, "no appstack boot script")
	_, err = readiness.ParseUserData("", "not base64!")
	assert.Error(t, err)
}

// The stand-in load balancer checks a target on its group's path: the boot script says which paths each port
// answers once ready.
func TestUserDataNamesThePathsEachPortAnswers(t *testing.T) {
	script := "#!/bin/bash\nready_prefix=/appstack/pr-7/app/ready\nfingerprint=" + fp + "\n" +
		"wait_ready 8080 /health /ready ||\n  wait_ready 8081 '/api/health' '/api/ready' ||\n"
	got, err := readiness.ParseUserData(script, "")
	require.NoError(t, err)
	assert.Equal(t, []int{8080, 8081}, got.Ports)
	assert.Equal(t, map[int][]string{8080: {"/health", "/ready"}, 8081: {"/api/health", "/api/ready"}}, got.Paths)
}
