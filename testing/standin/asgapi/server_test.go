package asgapi_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/testing/standin/asgapi"
	"appstack/testing/standin/ssmstore"
)

const group = "appstack-staging-app"

// fleet is a stand-in fleet in files, served over HTTP, and the real SDK client pointed at it the way the
// rollout controller is: through AWS_ENDPOINT_URL_AUTO_SCALING.
type fleet struct {
	store  *asgapi.Store
	params *ssmstore.Store
	srv    *asgapi.Server
	client *autoscaling.Client
	lt     string
}

func userData(fingerprint string) string {
	return base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\nready_prefix='/appstack/staging/app/ready'\n" +
		"fingerprint='sha256:" + strings.Repeat(fingerprint, 32) + "'\n"))
}

// newFleet creates a template with versions 1 and 2 and a group of two instances on version 1 (with the
// instance maintenance policy 100/200), whose boots use the first outcomes.
func newFleet(t *testing.T, outcomes ...string) *fleet {
	dir := t.TempDir()
	boots := filepath.Join(dir, "boots")
	require.NoError(t, os.WriteFile(boots, []byte(strings.Join(outcomes, "\n")), 0o600))
	f := &fleet{params: &ssmstore.Store{File: filepath.Join(dir, "ssm.json"), Boots: boots}}
	f.store = &asgapi.Store{File: filepath.Join(dir, "fleet.json"), Boot: f.params}
	f.srv = &asgapi.Server{Store: f.store}
	hundred, twoHundred := 100, 200
	require.NoError(t, f.store.Update(func(st *asgapi.State) error {
		tmpl := st.CreateTemplate("app-fleet-template", asgapi.TemplateVersion{UserData: userData("a")})
		f.lt = tmpl.ID
		if _, err := st.UpdateTemplate(tmpl.ID, asgapi.TemplateVersion{UserData: userData("b")}, true, true); err != nil {
			return err
		}
		return st.CreateGroup(&asgapi.Group{Name: group, Region: "ap-southeast-1", Min: 2, Max: 6, Desired: 2,
			ARN: "arn:aws:autoscaling:ap-southeast-1:123456789012:autoScalingGroup:1:autoScalingGroupName/" + group,
			Config: asgapi.Config{TemplateID: tmpl.ID, TemplateName: tmpl.Name, Version: "1", Mixed: true,
				InstanceTypes: []string{"t3.small", "t3a.small"}, OnDemandBase: 2},
			VPCZoneIdentifier: "subnet-a,subnet-b", HealthCheckType: "ELB", HealthCheckGracePeriod: 300,
			MinHealthy: &hundred, MaxHealthy: &twoHundred}, f.params)
	}))
	srv := httptest.NewServer(f.srv)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_AUTO_SCALING", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASTANDINTEST00000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "standin-secret")
	t.Setenv("AWS_REGION", "ap-southeast-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	cfg, err := config.LoadDefaultConfig(context.Background())
	require.NoError(t, err)
	f.client = autoscaling.NewFromConfig(cfg)
	return f
}

// start starts the refresh the rollout controller starts: the template's version 2 as the desired
// configuration, 100/200, auto rollback, skip matching.
func (f *fleet) start(t *testing.T) string {
	t.Helper()
	out, err := f.client.StartInstanceRefresh(context.Background(), f.startInput())
	require.NoError(t, err)
	require.NotEmpty(t, aws.ToString(out.InstanceRefreshId))
	return aws.ToString(out.InstanceRefreshId)
}

func (f *fleet) startInput() *autoscaling.StartInstanceRefreshInput {
	return &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String(group),
		Strategy: types.RefreshStrategyRolling,
		DesiredConfiguration: &types.DesiredConfiguration{MixedInstancesPolicy: &types.MixedInstancesPolicy{
			LaunchTemplate: &types.LaunchTemplate{
				LaunchTemplateSpecification: &types.LaunchTemplateSpecification{LaunchTemplateId: aws.String(f.lt),
					Version: aws.String("2")},
				Overrides: []types.LaunchTemplateOverrides{{InstanceType: aws.String("t3.small")},
					{InstanceType: aws.String("t3a.small")}}}}},
		Preferences: &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(100),
			MaxHealthyPercentage: aws.Int32(200), AutoRollback: aws.Bool(true), SkipMatching: aws.Bool(true),
			ScaleInProtectedInstances: types.ScaleInProtectedInstancesRefresh,
			StandbyInstances:          types.StandbyInstancesTerminate, InstanceWarmup: aws.Int32(60)}}
}

