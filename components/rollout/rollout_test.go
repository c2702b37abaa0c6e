package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/readiness"
	"appstack/testing/standin/asgapi"
)

const fp = "sha256:0123456789abcdef0123456789abcdef"

// The tests drive the rollout against testing/standin/asgapi, the Auto Scaling API stand-in the engine tests use,
// through the real aws-sdk-go-v2 client: one model of Auto Scaling, whose answers the SDK parses as it parses
// the service's.

const (
	groupName = "app-staging-web"
	// templateID is the fleet's launch template, with versions 1 to 9; otherTemplateID another one.
	templateID      = "lt-0123456789abcdef0"
	otherTemplateID = "lt-0fedcba9876543210"
)

// fleet is what the stand-in starts with.
type fleet struct {
	// version is the launch template version the group runs; template its template, default templateID.
	version, template string
	// instances are the group's instances (its desired capacity), in service and healthy.
	instances []*asgapi.Instance
	// script is the statuses the group's next instance refresh reports (asgapi.Group.Script).
	script []string
	// underway starts a refresh to this version of templateID before the rollout runs; it takes the script.
	underway string
	// ssmImage makes the group's launch template version take its AMI from a Systems Manager parameter.
	ssmImage bool
	// boot decides how the instances a refresh launches boot; nil boots them ready.
	boot asgapi.Booter
}

// asg is the stand-in serving one group, and the real SDK client pointed at it.
type asg struct {
	srv    *asgapi.Server
	client *autoscaling.Client
	// underway is the refresh fleet.underway started.
	underway string
}

func newASG(t *testing.T, f fleet) *asg {
	t.Helper()
	a := &asg{srv: &asgapi.Server{Store: &asgapi.Store{Boot: f.boot}}}
	require.NoError(t, a.srv.Store.Update(func(st *asgapi.State) error {
		for _, id := range []string{templateID, otherTemplateID} {
			tmpl := &asgapi.Template{ID: id, Name: "web-" + id, LatestVersion: 9, DefaultVersion: 9}
			for range 9 {
				tmpl.Versions = append(tmpl.Versions, asgapi.TemplateVersion{ImageID: "ami-0123456789abcdef0",
					InstanceType: "t3.small"})
			}
			st.Templates[id] = tmpl
		}
		cfg := asgapi.Config{TemplateID: cmp.Or(f.template, templateID), Version: f.version, Mixed: true,
			InstanceTypes: []string{"t3.small"}}
		if f.ssmImage {
			n, err := strconv.Atoi(f.version)
			if err != nil {
				return err
			}
			st.Templates[cfg.TemplateID].Versions[n-1].ImageID = "resolve:ssm:/aws/service/ami-amazon-linux-latest/" +
				"al2023-ami-kernel-default-x86_64"
		}
		err := st.CreateGroup(&asgapi.Group{Name: groupName, Region: "ap-southeast-1", Min: 0, Max: 10,
			Desired: len(f.instances), Instances: f.instances, Config: cfg, HealthCheckType: "ELB",
			ARN:    "arn:aws:autoscaling:ap-southeast-1:123456789012:autoScalingGroup:1:autoScalingGroupName/" + groupName,
			Script: f.script}, nil)
		if err != nil || f.underway == "" {
			return err
		}
		a.underway, err = st.StartRefresh(groupName, &asgapi.Config{TemplateID: templateID, Version: f.underway,
			Mixed: true, InstanceTypes: []string{"t3.small"}}, asgapi.PreferencesInput{
			MinHealthyPercentage: aws.Int(100), MaxHealthyPercentage: aws.Int(200), AutoRollback: aws.Bool(true),
			SkipMatching: aws.Bool(true)})
		return err
	}))
	server := httptest.NewServer(a.srv)
	t.Cleanup(server.Close)
	a.client = autoscaling.New(autoscaling.Options{Region: "ap-southeast-1", BaseEndpoint: aws.String(server.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASTANDINTEST00000", "standin-secret", "")})
	return a
}

// instance is an instance of the group launched from version of templateID, in service and healthy.
func instance(id, version string) *asgapi.Instance {
	return &asgapi.Instance{ID: id, AZ: "ap-southeast-1a", InstanceType: "t3.small", TemplateID: templateID,
		Version: version, Lifecycle: asgapi.InService, Health: asgapi.Healthy, Outcome: readiness.Ready}
}

// actions are the actions the stand-in answered, in order.
func (a *asg) actions() []string { return a.srv.Actions() }

// refreshes are the group's instance refreshes, newest first, as DescribeInstanceRefreshes reports them.
func (a *asg) refreshes(t *testing.T) []types.InstanceRefresh {
	t.Helper()
	out, err := a.client.DescribeInstanceRefreshes(context.Background(), &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(groupName)})
	require.NoError(t, err)
	require.NotEmpty(t, out.InstanceRefreshes)
	return out.InstanceRefreshes
}

// version is the launch template version the group runs, as DescribeAutoScalingGroups reports it.
func (a *asg) version(t *testing.T) string {
	t.Helper()
	out, err := a.client.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{groupName}})
	require.NoError(t, err)
	require.Len(t, out.AutoScalingGroups, 1)
	return Version(out.AutoScalingGroups[0].MixedInstancesPolicy)
}

