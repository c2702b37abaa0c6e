package elbapi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/testing/standin/elbapi"
)

func code(t *testing.T, err error) string {
	t.Helper()
	var e *elbapi.Error
	require.True(t, errors.As(err, &e), "an Elastic Load Balancing error: %v", err)
	return e.Code
}

func newState() *elbapi.State {
	return &elbapi.State{TargetGroups: map[string]*elbapi.TargetGroup{}, Rules: map[string]*elbapi.Rule{},
		Hosts: map[string]*elbapi.Host{}}
}

func TestARulePriorityIsUniqueOnItsListener(t *testing.T) {
	st := newState()
	require.NoError(t, st.PutRule(&elbapi.Rule{ID: "r1", Listener: "l1", Priority: 1, TargetGroup: "tg1"}))
	err := st.PutRule(&elbapi.Rule{ID: "r2", Listener: "l1", Priority: 1, TargetGroup: "tg2"})
	require.Error(t, err, "CreateRule on a priority another rule holds")
	assert.Equal(t, "PriorityInUse", code(t, err))
	assert.NotContains(t, st.Rules, "r2", "a refused rule is not recorded")
	assert.NoError(t, st.PutRule(&elbapi.Rule{ID: "r2", Listener: "l2", Priority: 1}), "another listener")
	assert.NoError(t, st.PutRule(&elbapi.Rule{ID: "r1", Listener: "l1", Priority: 1, TargetGroup: "tg3"}),
		"a rule updated on its own priority")
	err = st.PutRule(&elbapi.Rule{ID: "r3", Listener: "l1", Priority: 2})
	require.NoError(t, err)
	err = st.PutRule(&elbapi.Rule{ID: "r3", Listener: "l1", Priority: 1})
	require.Error(t, err, "SetRulePriorities onto a priority another rule holds")
	assert.Equal(t, "PriorityInUse", code(t, err))
	assert.Equal(t, 2, st.Rules["r3"].Priority)
}

func TestATargetGroupInUseIsNotDeleted(t *testing.T) {
	st := newState()
	st.TargetGroups["tg1"] = &elbapi.TargetGroup{ARN: "tg1", Name: "web"}
	require.NoError(t, st.PutRule(&elbapi.Rule{ID: "r1", Listener: "l1", Priority: 1, TargetGroup: "tg1"}))
	err := st.DeleteTargetGroup("tg1", nil)
	require.Error(t, err, "a rule forwards to it")
	assert.Equal(t, "ResourceInUse", code(t, err))
	assert.Contains(t, st.TargetGroups, "tg1")

	delete(st.Rules, "r1")
	err = st.DeleteTargetGroup("tg1", []string{"appstack-fleet-app"})
	require.Error(t, err, "an Auto Scaling group still lists it")
	assert.Equal(t, "ResourceInUse", code(t, err))
	assert.Contains(t, err.Error(), "appstack-fleet-app")

	require.NoError(t, st.DeleteTargetGroup("tg1", nil))
	assert.NotContains(t, st.TargetGroups, "tg1")
}

func TestATargetIsHealthyOnlyOnAPathItsHostAnswers(t *testing.T) {
	t.Setenv("APPSTACK_STANDIN_ELB_REGISTRATION", "0s")
	st := newState()
	registered := time.Now().Add(-time.Minute)
	st.Hosts["i-1"] = &elbapi.Host{Fingerprint: "v1", Ready: true, Ports: []int{8080},
		Paths: map[int][]string{8080: {"/health", "/ready"}}}
	for _, tg := range []*elbapi.TargetGroup{
		{ARN: "old", Name: "web-old", Port: 8080, Path: "/ready"},
		{ARN: "new", Name: "web-new", Port: 8080, Path: "/v2/ready"},
	} {
		st.TargetGroups[tg.ARN] = tg
		st.Register(tg.ARN, "i-1", 0, registered)
		require.NoError(t, st.PutRule(&elbapi.Rule{ID: "rule-" + tg.ARN, Listener: "l", Priority: len(st.Rules) + 1,
			TargetGroup: tg.ARN}))
	}
	serves := elbapi.Serves(st)
	state, _, _ := st.Health("old", st.TargetGroups["old"].Targets[0], time.Now(), serves)
	assert.Equal(t, "healthy", state)
	state, reason, _ := st.Health("new", st.TargetGroups["new"].Targets[0], time.Now(), serves)
	assert.Equal(t, "unhealthy", state, "the host does not answer the group's new health check path")
	assert.Equal(t, "Target.ResponseCodeMismatch", reason)
}

func TestAGroupOfOnlyUnhealthyTargetsFailsOpen(t *testing.T) {
	t.Setenv("APPSTACK_STANDIN_ELB_REGISTRATION", "0s")
	st := newState()
	st.TargetGroups["tg"] = &elbapi.TargetGroup{ARN: "tg", Name: "web", Port: 8080, Path: "/ready"}
	require.NoError(t, st.PutRule(&elbapi.Rule{ID: "r", Listener: "l", Priority: 1, TargetGroup: "tg"}))
	long := time.Now().Add(-time.Minute)
	st.Hosts["i-bad1"] = &elbapi.Host{Fingerprint: "v2", Ready: false, Ports: []int{8080}}
	st.Hosts["i-bad2"] = &elbapi.Host{Fingerprint: "v2", Ready: false, Ports: []int{8080}}
	st.Register("tg", "i-bad1", 0, long)
	st.Register("tg", "i-bad2", 0, long)
	serves := elbapi.Serves(st)

	routed, failOpen := st.Routed("tg", time.Now(), serves)
	assert.True(t, failOpen, "every target is unhealthy: the load balancer routes to all of them")
	assert.Len(t, routed, 2)

	st.Hosts["i-good"] = &elbapi.Host{Fingerprint: "v1", Ready: true, Ports: []int{8080}}
	st.Register("tg", "i-good", 0, long)
	routed, failOpen = st.Routed("tg", time.Now(), serves)
	assert.False(t, failOpen)
	require.Len(t, routed, 1, "only the healthy target")
	assert.Equal(t, "i-good", routed[0].ID)

	st.Register("tg", "i-new", 0, time.Now())
	delete(st.Hosts, "i-good")
	st.Deregister("tg", "i-good", 0)
	st.Hosts["i-new"] = &elbapi.Host{Fingerprint: "v3", Ready: true, Ports: []int{8080}}
	routed, failOpen = st.Routed("tg", time.Now(), serves)
	assert.False(t, failOpen, "a target still in its initial checks keeps the group from failing open")
	assert.Empty(t, routed)
}
