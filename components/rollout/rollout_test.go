package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fp = "sha256:0123456789abcdef0123456789abcdef"

// fakeASG answers as Auto Scaling does for one group: the refresh it runs moves through the statuses in script,
// one per DescribeInstanceRefreshes by id, and a rollback request switches it to rollback.
type fakeASG struct {
	version   string                        // the group's launch template version
	template  string                        // the group's launch template id, default lt-1
	refuse    error                         // what RollbackInstanceRefresh answers, if set
	instances []types.Instance              // the group's instances
	refreshes []types.InstanceRefresh       // newest first
	script    []types.InstanceRefreshStatus // what the started refresh goes through
	calls     []string
	started   *autoscaling.StartInstanceRefreshInput
	rolled    bool
}

func (f *fakeASG) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput,
	_ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.calls = append(f.calls, "DescribeAutoScalingGroups")
	p := policy(f.version)
	if f.template != "" {
		p.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId = aws.String(f.template)
	}
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []types.AutoScalingGroup{{
		AutoScalingGroupName: aws.String(in.AutoScalingGroupNames[0]),
		MixedInstancesPolicy: p,
		Instances:            f.instances,
	}}}, nil
}

func (f *fakeASG) DescribeInstanceRefreshes(_ context.Context, in *autoscaling.DescribeInstanceRefreshesInput,
	_ ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error) {
	f.calls = append(f.calls, "DescribeInstanceRefreshes")
	if len(in.InstanceRefreshIds) > 0 && len(f.refreshes) > 0 && len(f.script) > 0 &&
		aws.ToString(f.refreshes[0].InstanceRefreshId) == in.InstanceRefreshIds[0] &&
		f.refreshes[0].Status != types.InstanceRefreshStatusCancelled {
		f.refreshes[0].Status, f.script = f.script[0], f.script[1:]
		if f.refreshes[0].Status == types.InstanceRefreshStatusSuccessful {
			f.version = Version(f.refreshes[0].DesiredConfiguration.MixedInstancesPolicy)
		}
	}
	return &autoscaling.DescribeInstanceRefreshesOutput{InstanceRefreshes: f.refreshes}, nil
}

func (f *fakeASG) StartInstanceRefresh(_ context.Context, in *autoscaling.StartInstanceRefreshInput,
	_ ...func(*autoscaling.Options)) (*autoscaling.StartInstanceRefreshOutput, error) {
	f.calls = append(f.calls, "StartInstanceRefresh")
	if len(f.refreshes) > 0 && (f.refreshes[0].Status == "InProgress" || f.refreshes[0].Status == "Pending") {
		return nil, errors.New("api error InstanceRefreshInProgress: an instance refresh is already in progress")
	}
	f.started = in
	id := fmt.Sprintf("refresh-%d", len(f.refreshes)+1)
	f.refreshes = append([]types.InstanceRefresh{{InstanceRefreshId: aws.String(id), Status: "Pending",
		DesiredConfiguration: in.DesiredConfiguration}}, f.refreshes...)
	return &autoscaling.StartInstanceRefreshOutput{InstanceRefreshId: aws.String(id)}, nil
}

func (f *fakeASG) CancelInstanceRefresh(context.Context, *autoscaling.CancelInstanceRefreshInput,
	...func(*autoscaling.Options)) (*autoscaling.CancelInstanceRefreshOutput, error) {
	f.calls = append(f.calls, "CancelInstanceRefresh")
	f.refreshes[0].Status = types.InstanceRefreshStatusCancelled
	return &autoscaling.CancelInstanceRefreshOutput{}, nil
}

func (f *fakeASG) RollbackInstanceRefresh(context.Context, *autoscaling.RollbackInstanceRefreshInput,
	...func(*autoscaling.Options)) (*autoscaling.RollbackInstanceRefreshOutput, error) {
	f.calls = append(f.calls, "RollbackInstanceRefresh")
	if f.refuse != nil {
		return nil, f.refuse
	}
	f.rolled = true
	f.script = []types.InstanceRefreshStatus{"RollbackInProgress", "RollbackSuccessful"}
	f.refreshes[0].StatusReason = aws.String("The instance refresh was rolled back by request.")
	return &autoscaling.RollbackInstanceRefreshOutput{}, nil
}