// strategy is the strategy the newest refresh was started with, as the request named it.
func (a *asg) strategy(t *testing.T) string {
	t.Helper()
	st, err := a.srv.Store.Load()
	require.NoError(t, err)
	require.NotEmpty(t, st.Refreshes)
	return st.Refreshes[len(st.Refreshes)-1].Strategy
}

// bootAs boots every instance a refresh launches with one outcome (asgapi.Booter).
type bootAs string

func (b bootAs) Boot(string, string, string) (string, error) { return string(b), nil }

func policy(version string) *types.MixedInstancesPolicy {
	return &types.MixedInstancesPolicy{LaunchTemplate: &types.LaunchTemplate{
		LaunchTemplateSpecification: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(templateID),
			Version: aws.String(version)},
		Overrides: []types.LaunchTemplateOverrides{{InstanceType: aws.String("t3.small")}},
	}}
}

func run(t *testing.T, a *asg, signals map[string]string, req Request) (Result, []string, error) {
	t.Helper()
	var lines []string
	clock := time.Unix(0, 0)
	r := &Rollout{API: a.client, Poll: time.Nanosecond, Log: func(l string) { lines = append(lines, l) },
		// Each read of the clock is a minute later, so that deadlines are reached in a bounded number of polls.
		Now:     func() time.Time { clock = clock.Add(time.Minute); return clock },
		Signals: func(context.Context) (map[string]string, error) { return signals, nil }}
	if req.Group == "" {
		req.Group = groupName
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
	f := newASG(t, fleet{version: "2", instances: []*asgapi.Instance{instance("i-old", "2")}})
	res, lines, err := run(t, f, nil, Request{InstanceWarmup: time.Minute})
	require.NoError(t, err)
	refreshes := f.refreshes(t)
	require.Len(t, refreshes, 1)
	assert.Equal(t, aws.ToString(refreshes[0].InstanceRefreshId), res.RefreshID)
	assert.Contains(t, res.Summary, "runs launch template version 3")
	assert.Equal(t, "3", Version(refreshes[0].DesiredConfiguration.MixedInstancesPolicy),
		"the group keeps its version: the refresh carries the new one, which Auto Scaling writes only on success")
	p := refreshes[0].Preferences
	assert.True(t, aws.ToBool(p.AutoRollback))
	assert.Equal(t, int32(100), aws.ToInt32(p.MinHealthyPercentage))
	assert.Equal(t, int32(200), aws.ToInt32(p.MaxHealthyPercentage), "new hosts are launched before old ones go")
	assert.True(t, aws.ToBool(p.SkipMatching))
	assert.Equal(t, int32(60), aws.ToInt32(p.InstanceWarmup))
	assert.Equal(t, string(types.RefreshStrategyRolling), f.strategy(t))
	assert.Contains(t, strings.Join(lines, "\n"), "instance refresh "+res.RefreshID+" InProgress")
	assert.Equal(t, "3", f.version(t))
}

func TestTheMaximumStaysWithin100OfTheMinimum(t *testing.T) {
	for minimum, want := range map[int]int32{100: 200, 90: 190, 50: 150, 1: 101} {
		f := newASG(t, fleet{version: "2"})
		_, _, err := run(t, f, nil, Request{MinHealthyPercent: minimum})
		require.NoError(t, err)
		assert.Equal(t, want, aws.ToInt32(f.refreshes(t)[0].Preferences.MaxHealthyPercentage), "min %d", minimum)
	}
}

func TestAGroupOnTheVersionAlreadyIsLeftAlone(t *testing.T) {
	f := newASG(t, fleet{version: "3", instances: []*asgapi.Instance{instance("i-a", "3")}})
	res, _, err := run(t, f, map[string]string{"i-a": "ready " + fp + " install=1,total=2"}, Request{})
	require.NoError(t, err)
	assert.Empty(t, res.RefreshID)
	assert.NotContains(t, f.actions(), "StartInstanceRefresh")
	assert.Contains(t, res.Summary, "1 host(s) ready on launch template version 3")
}

func TestARetryOfAFailedFirstDeployIsNoSuccess(t *testing.T) {
	// The first deploy created the group on version 3 and its hosts failed their boot; the retry changes
	// nothing, so the group already runs the version: that must not read as the version serving.
	f := newASG(t, fleet{version: "3", instances: []*asgapi.Instance{instance("i-a", "3"), instance("i-b", "3")}})
	failed := "failed " + fp + " install=1,pull=3,total=4 pull docker pull web failed"
	_, _, err := run(t, f, map[string]string{"i-a": failed, "i-b": failed}, Request{})
	require.Error(t, err, "a group whose only hosts failed does not serve")
	assert.Contains(t, err.Error(), "failed its boot at step pull: docker pull web failed")
	assert.Contains(t, err.Error(), "its hosts do not serve")
	assert.NotContains(t, f.actions(), "StartInstanceRefresh")
}

func TestARetryWhoseHostsNeverSignalWaitsOnlyTheReadyTimeout(t *testing.T) {
	f := newASG(t, fleet{version: "3", instances: []*asgapi.Instance{instance("i-a", "3")}})
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

func withHealth(t *testing.T, a *asg, signals map[string]string, h *health) *Rollout {
	t.Helper()
	clock := time.Unix(0, 0)
	return &Rollout{API: a.client, Poll: time.Nanosecond, Health: h.read,
		Now:     func() time.Time { clock = clock.Add(time.Minute); return clock },
		Signals: func(context.Context) (map[string]string, error) { return signals, nil }}
}

func TestARetryOnTheVersionWhoseReadyHostsAreUnhealthyFailsNamingTheTargetGroups(t *testing.T) {
	// The group runs the version and its hosts signalled ready, but the load balancer never found them healthy
	// (the deploy that launched them failed its wait): the next deploy checks again instead of taking the
	// version as done.
	f := newASG(t, fleet{version: "3", instances: []*asgapi.Instance{instance("i-a", "3")}})
	ready := map[string]string{"i-a": "ready " + fp + " install=1,total=2"}
	h := &health{healthy: [][]string{nil}, states: "web-1: i-a unhealthy (Target.ResponseCodeMismatch)"}
	_, err := withHealth(t, f, ready, h).Run(context.Background(), Request{Group: groupName, Policy: policy("3"),
		Fingerprint: fp, MinHealthyPercent: 100, Timeout: time.Hour, ReadyTimeout: 10 * time.Minute})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, StatusNotServing, rerr.Status)
	assert.Contains(t, err.Error(), "0 of 1 hosts were healthy in every target group within 10m0s")
	assert.Contains(t, err.Error(), "web-1: i-a unhealthy (Target.ResponseCodeMismatch)")
	assert.Greater(t, h.reads, 1, "the health is read until the ready timeout, not once")

	h = &health{healthy: [][]string{nil, nil, {"i-a"}}}
	res, err := withHealth(t, f, ready, h).Run(context.Background(), Request{Group: groupName, Policy: policy("3"),
		Fingerprint: fp, MinHealthyPercent: 100, Timeout: time.Hour, ReadyTimeout: 10 * time.Minute})
	require.NoError(t, err, "the retry succeeds once the host is healthy")
	assert.Contains(t, res.Summary, "healthy in every target group")
	assert.NotContains(t, f.actions(), "StartInstanceRefresh")
}

func TestASuccessfulRefreshStillWaitsForTheNewHostsHealth(t *testing.T) {
	// The group's only host already runs the new version: the refresh replaces nothing and succeeds at once.
	f := newASG(t, fleet{version: "2", instances: []*asgapi.Instance{instance("i-new", "3")}})
	ready := map[string]string{"i-new": "ready " + fp + " install=1,total=2"}
	h := &health{healthy: [][]string{nil}, states: "api-1: i-new initial (Elb.RegistrationInProgress)"}
	_, err := withHealth(t, f, ready, h).Run(context.Background(), Request{Group: groupName, Policy: policy("3"),
		Fingerprint: fp, MinHealthyPercent: 100, Timeout: time.Hour, ReadyTimeout: 5 * time.Minute})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "api-1: i-new initial (Elb.RegistrationInProgress)")
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, f.refreshes(t)[0].Status)
}