// poll describes the refresh until it ends, and returns the statuses it went through.
func (f *fleet) poll(t *testing.T, id string) (types.InstanceRefresh, []types.InstanceRefreshStatus) {
	t.Helper()
	var seen []types.InstanceRefreshStatus
	for range 20 {
		out, err := f.client.DescribeInstanceRefreshes(context.Background(), &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(group), InstanceRefreshIds: []string{id}})
		require.NoError(t, err)
		require.Len(t, out.InstanceRefreshes, 1)
		r := out.InstanceRefreshes[0]
		seen = append(seen, r.Status)
		switch r.Status {
		case types.InstanceRefreshStatusSuccessful, types.InstanceRefreshStatusFailed,
			types.InstanceRefreshStatusCancelled, types.InstanceRefreshStatusRollbackSuccessful,
			types.InstanceRefreshStatusRollbackFailed:
			return r, seen
		}
	}
	t.Fatalf("refresh %s never ended: %v", id, seen)
	return types.InstanceRefresh{}, nil
}

func (f *fleet) group(t *testing.T) types.AutoScalingGroup {
	t.Helper()
	out, err := f.client.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{group}})
	require.NoError(t, err)
	require.Len(t, out.AutoScalingGroups, 1)
	return out.AutoScalingGroups[0]
}

func (f *fleet) events(t *testing.T) []asgapi.Event {
	t.Helper()
	st, err := f.store.Load()
	require.NoError(t, err)
	return st.EventsOf(group)
}

func versionOf(g types.AutoScalingGroup) string {
	return aws.ToString(g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.Version)
}

func TestDescribeAutoScalingGroupsAsTheSDKReadsIt(t *testing.T) {
	f := newFleet(t)
	g := f.group(t)
	assert.Equal(t, group, aws.ToString(g.AutoScalingGroupName))
	assert.Equal(t, int32(2), aws.ToInt32(g.DesiredCapacity))
	assert.Equal(t, int32(2), aws.ToInt32(g.MinSize))
	assert.Equal(t, int32(6), aws.ToInt32(g.MaxSize))
	assert.Equal(t, "ELB", aws.ToString(g.HealthCheckType))
	assert.Equal(t, "1", versionOf(g))
	assert.Equal(t, f.lt, aws.ToString(g.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.LaunchTemplateId))
	assert.Equal(t, "t3a.small", aws.ToString(g.MixedInstancesPolicy.LaunchTemplate.Overrides[1].InstanceType))
	assert.Equal(t, int32(2), aws.ToInt32(g.MixedInstancesPolicy.InstancesDistribution.OnDemandBaseCapacity))
	assert.Equal(t, int32(100), aws.ToInt32(g.InstanceMaintenancePolicy.MinHealthyPercentage))
	assert.Equal(t, int32(200), aws.ToInt32(g.InstanceMaintenancePolicy.MaxHealthyPercentage))
	require.Len(t, g.Instances, 2)
	for _, i := range g.Instances {
		assert.Equal(t, types.LifecycleStateInService, i.LifecycleState)
		assert.Equal(t, "Healthy", aws.ToString(i.HealthStatus))
		assert.Equal(t, "1", aws.ToString(i.LaunchTemplate.Version))
		assert.True(t, strings.HasPrefix(aws.ToString(i.InstanceId), "i-0"))
	}
	assert.False(t, g.CreatedTime.IsZero())

	out, err := f.client.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{"no-such-group"}})
	require.NoError(t, err, "an unknown name is no error: the list is empty")
	assert.Empty(t, out.AutoScalingGroups)
}