func policy(version string) *types.MixedInstancesPolicy {
	return &types.MixedInstancesPolicy{LaunchTemplate: &types.LaunchTemplate{
		LaunchTemplateSpecification: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-1"),
			Version: aws.String(version)},
		Overrides: []types.LaunchTemplateOverrides{{InstanceType: aws.String("t3.small")}},
	}}
}

func instance(id, version string) types.Instance {
	return types.Instance{InstanceId: aws.String(id),
		LaunchTemplate: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-1"),
			Version: aws.String(version)}}
}

func run(t *testing.T, f API, signals map[string]string, req Request) (Result, []string, error) {
	t.Helper()
	var lines []string
	clock := time.Unix(0, 0)
	r := &Rollout{API: f, Poll: time.Nanosecond, Log: func(l string) { lines = append(lines, l) },
		// Each read of the clock is a minute later, so that deadlines are reached in a bounded number of polls.
		Now:     func() time.Time { clock = clock.Add(time.Minute); return clock },
		Signals: func(context.Context) (map[string]string, error) { return signals, nil }}
	if req.Group == "" {
		req.Group = "app-staging-web"
	}
	if req.Policy == nil {
		req.Policy = policy("3")
	}
	if req.Timeout == 0 {
		req.Timeout = time.Hour
	}
	req.Fingerprint = fp
	if req.MinHealthyPercent == 0 {
		req.MinHealthyPercent = 100
	}
	res, err := r.Run(context.Background(), req)
	return res, lines, err
}