func TestAFailedBootOnANewHostRollsTheRefreshBackAndNamesTheReason(t *testing.T) {
	f := newASG(t, fleet{version: "2", instances: []*asgapi.Instance{instance("i-old", "2"), instance("i-new", "3")}})
	signals := map[string]string{
		"i-old": "ready sha256:ffffffffffffffffffffffffffffffff install=1,total=2",
		"i-new": "failed " + fp + " install=1,pull=3,total=4 pull image not found: web@sha256:dead",
	}
	_, lines, err := run(t, f, signals, Request{})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Contains(t, f.actions(), "RollbackInstanceRefresh",
		"a failed boot rolls back at once, before Auto Scaling's health checks time out")
	assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, rerr.Status)
	assert.Contains(t, err.Error(), "host i-new failed its boot at step pull: image not found")
	assert.Contains(t, err.Error(), "the fleet still runs the previous version")
	assert.Equal(t, "2", f.version(t))
	assert.Contains(t, strings.Join(lines, "\n"), "rolling back instance refresh "+rerr.RefreshID)
}

func TestAnEarlierAttemptsFailedHostDoesNotRollBackTheRerun(t *testing.T) {
	// The earlier attempt's host was terminated by its rollback: its failed signal is still in the store.
	f := newASG(t, fleet{version: "2", instances: []*asgapi.Instance{instance("i-old", "2")}})
	signals := map[string]string{"i-gone": "failed " + fp + " - pull timeout"}
	_, _, err := run(t, f, signals, Request{})
	require.NoError(t, err)
	assert.NotContains(t, f.actions(), "RollbackInstanceRefresh")
}