func TestRollingRefreshLaunchesNewCapacityBeforeOldGoes(t *testing.T) {
	f := newFleet(t)
	before := f.events(t)
	id := f.start(t)
	r, seen := f.poll(t, id)
	assert.Equal(t, types.InstanceRefreshStatusSuccessful, r.Status, "statuses: %v", seen)
	assert.Equal(t, int32(100), aws.ToInt32(r.PercentageComplete))
	assert.Equal(t, int32(0), aws.ToInt32(r.InstancesToUpdate))
	assert.True(t, aws.ToBool(r.Preferences.AutoRollback))
	assert.Equal(t, int32(200), aws.ToInt32(r.Preferences.MaxHealthyPercentage))
	assert.Equal(t, "2", aws.ToString(r.DesiredConfiguration.MixedInstancesPolicy.LaunchTemplate.
		LaunchTemplateSpecification.Version))
	assert.NotNil(t, r.EndTime)

	g := f.group(t)
	assert.Equal(t, "2", versionOf(g), "a successful refresh gives the group its desired configuration")
	require.Len(t, g.Instances, 2)
	for _, i := range g.Instances {
		assert.Equal(t, "2", aws.ToString(i.LaunchTemplate.Version))
	}

	events := f.events(t)[len(before):]
	first := func(op, version string) int {
		for i, e := range events {
			if e.Op == op && e.Version == version {
				return i
			}
		}
		return -1
	}
	last := func(op, version string) int {
		n := -1
		for i, e := range events {
			if e.Op == op && e.Version == version {
				n = i
			}
		}
		return n
	}
	require.GreaterOrEqual(t, first(asgapi.OpTerminate, "1"), 0, "events: %+v", events)
	assert.Less(t, last(asgapi.OpLaunch, "2"), first(asgapi.OpTerminate, "1"), "new capacity launches first")
	assert.Less(t, last(asgapi.OpHealthy, "2"), first(asgapi.OpTerminate, "1"),
		"every new instance is healthy before an old one goes")
	assert.Equal(t, 2, asgapi.FewestHealthy(f.events(t), before[len(before)-1].Seq),
		"the group never has fewer healthy instances than its desired capacity (MinHealthyPercentage 100)")

	// The new hosts booted from version 2's user data: their signals are in the parameter store.
	st, err := f.params.Read()
	require.NoError(t, err)
	for _, i := range g.Instances {
		assert.Contains(t, st.Parameters["/appstack/staging/app/ready/"+aws.ToString(i.InstanceId)],
			"ready sha256:"+strings.Repeat("b", 32))
	}

	t.Run("skip matching: a refresh to the version the group runs replaces nothing", func(t *testing.T) {
		n := len(f.events(t))
		r, _ := f.poll(t, f.start(t))
		assert.Equal(t, types.InstanceRefreshStatusSuccessful, r.Status)
		assert.Len(t, f.events(t), n, "no launch, no termination")
	})
}