func TestARolloutStartsARefreshThatCarriesTheNewVersionAndRollsBackByItself(t *testing.T) {
	f := &fakeASG{version: "2", script: []types.InstanceRefreshStatus{"InProgress", "InProgress", "Successful"}}
	res, lines, err := run(t, f, nil, Request{InstanceWarmup: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, "refresh-1", res.RefreshID)
	assert.Contains(t, res.Summary, "runs launch template version 3")
	require.NotNil(t, f.started)
	assert.Equal(t, "3", Version(f.started.DesiredConfiguration.MixedInstancesPolicy),
		"the group keeps its version: the refresh carries the new one, which Auto Scaling writes only on success")
	p := f.started.Preferences
	assert.True(t, aws.ToBool(p.AutoRollback))
	assert.Equal(t, int32(100), aws.ToInt32(p.MinHealthyPercentage))
	assert.Equal(t, int32(200), aws.ToInt32(p.MaxHealthyPercentage), "new hosts are launched before old ones go")
	assert.True(t, aws.ToBool(p.SkipMatching))
	assert.Equal(t, int32(60), aws.ToInt32(p.InstanceWarmup))
	assert.Equal(t, types.RefreshStrategyRolling, f.started.Strategy)
	assert.Contains(t, strings.Join(lines, "\n"), "instance refresh refresh-1 InProgress")
}

func TestTheMaximumStaysWithin100OfTheMinimum(t *testing.T) {
	for minimum, want := range map[int]int32{100: 200, 90: 190, 50: 150, 1: 101} {
		f := &fakeASG{version: "2", script: []types.InstanceRefreshStatus{"Successful"}}
		_, _, err := run(t, f, nil, Request{MinHealthyPercent: minimum})
		require.NoError(t, err)
		assert.Equal(t, want, aws.ToInt32(f.started.Preferences.MaxHealthyPercentage), "min %d", minimum)
	}
}

func TestAGroupOnTheVersionAlreadyIsLeftAlone(t *testing.T) {
	f := &fakeASG{version: "3", instances: []types.Instance{instance("i-a", "3")}}
	res, _, err := run(t, f, map[string]string{"i-a": "ready " + fp + " install=1,total=2"}, Request{})
	require.NoError(t, err)
	assert.Empty(t, res.RefreshID)
	assert.NotContains(t, f.calls, "StartInstanceRefresh")
	assert.Contains(t, res.Summary, "1 host(s) ready on launch template version 3")
}

func TestARetryOfAFailedFirstDeployIsNoSuccess(t *testing.T) {
	// The first deploy created the group on version 3 and its hosts failed their boot; the retry changes
	// nothing, so the group already runs the version: that must not read as the version serving.
	f := &fakeASG{version: "3", instances: []types.Instance{instance("i-a", "3"), instance("i-b", "3")}}
	failed := "failed " + fp + " install=1,pull=3,total=4 pull docker pull web failed"
	_, _, err := run(t, f, map[string]string{"i-a": failed, "i-b": failed}, Request{})
	require.Error(t, err, "a group whose only hosts failed does not serve")
	assert.Contains(t, err.Error(), "failed its boot at step pull: docker pull web failed")
	assert.Contains(t, err.Error(), "its hosts do not serve")
	assert.NotContains(t, f.calls, "StartInstanceRefresh")
}

func TestARetryWhoseHostsNeverSignalWaitsOnlyTheReadyTimeout(t *testing.T) {
	f := &fakeASG{version: "3", instances: []types.Instance{instance("i-a", "3")}}
	_, _, err := run(t, f, map[string]string{"i-a": "booting " + fp},
		Request{Timeout: time.Hour, ReadyTimeout: 5 * time.Minute})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0 of 1 hosts signalled ready within 5m0s")
}

// health answers Health from a script: the hosts healthy in every target group at each read, the last repeated.
type health struct {
	healthy [][]string
	states  string
	reads   int
}

func (h *health) read(_ context.Context, ids []string) ([]string, string, error) {
	h.reads++
	out := h.healthy[min(h.reads, len(h.healthy))-1]
	for _, id := range out {
		if !slices.Contains(ids, id) {
			return nil, "", fmt.Errorf("asked for %v, not %s", ids, id)
		}
	}
	return out, h.states, nil
}

func withHealth(t *testing.T, f API, signals map[string]string, h *health) *Rollout {
	t.Helper()
	clock := time.Unix(0, 0)
	return &Rollout{API: f, Poll: time.Nanosecond, Health: h.read,
		Now:     func() time.Time { clock = clock.Add(time.Minute); return clock },
		Signals: func(context.Context) (map[string]string, error) { return signals, nil }}
}

func TestARetryOnTheVersionWhoseReadyHostsAreUnhealthyFailsNamingTheTargetGroups(t *testing.T) {
	// The group runs the version and its hosts signalled ready, but the load balancer never found them healthy
	// (the deploy that launched them failed its wait): the next deploy checks again instead of taking the
	// version as done.
	f := &fakeASG{version: "3", instances: []types.Instance{instance("i-a", "3")}}
	ready := map[string]string{"i-a": "ready " + fp + " install=1,total=2"}
	h := &health{healthy: [][]string{nil}, states: "web-1: i-a unhealthy (Target.ResponseCodeMismatch)"}
	_, err := withHealth(t, f, ready, h).Run(context.Background(), Request{Group: "g", Policy: policy("3"),
		Fingerprint: fp, MinHealthyPercent: 100, Timeout: time.Hour, ReadyTimeout: 10 * time.Minute})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, StatusNotServing, rerr.Status)
	assert.Contains(t, err.Error(), "0 of 1 hosts were healthy in every target group within 10m0s")
	assert.Contains(t, err.Error(), "web-1: i-a unhealthy (Target.ResponseCodeMismatch)")
	assert.Greater(t, h.reads, 1, "the health is read until the ready timeout, not once")

	h = &health{healthy: [][]string{nil, nil, {"i-a"}}}
	res, err := withHealth(t, f, ready, h).Run(context.Background(), Request{Group: "g", Policy: policy("3"),
		Fingerprint: fp, MinHealthyPercent: 100, Timeout: time.Hour, ReadyTimeout: 10 * time.Minute})
	require.NoError(t, err, "the retry succeeds once the host is healthy")
	assert.Contains(t, res.Summary, "healthy in every target group")
	assert.NotContains(t, f.calls, "StartInstanceRefresh")
}

