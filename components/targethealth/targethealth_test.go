package targethealth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/rollout"
	"appstack/components/targethealth"
)

// fake answers DescribeTargetHealth from a script of states per target group, the last one repeated.
type fake struct {
	states map[string][]types.TargetHealth
	calls  []string
}

func (f *fake) DescribeTargetHealth(_ context.Context, in *elb.DescribeTargetHealthInput,
	_ ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error) {
	arn := aws.ToString(in.TargetGroupArn)
	f.calls = append(f.calls, arn+" "+aws.ToString(in.Targets[0].Id))
	list := f.states[arn]
	h := list[0]
	if len(list) > 1 {
		f.states[arn] = list[1:]
	}
	return &elb.DescribeTargetHealthOutput{TargetHealthDescriptions: []types.TargetHealthDescription{{
		Target: &types.TargetDescription{Id: in.Targets[0].Id, Port: in.Targets[0].Port}, TargetHealth: &h}}}, nil
}

var (
	registering = types.TargetHealth{State: types.TargetHealthStateEnumInitial,
		Reason: types.TargetHealthReasonEnumRegistrationInProgress}
	checking = types.TargetHealth{State: types.TargetHealthStateEnumInitial,
		Reason: types.TargetHealthReasonEnumInitialHealthChecking}
	healthy   = types.TargetHealth{State: types.TargetHealthStateEnumHealthy}
	unhealthy = types.TargetHealth{State: types.TargetHealthStateEnumUnhealthy,
		Reason: types.TargetHealthReasonEnumResponseCodeMismatch}
)

const (
	web = "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/web-1/0123456789abcdef"
	api = "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/api-1/0123456789abcdef"
)

func TestAWaitLastsThroughRegistrationUntilHealthyInEveryGroup(t *testing.T) {
	f := &fake{states: map[string][]types.TargetHealth{
		web: {registering, registering, registering, checking, healthy},
		api: {healthy},
	}}
	var lines []string
	err := targethealth.Wait(t.Context(), f, "i-0new", []targethealth.Target{{web, 8080}, {api, 8081}}, time.Second,
		time.Millisecond, func(l string) { lines = append(lines, l) })
	require.NoError(t, err)
	assert.Len(t, f.calls, 10, "five reads of each group: until the slower one is healthy")
	assert.Contains(t, lines, "target i-0new in web-1: initial (Elb.RegistrationInProgress)")
	assert.Contains(t, lines, "target i-0new in web-1: healthy")
}

func TestAWaitFailsNamingTheStateOfATargetThatNeverTurnsHealthy(t *testing.T) {
	f := &fake{states: map[string][]types.TargetHealth{web: {registering, unhealthy}, api: {healthy}}}
	err := targethealth.Wait(t.Context(), f, "i-0new", []targethealth.Target{{web, 8080}, {api, 8081}},
		50*time.Millisecond, time.Millisecond, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "web-1: unhealthy (Target.ResponseCodeMismatch)")
	assert.Contains(t, err.Error(), "api-1: healthy")
	assert.Contains(t, err.Error(), "the previous target stays registered")
}

func TestAWaitWithoutAClientFails(t *testing.T) {
	err := targethealth.Wait(t.Context(), nil, "i-0new", []targethealth.Target{{web, 8080}}, time.Second, 0, nil)
	assert.ErrorIs(t, err, targethealth.ErrNoClient)
	_, err = targethealth.NewClient(nil).Build(t.Context(), rollout.Identity{Region: "ap-southeast-1"})
	assert.ErrorIs(t, err, targethealth.ErrNoClient, "a program that passed no client builds none")
}

// fleet answers DescribeTargetHealth for several hosts at once: their states by target group.
type fleet map[string]map[string]types.TargetHealth

func (f fleet) DescribeTargetHealth(_ context.Context, in *elb.DescribeTargetHealthInput,
	_ ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error) {
	out := &elb.DescribeTargetHealthOutput{}
	for _, tgt := range in.Targets {
		h, ok := f[aws.ToString(in.TargetGroupArn)][aws.ToString(tgt.Id)]
		if !ok {
			h = types.TargetHealth{State: types.TargetHealthStateEnumUnused,
				Reason: types.TargetHealthReasonEnumNotRegistered}
		}
		if tgt.Port != nil {
			return nil, errors.New("a fleet's hosts are asked for on the group's own port")
		}
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, types.TargetHealthDescription{
			Target: &types.TargetDescription{Id: tgt.Id, Port: aws.Int32(8080)}, TargetHealth: &h})
	}
	return out, nil
}

func TestHostsAreHealthyOnlyWhenHealthyInEveryGroupAndTheOthersAreNamed(t *testing.T) {
	f := fleet{
		web: {"i-a": healthy, "i-b": healthy, "i-c": checking},
		api: {"i-a": healthy, "i-b": unhealthy},
	}
	ok, states, err := targethealth.Hosts(t.Context(), f, []string{"i-a", "i-b", "i-c"},
		[]targethealth.Target{{GroupArn: web}, {GroupArn: api}})
	require.NoError(t, err)
	assert.Equal(t, []string{"i-a"}, ok)
	assert.Equal(t, "web-1: i-c initial (Elb.InitialHealthChecking); "+
		"api-1: i-b unhealthy (Target.ResponseCodeMismatch), i-c unused (Target.NotRegistered)", states)

	_, _, err = targethealth.Hosts(t.Context(), nil, []string{"i-a"}, nil)
	assert.ErrorIs(t, err, targethealth.ErrNoClient)
}