func TestARefreshPastItsDeadlineIsRolledBack(t *testing.T) {
	script := make([]string, 50)
	for i := range script {
		script[i] = asgapi.StatusInProgress
	}
	f := newASG(t, fleet{version: "2", script: script})
	_, _, err := run(t, f, nil, Request{Timeout: 5 * time.Minute})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Contains(t, f.actions(), "RollbackInstanceRefresh")
	assert.Contains(t, err.Error(), "the new hosts were not all in service after 5m0s")
}

func TestAutoScalingsOwnRollbackFailsTheDeployWithItsReason(t *testing.T) {
	// The new host never passes its ELB health checks and signals nothing: Auto Scaling fails the refresh and,
	// with auto rollback, rolls it back by itself.
	f := newASG(t, fleet{version: "2", instances: []*asgapi.Instance{instance("i-old", "2")},
		boot: bootAs("failed health timeout: web did not answer")})
	_, _, err := run(t, f, nil, Request{})
	require.Error(t, err)
	assert.NotContains(t, f.actions(), "RollbackInstanceRefresh", "Auto Scaling rolled back, not the rollout")
	refresh := f.refreshes(t)[0]
	require.NotNil(t, refresh.RollbackDetails)
	assert.Contains(t, err.Error(), "Auto Scaling: "+aws.ToString(refresh.RollbackDetails.RollbackReason))
	assert.Contains(t, err.Error(), "Auto Scaling: "+aws.ToString(refresh.StatusReason))
	assert.Contains(t, err.Error(), "ended RollbackSuccessful")
}