func TestASuccessfulRefreshStillWaitsForTheNewHostsHealth(t *testing.T) {
	f := &fakeASG{version: "2", instances: []types.Instance{instance("i-new", "3")},
		script: []types.InstanceRefreshStatus{"InProgress", "Successful"}}
	ready := map[string]string{"i-new": "ready " + fp + " install=1,total=2"}
	h := &health{healthy: [][]string{nil}, states: "api-1: i-new initial (Elb.RegistrationInProgress)"}
	_, err := withHealth(t, f, ready, h).Run(context.Background(), Request{Group: "g", Policy: policy("3"),
		Fingerprint: fp, MinHealthyPercent: 100, Timeout: time.Hour, ReadyTimeout: 5 * time.Minute})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api-1: i-new initial (Elb.RegistrationInProgress)")
}

func TestAFailedBootOnANewHostRollsTheRefreshBackAndNamesTheReason(t *testing.T) {
	f := &fakeASG{version: "2", instances: []types.Instance{instance("i-old", "2"), instance("i-new", "3")},
		script: []types.InstanceRefreshStatus{"InProgress", "InProgress", "InProgress", "Successful"}}
	signals := map[string]string{
		"i-old": "ready sha256:ffffffffffffffffffffffffffffffff install=1,total=2",
		"i-new": "failed " + fp + " install=1,pull=3,total=4 pull image not found: web@sha256:dead",
	}
	_, lines, err := run(t, f, signals, Request{})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.True(t, f.rolled, "a failed boot rolls back at once, before Auto Scaling's health checks time out")
	assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, rerr.Status)
	assert.Contains(t, err.Error(), "host i-new failed its boot at step pull: image not found")
	assert.Contains(t, err.Error(), "the fleet still runs the previous version")
	assert.Equal(t, "2", f.version)
	assert.Contains(t, strings.Join(lines, "\n"), "rolling back instance refresh refresh-1")
}

func TestAnEarlierAttemptsFailedHostDoesNotRollBackTheRerun(t *testing.T) {
	// The earlier attempt's host was terminated by its rollback: its failed signal is still in the store.
	f := &fakeASG{version: "2", instances: []types.Instance{instance("i-old", "2")},
		script: []types.InstanceRefreshStatus{"InProgress", "Successful"}}
	signals := map[string]string{"i-gone": "failed " + fp + " - pull timeout"}
	_, _, err := run(t, f, signals, Request{})
	require.NoError(t, err)
	assert.False(t, f.rolled)
}

func TestARefreshPastItsDeadlineIsRolledBack(t *testing.T) {
	script := make([]types.InstanceRefreshStatus, 50)
	for i := range script {
		script[i] = "InProgress"
	}
	f := &fakeASG{version: "2", script: script}
	_, _, err := run(t, f, nil, Request{Timeout: 5 * time.Minute})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.True(t, f.rolled)
	assert.Contains(t, err.Error(), "the new hosts were not all in service after 5m0s")
}