func TestFailingBootRollsTheRefreshBack(t *testing.T) {
	// The group's two hosts booted ready; of the two new ones, the second fails its boot.
	f := newFleet(t, "ready", "ready", "ready", "failed health timeout: web did not answer")
	before := f.events(t)
	id := f.start(t)
	r, seen := f.poll(t, id)
	assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, r.Status, "statuses: %v", seen)
	assert.Contains(t, seen, types.InstanceRefreshStatusRollbackInProgress)
	assert.Contains(t, aws.ToString(r.StatusReason), "failed its ELB health checks")
	require.NotNil(t, r.RollbackDetails)
	assert.NotEmpty(t, aws.ToString(r.RollbackDetails.RollbackReason))

	g := f.group(t)
	assert.Equal(t, "1", versionOf(g), "the group keeps the version it ran")
	require.Len(t, g.Instances, 2)
	for _, i := range g.Instances {
		assert.Equal(t, "1", aws.ToString(i.LaunchTemplate.Version), "the old hosts were never terminated")
	}
	assert.Equal(t, 2, asgapi.FewestHealthy(f.events(t), before[len(before)-1].Seq),
		"the group never has fewer healthy instances than its desired capacity, rollback included")
	var unhealthy []asgapi.Event
	for _, e := range f.events(t) {
		if e.Op == asgapi.OpUnhealthy {
			unhealthy = append(unhealthy, e)
		}
	}
	require.Len(t, unhealthy, 1, "the host whose boot failed, once its grace period ran out")
	assert.Equal(t, "2", unhealthy[0].Version)
	assert.Contains(t, unhealthy[0].Reason, "timeout: web did not answer")

	t.Run("a failed boot's signal is there at once, before the group acts on its health", func(t *testing.T) {
		f := newFleet(t, "ready", "ready", "failed pull docker pull web failed")
		f.start(t)
		out, err := f.client.DescribeInstanceRefreshes(context.Background(),
			&autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(group)})
		require.NoError(t, err)
		assert.Equal(t, types.InstanceRefreshStatusInProgress, out.InstanceRefreshes[0].Status)
		st, err := f.params.Read()
		require.NoError(t, err)
		var signals []string
		for _, i := range f.group(t).Instances {
			if aws.ToString(i.LaunchTemplate.Version) == "2" {
				assert.Equal(t, types.LifecycleStatePending, i.LifecycleState)
				signals = append(signals, st.Parameters["/appstack/staging/app/ready/"+aws.ToString(i.InstanceId)])
			}
		}
		require.Len(t, signals, 2, "both new hosts are launched")
		assert.Contains(t, signals[0], "failed sha256:"+strings.Repeat("b", 32), "the first new host used the failed outcome")
		assert.Contains(t, signals[0], "pull docker pull web failed")
	})
	t.Run("without auto rollback the refresh fails and the group keeps its version", func(t *testing.T) {
		f := newFleet(t, "ready", "ready", "failed pull docker pull web failed")
		in := f.startInput()
		in.Preferences.AutoRollback = aws.Bool(false)
		out, err := f.client.StartInstanceRefresh(context.Background(), in)
		require.NoError(t, err)
		r, _ := f.poll(t, aws.ToString(out.InstanceRefreshId))
		assert.Equal(t, types.InstanceRefreshStatusFailed, r.Status)
		assert.Equal(t, "1", versionOf(f.group(t)))
	})
}

