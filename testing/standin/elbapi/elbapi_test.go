package elbapi_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"appstack/components/readiness"
	"appstack/testing/standin/asgapi"
	"appstack/testing/standin/elbapi"
)

func TestAFleetsHostsAreTargetsOfItsGroupsTargetGroups(t *testing.T) {
	const web = "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/web-1/0123456789abcdef"
	tg := &elbapi.TargetGroup{ARN: web, Name: "web-1", Port: 8080}
	door := &elbapi.State{TargetGroups: map[string]*elbapi.TargetGroup{web: tg},
		Rules: map[string]*elbapi.Rule{"warm": {ID: "warm", Hosts: []string{"web-1" + elbapi.WarmSuffix},
			TargetGroup: web}}}
	fleet := &asgapi.State{Groups: map[string]*asgapi.Group{"g": {Name: "g", TargetGroupARNs: []string{web},
		Instances: []*asgapi.Instance{
			{ID: "i-ready", Lifecycle: asgapi.InService, Health: asgapi.Healthy, Outcome: readiness.Ready},
			{ID: "i-failed", Lifecycle: asgapi.InService, Health: asgapi.Unhealthy, Outcome: "failed pull denied"},
			{ID: "i-new", Lifecycle: asgapi.Pending, Health: asgapi.Healthy, Outcome: readiness.Ready},
		}}}}
	for id, want := range map[string]string{"i-ready": "healthy ", "i-failed": "unhealthy Target.ResponseCodeMismatch",
		"i-new": "initial Elb.RegistrationInProgress"} {
		state, reason, ok := door.FleetHealth(fleet, tg, id, 8080)
		assert.True(t, ok, id)
		assert.Equal(t, want, state+" "+reason, id)
	}
	_, _, ok := door.FleetHealth(fleet, tg, "i-ready", 9090)
	assert.False(t, ok, "registered on the group's port only")
	_, _, ok = door.FleetHealth(fleet, tg, "i-other", 8080)
	assert.False(t, ok, "not a host of the group")

	door.Rules = nil
	state, reason, _ := door.FleetHealth(fleet, tg, "i-ready", 8080)
	assert.Equal(t, "unused Target.NotInUse", state+" "+reason, "no rule forwards to the group: no checks")
}