func TestAutoScalingsOwnRollbackFailsTheDeployWithItsReason(t *testing.T) {
	f := &fakeASG{version: "2", script: []types.InstanceRefreshStatus{"InProgress", "RollbackInProgress",
		"RollbackSuccessful"}}
	f.refreshes = nil
	_, _, err := run(t, &rollbackReasonASG{fakeASG: f}, nil, Request{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Auto Scaling: instances failed to pass ELB health checks")
	assert.Contains(t, err.Error(), "ended RollbackSuccessful")
}

// rollbackReasonASG is Auto Scaling rolling back by itself (its health checks failed the refresh).
type rollbackReasonASG struct{ *fakeASG }

func (f *rollbackReasonASG) DescribeInstanceRefreshes(ctx context.Context,
	in *autoscaling.DescribeInstanceRefreshesInput, o ...func(*autoscaling.Options),
) (*autoscaling.DescribeInstanceRefreshesOutput, error) {
	out, err := f.fakeASG.DescribeInstanceRefreshes(ctx, in, o...)
	for i := range out.InstanceRefreshes {
		if strings.HasPrefix(string(out.InstanceRefreshes[i].Status), "Rollback") {
			out.InstanceRefreshes[i].RollbackDetails = &types.RollbackDetails{
				RollbackReason: aws.String("instances failed to pass ELB health checks")}
		}
	}
	return out, err
}

func TestARefreshOfAnotherVersionIsCancelledFirst(t *testing.T) {
	f := &fakeASG{version: "2", refreshes: []types.InstanceRefresh{{InstanceRefreshId: aws.String("old"),
		Status: "InProgress", DesiredConfiguration: &types.DesiredConfiguration{MixedInstancesPolicy: policy("9")}}},
		script: []types.InstanceRefreshStatus{"InProgress", "Successful"}}
	_, _, err := run(t, f, nil, Request{})
	require.NoError(t, err)
	assert.Contains(t, f.calls, "CancelInstanceRefresh")
	assert.Equal(t, "3", Version(f.started.DesiredConfiguration.MixedInstancesPolicy))
}

func TestARefreshOfThisVersionUnderWayIsFollowedNotRestarted(t *testing.T) {
	f := &fakeASG{version: "2", refreshes: []types.InstanceRefresh{{InstanceRefreshId: aws.String("mine"),
		Status: "InProgress", DesiredConfiguration: &types.DesiredConfiguration{MixedInstancesPolicy: policy("3")}}},
		script: []types.InstanceRefreshStatus{"Successful"}}
	res, _, err := run(t, f, nil, Request{})
	require.NoError(t, err)
	assert.Equal(t, "mine", res.RefreshID)
	assert.NotContains(t, f.calls, "StartInstanceRefresh")
	assert.NotContains(t, f.calls, "CancelInstanceRefresh")
}

func TestAnUnnumberedVersionIsRefused(t *testing.T) {
	for _, v := range []string{"$Latest", "$Default", ""} {
		_, _, err := run(t, &fakeASG{version: "2"}, nil, Request{Policy: policy(v)})
		require.Error(t, err, v)
		assert.Contains(t, err.Error(), "want a number")
	}
}

func TestTheIdentityIsTheProvidersOrRefused(t *testing.T) {
	cfg := map[string]string{"aws:region": "ap-southeast-1", "aws:profile": "deploy",
		"aws:assumeRoles": `[{"roleArn":"arn:aws:iam::123456789012:role/deploy","sessionName":"ci"}]`}
	get := func(k string) (string, bool) { v, ok := cfg[k]; return v, ok }
	id, err := ReadIdentity(get)
	require.NoError(t, err)
	assert.Equal(t, Identity{Region: "ap-southeast-1", Profile: "deploy", AssumeRoles: []AssumeRole{
		{RoleArn: "arn:aws:iam::123456789012:role/deploy", SessionName: "ci"}}}, id)

	cfg["aws:assumeRoles"] = `[{"roleArn":"arn:aws:iam::123456789012:role/deploy","policy":"{}"}]`
	_, err = ReadIdentity(get)
	require.Error(t, err, "a session policy the rollout would not copy")
	assert.Contains(t, err.Error(), "aws:assumeRoles")

	delete(cfg, "aws:assumeRoles")
	cfg["aws:endpoints"] = `[{"autoscaling":"http://localhost"}]`
	_, err = ReadIdentity(get)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aws:endpoints")
}

func firstLaunch(t *testing.T, f *fakeASG, signals map[string]string) (Result, error) {
	t.Helper()
	clock := time.Unix(0, 0)
	r := &Rollout{API: f, Poll: time.Nanosecond,
		Now:     func() time.Time { clock = clock.Add(time.Minute); return clock },
		Signals: func(context.Context) (map[string]string, error) { return signals, nil }}
	return r.WaitFirstLaunch(context.Background(), FirstLaunch{Group: "g", Version: "1", Fingerprint: fp, Min: 2,
		Timeout: 10 * time.Minute})
}

func TestANewGroupWaitsForItsMinimumOfReadyHosts(t *testing.T) {
	f := &fakeASG{version: "1", instances: []types.Instance{instance("i-a", "1"), instance("i-b", "1")}}
	ready := "ready " + fp + " install=1,total=2"
	res, err := firstLaunch(t, f, map[string]string{"i-a": ready, "i-b": ready})
	require.NoError(t, err)
	assert.Contains(t, res.Summary, "2 host(s) ready")

	_, err = firstLaunch(t, f, map[string]string{"i-a": ready, "i-b": "booting " + fp})
	require.Error(t, err, "one host short of the minimum until the deadline")
	assert.Contains(t, err.Error(), "1 of 2 hosts signalled ready within 10m0s")
}

func TestANewGroupsFailedBootFailsTheDeployNamingTheStep(t *testing.T) {
	f := &fakeASG{version: "1", instances: []types.Instance{instance("i-a", "1"), instance("i-b", "1")}}
	_, err := firstLaunch(t, f, map[string]string{"i-a": "booting " + fp,
		"i-b": "failed " + fp + " install=3,total=9 pull manifest unknown"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host i-b failed its boot at step pull: manifest unknown")
	assert.Contains(t, err.Error(), "there is no previous version")
}

func TestANewGroupsHostsServeOnlyOnceHealthyInEveryTargetGroup(t *testing.T) {
	f := &fakeASG{version: "1", instances: []types.Instance{instance("i-a", "1"), instance("i-b", "1")}}
	ready := "ready " + fp + " install=1,total=2"
	signals := map[string]string{"i-a": ready, "i-b": ready}
	h := &health{healthy: [][]string{nil, {"i-a"}, {"i-a", "i-b"}}}
	res, err := withHealth(t, f, signals, h).WaitFirstLaunch(context.Background(), FirstLaunch{Group: "g",
		Version: "1", Fingerprint: fp, Min: 2, Timeout: 10 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, 3, h.reads, "ready hosts are not yet in service: the wait lasts until both are healthy")
	assert.Contains(t, res.Summary, "2 host(s) ready on launch template version 1, healthy in every target group")

	h = &health{healthy: [][]string{{"i-a"}}, states: "web-1: i-b unhealthy (Target.Timeout)"}
	_, err = withHealth(t, f, signals, h).WaitFirstLaunch(context.Background(), FirstLaunch{Group: "g",
		Version: "1", Fingerprint: fp, Min: 2, Timeout: 10 * time.Minute})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, StatusFirstLaunchTimedOut, rerr.Status)
	assert.Contains(t, err.Error(), "1 of 2 hosts were healthy in every target group within 10m0s "+
		"(web-1: i-b unhealthy (Target.Timeout))")
}

func TestAGroupOnAnotherTemplateWithTheSameVersionNumberIsRefreshed(t *testing.T) {
	f := &fakeASG{version: "3", template: "lt-0", script: []types.InstanceRefreshStatus{"Successful"}}
	_, _, err := run(t, f, nil, Request{})
	require.NoError(t, err)
	assert.Contains(t, f.calls, "StartInstanceRefresh", "a version number names a version of one template only")
}

func TestARefreshThatCannotBeRolledBackFailsTheDeploy(t *testing.T) {
	f := &fakeASG{version: "2", instances: []types.Instance{instance("i-new", "3")},
		script: []types.InstanceRefreshStatus{"InProgress", "InProgress", "Successful"},
		refuse: &types.IrreversibleInstanceRefreshFault{Message: aws.String("no desired configuration")}}
	signals := map[string]string{"i-new": "failed " + fp + " - pull denied"}
	_, _, err := run(t, f, signals, Request{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "IrreversibleInstanceRefresh")
}

func TestARefreshThatEndsBeforeItsRollbackIsStillAFailedDeploy(t *testing.T) {
	// Auto Scaling finished the refresh between the read that saw the failed host and the rollback call.
	f := &fakeASG{version: "2", instances: []types.Instance{instance("i-new", "3")},
		script: []types.InstanceRefreshStatus{"InProgress", "Successful"},
		refuse: &types.ActiveInstanceRefreshNotFoundFault{Message: aws.String("no active refresh")}}
	signals := map[string]string{"i-new": "failed " + fp + " - health /ready answered 503"}
	_, _, err := run(t, f, signals, Request{})
	require.Error(t, err, "a host of the new version failed: never a success")
	assert.Contains(t, err.Error(), "the refresh completed before the rollback began")
}

func TestAProgramWithoutAnAutoScalingClientSaysSo(t *testing.T) {
	_, err := Identity{Region: "ap-southeast-1"}.Client(context.Background(), nil)
	require.ErrorIs(t, err, ErrNoClient)
}