func TestRefreshRefusalsAsTheServiceGivesThem(t *testing.T) {
	ctx := context.Background()
	t.Run("a second refresh while one is active is InstanceRefreshInProgress", func(t *testing.T) {
		f := newFleet(t)
		f.start(t)
		_, err := f.client.StartInstanceRefresh(ctx, f.startInput())
		var fault *types.InstanceRefreshInProgressFault
		require.ErrorAs(t, err, &fault)
		assert.Contains(t, fault.ErrorMessage(), "already in progress")
	})
	t.Run("auto rollback without a desired configuration is a ValidationError", func(t *testing.T) {
		f := newFleet(t)
		in := f.startInput()
		in.DesiredConfiguration = nil
		_, err := f.client.StartInstanceRefresh(ctx, in)
		var api smithy.APIError
		require.ErrorAs(t, err, &api)
		assert.Equal(t, "ValidationError", api.ErrorCode())
		assert.Contains(t, api.ErrorMessage(), "AutoRollback")
	})
	t.Run("healthy percentages more than 100 apart are a ValidationError", func(t *testing.T) {
		f := newFleet(t)
		in := f.startInput()
		in.Preferences.MinHealthyPercentage = aws.Int32(90)
		_, err := f.client.StartInstanceRefresh(ctx, in)
		var api smithy.APIError
		require.ErrorAs(t, err, &api)
		assert.Equal(t, "ValidationError", api.ErrorCode())
	})
	t.Run("a desired version that does not exist is a ValidationError", func(t *testing.T) {
		f := newFleet(t)
		in := f.startInput()
		in.DesiredConfiguration.MixedInstancesPolicy.LaunchTemplate.LaunchTemplateSpecification.Version = aws.String("9")
		_, err := f.client.StartInstanceRefresh(ctx, in)
		var api smithy.APIError
		require.ErrorAs(t, err, &api)
		assert.Equal(t, "ValidationError", api.ErrorCode())
	})
	t.Run("cancel and rollback without an active refresh are ActiveInstanceRefreshNotFound", func(t *testing.T) {
		f := newFleet(t)
		_, err := f.client.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		var notFound *types.ActiveInstanceRefreshNotFoundFault
		require.ErrorAs(t, err, &notFound)
		_, err = f.client.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		require.ErrorAs(t, err, &notFound)
	})
	t.Run("a rollback of a refresh without a desired configuration is IrreversibleInstanceRefresh", func(t *testing.T) {
		f := newFleet(t)
		in := f.startInput()
		in.DesiredConfiguration, in.Preferences.AutoRollback, in.Preferences.SkipMatching = nil, nil, nil
		out, err := f.client.StartInstanceRefresh(ctx, in)
		require.NoError(t, err)
		_, err = f.client.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(group), InstanceRefreshIds: []string{aws.ToString(out.InstanceRefreshId)}})
		require.NoError(t, err)
		_, err = f.client.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		var irreversible *types.IrreversibleInstanceRefreshFault
		require.ErrorAs(t, err, &irreversible)
	})
	t.Run("a rollback to an AMI from a Systems Manager parameter is IrreversibleInstanceRefresh", func(t *testing.T) {
		f := newFleet(t)
		require.NoError(t, f.store.Update(func(st *asgapi.State) error {
			st.Templates[f.lt].Versions[0].ImageID = "resolve:ssm:/aws/service/ami-amazon-linux-latest/" +
				"al2023-ami-kernel-default-x86_64"
			return nil
		}))
		id := f.start(t)
		_, err := f.client.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(group), InstanceRefreshIds: []string{id}})
		require.NoError(t, err)
		_, err = f.client.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		var irreversible *types.IrreversibleInstanceRefreshFault
		require.ErrorAs(t, err, &irreversible)
		assert.Contains(t, irreversible.ErrorMessage(), "Systems Manager parameter")
	})
	t.Run("an unsigned request is refused", func(t *testing.T) {
		f := newFleet(t)
		resp, err := http.PostForm(os.Getenv("AWS_ENDPOINT_URL_AUTO_SCALING"),
			url.Values{"Action": {"DescribeAutoScalingGroups"}, "Version": {"2011-01-01"}})
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
		assert.Contains(t, string(body), "<Code>MissingAuthenticationToken</Code>")
		assert.Empty(t, f.srv.Actions(), "nothing was answered")
	})
}

func TestManualRollbackAndCancel(t *testing.T) {
	ctx := context.Background()
	t.Run("a rollback in progress replaces the new hosts with the old version", func(t *testing.T) {
		f := newFleet(t)
		id := f.start(t)
		// One step: the new hosts are launched, not yet healthy.
		_, err := f.client.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(group)})
		require.NoError(t, err)
		out, err := f.client.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		require.NoError(t, err)
		assert.Equal(t, id, aws.ToString(out.InstanceRefreshId))
		r, seen := f.poll(t, id)
		assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, r.Status, "statuses: %v", seen)
		g := f.group(t)
		assert.Equal(t, "1", versionOf(g))
		for _, i := range g.Instances {
			assert.Equal(t, "1", aws.ToString(i.LaunchTemplate.Version))
		}
	})
	t.Run("a cancelled refresh ends Cancelled and the group keeps its configuration", func(t *testing.T) {
		f := newFleet(t)
		id := f.start(t)
		_, err := f.client.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		require.NoError(t, err)
		r, _ := f.poll(t, id)
		assert.Equal(t, types.InstanceRefreshStatusCancelled, r.Status)
		assert.Equal(t, "1", versionOf(f.group(t)))
		// A new refresh may start once the cancelled one has ended.
		f.start(t)
	})
}