func TestARefreshOfAnotherVersionIsCancelledFirst(t *testing.T) {
	f := newASG(t, fleet{version: "2", underway: "9",
		script: []string{asgapi.StatusInProgress, asgapi.StatusInProgress, asgapi.StatusInProgress}})
	_, _, err := run(t, f, nil, Request{})
	require.NoError(t, err)
	assert.Contains(t, f.actions(), "CancelInstanceRefresh")
	refreshes := f.refreshes(t)
	require.Len(t, refreshes, 2)
	assert.Equal(t, "3", Version(refreshes[0].DesiredConfiguration.MixedInstancesPolicy))
	assert.Equal(t, types.InstanceRefreshStatusCancelled, refreshes[1].Status)
}

func TestARefreshOfThisVersionUnderWayIsFollowedNotRestarted(t *testing.T) {
	f := newASG(t, fleet{version: "2", underway: "3",
		script: []string{asgapi.StatusInProgress, asgapi.StatusSuccessful}})
	res, _, err := run(t, f, nil, Request{})
	require.NoError(t, err)
	assert.Equal(t, f.underway, res.RefreshID)
	assert.NotContains(t, f.actions(), "StartInstanceRefresh")
	assert.NotContains(t, f.actions(), "CancelInstanceRefresh")
}

func TestAnUnnumberedVersionIsRefused(t *testing.T) {
	for _, v := range []string{"$Latest", "$Default", ""} {
		_, _, err := run(t, newASG(t, fleet{version: "2"}), nil, Request{Policy: policy(v)})
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

func firstLaunch(t *testing.T, a *asg, signals map[string]string) (Result, error) {
	t.Helper()
	clock := time.Unix(0, 0)
	r := &Rollout{API: a.client, Poll: time.Nanosecond,
		Now:     func() time.Time { clock = clock.Add(time.Minute); return clock },
		Signals: func(context.Context) (map[string]string, error) { return signals, nil }}
	return r.WaitFirstLaunch(context.Background(), FirstLaunch{Group: groupName, Version: "1", Fingerprint: fp,
		Min: 2, Timeout: 10 * time.Minute})
}

func TestANewGroupWaitsForItsMinimumOfReadyHosts(t *testing.T) {
	f := newASG(t, fleet{version: "1", instances: []*asgapi.Instance{instance("i-a", "1"), instance("i-b", "1")}})
	ready := "ready " + fp + " install=1,total=2"
	res, err := firstLaunch(t, f, map[string]string{"i-a": ready, "i-b": ready})
	require.NoError(t, err)
	assert.Contains(t, res.Summary, "2 host(s) ready")

	_, err = firstLaunch(t, f, map[string]string{"i-a": ready, "i-b": "booting " + fp})
	require.Error(t, err, "one host short of the minimum until the deadline")
	assert.Contains(t, err.Error(), "1 of 2 hosts signalled ready within 10m0s")
}

func TestANewGroupsFailedBootFailsTheDeployNamingTheStep(t *testing.T) {
	f := newASG(t, fleet{version: "1", instances: []*asgapi.Instance{instance("i-a", "1"), instance("i-b", "1")}})
	_, err := firstLaunch(t, f, map[string]string{"i-a": "booting " + fp,
		"i-b": "failed " + fp + " install=3,total=9 pull manifest unknown"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host i-b failed its boot at step pull: manifest unknown")
	assert.Contains(t, err.Error(), "there is no previous version")
}

func TestANewGroupsHostsServeOnlyOnceHealthyInEveryTargetGroup(t *testing.T) {
	f := newASG(t, fleet{version: "1", instances: []*asgapi.Instance{instance("i-a", "1"), instance("i-b", "1")}})
	ready := "ready " + fp + " install=1,total=2"
	signals := map[string]string{"i-a": ready, "i-b": ready}
	h := &health{healthy: [][]string{nil, {"i-a"}, {"i-a", "i-b"}}}
	res, err := withHealth(t, f, signals, h).WaitFirstLaunch(context.Background(), FirstLaunch{Group: groupName,
		Version: "1", Fingerprint: fp, Min: 2, Timeout: 10 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, 3, h.reads, "ready hosts are not yet in service: the wait lasts until both are healthy")
	assert.Contains(t, res.Summary, "2 host(s) ready on launch template version 1, healthy in every target group")

	h = &health{healthy: [][]string{{"i-a"}}, states: "web-1: i-b unhealthy (Target.Timeout)"}
	_, err = withHealth(t, f, signals, h).WaitFirstLaunch(context.Background(), FirstLaunch{Group: groupName,
		Version: "1", Fingerprint: fp, Min: 2, Timeout: 10 * time.Minute})
	var rerr *Error
	require.ErrorAs(t, err, &rerr)
	assert.Equal(t, StatusFirstLaunchTimedOut, rerr.Status)
	assert.Contains(t, err.Error(), "1 of 2 hosts were healthy in every target group within 10m0s "+
		"(web-1: i-b unhealthy (Target.Timeout))")
}

func TestAGroupOnAnotherTemplateWithTheSameVersionNumberIsRefreshed(t *testing.T) {
	f := newASG(t, fleet{version: "3", template: otherTemplateID})
	_, _, err := run(t, f, nil, Request{})
	require.NoError(t, err)
	assert.Contains(t, f.actions(), "StartInstanceRefresh", "a version number names a version of one template only")
}

func TestARefreshThatCannotBeRolledBackFailsTheDeploy(t *testing.T) {
	// The group's launch template takes its AMI from a Systems Manager parameter: Auto Scaling refuses the
	// rollback (IrreversibleInstanceRefresh).
	f := newASG(t, fleet{version: "2", ssmImage: true,
		instances: []*asgapi.Instance{instance("i-old", "2"), instance("i-new", "3")}})
	signals := map[string]string{"i-new": "failed " + fp + " - pull denied"}
	_, _, err := run(t, f, signals, Request{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "IrreversibleInstanceRefresh")
}

func TestARefreshThatEndsBeforeItsRollbackIsStillAFailedDeploy(t *testing.T) {
	// Auto Scaling finished the refresh between the read that saw the failed host and the rollback call, so the
	// rollback is refused with ActiveInstanceRefreshNotFound.
	f := newASG(t, fleet{version: "2", instances: []*asgapi.Instance{instance("i-old", "2"), instance("i-new", "3")}})
	f.srv.Between = func(st *asgapi.State, action string) error {
		for i := 0; action == "RollbackInstanceRefresh" && st.Active(groupName) != nil; i++ {
			if i == 20 {
				return errors.New("the refresh never ended")
			}
			if err := st.Step(groupName, nil); err != nil {
				return err
			}
		}
		return nil
	}
	signals := map[string]string{"i-new": "failed " + fp + " - health /ready answered 503"}
	_, _, err := run(t, f, signals, Request{})
	require.Error(t, err, "a host of the new version failed: never a success")
	assert.Contains(t, err.Error(), "the refresh completed before the rollback began")
	assert.Contains(t, f.actions(), "RollbackInstanceRefresh")
}

func TestAProgramWithoutAnAutoScalingClientSaysSo(t *testing.T) {
	_, err := Identity{Region: "ap-southeast-1"}.Client(context.Background(), nil)
	require.ErrorIs(t, err, ErrNoClient)
}