func TestUpdateGroupWhileARefreshIsActive(t *testing.T) {
	f := newFleet(t)
	f.start(t)
	err := f.store.Update(func(st *asgapi.State) error {
		next := *st.Groups[group]
		next.Config.Version = "2"
		return st.UpdateGroup(&next, nil)
	})
	var api *asgapi.APIError
	require.True(t, errors.As(err, &api), "%v", err)
	assert.Equal(t, "ValidationError", api.Code)
	assert.Contains(t, api.Message, "active instance refresh with a desired configuration")
}

func TestTheTestHooks(t *testing.T) {
	ctx := context.Background()
	describe := func(f *fleet, id string) types.InstanceRefresh {
		out, err := f.client.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(group), InstanceRefreshIds: []string{id}})
		require.NoError(t, err)
		require.Len(t, out.InstanceRefreshes, 1)
		return out.InstanceRefreshes[0]
	}
	t.Run("a scripted refresh reports its statuses in turn and writes its configuration on success", func(t *testing.T) {
		f := newFleet(t)
		require.NoError(t, f.store.Update(func(st *asgapi.State) error {
			st.Groups[group].Script = []string{asgapi.StatusInProgress, asgapi.StatusInProgress,
				asgapi.StatusSuccessful}
			return nil
		}))
		id := f.start(t)
		var seen []types.InstanceRefreshStatus
		for range 3 {
			seen = append(seen, describe(f, id).Status)
		}
		assert.Equal(t, []types.InstanceRefreshStatus{"InProgress", "InProgress", "Successful"}, seen)
		assert.NotNil(t, describe(f, id).EndTime)
		assert.Equal(t, "2", versionOf(f.group(t)))
		st, err := f.store.Load()
		require.NoError(t, err)
		assert.Equal(t, "Rolling", st.Refreshes[0].Strategy, "the strategy as the request named it")
	})
	t.Run("a rollback ends the script: the simulation winds the refresh down", func(t *testing.T) {
		f := newFleet(t)
		require.NoError(t, f.store.Update(func(st *asgapi.State) error {
			st.Groups[group].Script = []string{asgapi.StatusInProgress, asgapi.StatusInProgress}
			return nil
		}))
		id := f.start(t)
		assert.Equal(t, types.InstanceRefreshStatusInProgress, describe(f, id).Status)
		_, err := f.client.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		require.NoError(t, err)
		r, _ := f.poll(t, id)
		assert.Equal(t, types.InstanceRefreshStatusRollbackSuccessful, r.Status)
		assert.Equal(t, "1", versionOf(f.group(t)))
	})
	t.Run("Between changes the fleet before an action is answered", func(t *testing.T) {
		f := newFleet(t)
		id := f.start(t)
		var seen []string
		f.srv.Between = func(st *asgapi.State, action string) error {
			seen = append(seen, action)
			for i := 0; action == "RollbackInstanceRefresh" && st.Active(group) != nil && i < 20; i++ {
				if err := st.Step(group, nil); err != nil {
					return err
				}
			}
			return nil
		}
		_, err := f.client.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{
			AutoScalingGroupName: aws.String(group)})
		var notFound *types.ActiveInstanceRefreshNotFoundFault
		require.ErrorAs(t, err, &notFound, "the refresh ended before the rollback was answered")
		assert.Equal(t, []string{"RollbackInstanceRefresh"}, seen)
		assert.Equal(t, types.InstanceRefreshStatusSuccessful, describe(f, id).Status)
	})
}
