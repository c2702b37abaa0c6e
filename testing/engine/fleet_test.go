//go:build engine

package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/testing/standin/asgapi"
)

// upLogged is e.up that also returns the engine's diagnostic lines (the rollout logs its progress there) and the
// up's error instead of failing on it.
func (e *engine) upLogged(t *testing.T, ctx context.Context, stack string) (map[string][]string, []string, error) {
	t.Helper()
	ch := make(chan events.EngineEvent)
	ops, lines := map[string][]string{}, []string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			switch {
			case ev.ResourcePreEvent != nil:
				md := ev.ResourcePreEvent.Metadata
				name := md.URN[strings.LastIndex(md.URN, "::")+2:]
				ops[name] = append(ops[name], string(md.Op))
			case ev.DiagnosticEvent != nil:
				lines = append(lines, strings.TrimSpace(ev.DiagnosticEvent.Message))
			}
		}
	}()
	_, err := e.m.Up(ctx, stack, optup.EventStreams(ch))
	<-done
	for name, list := range ops {
		if !slices.Equal(list, []string{"same"}) && !slices.Equal(list, []string{"read"}) {
			t.Logf("%s: %v", name, list)
		}
	}
	return ops, lines, err
}

// fleet is the stand-ins' fleet state as the test sees it.
func (e *engine) fleet(t *testing.T) *asgapi.State {
	t.Helper()
	st, err := e.asg.Store.Load()
	require.NoError(t, err)
	return st
}

func lastSeq(st *asgapi.State) int {
	if len(st.Events) == 0 {
		return 0
	}
	return st.Events[len(st.Events)-1].Seq
}

// TestFleetOnTheRealEngine deploys the documented fleet stack (examples/fleet/Pulumi.fleet.yaml: two hosts behind
// the front door), then new versions: the engine updates the launch template and leaves the group's version alone,
// and the rollout replaces the hosts through the Auto Scaling stand-in, new ones healthy before old ones go. A
// version whose boot fails fails the up with the boot's reason while the group keeps the previous version; the
// next fixed version rolls out.
func TestFleetOnTheRealEngine(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "APPSTACK_STANDIN_ZONES=example.com")
	ctx := context.Background()
	// The documented fleet stack, as committed (newEngine copies it to the project's root): two hosts of two
	// instance types (half of those above the base on Spot), scaling on requests, behind the front door of
	// example.com.
	require.FileExists(t, filepath.Join(e.work, "Pulumi.fleet.yaml"))

	var group string
	groupVersion := func(t *testing.T) (string, []*asgapi.Instance) {
		t.Helper()
		g := e.fleet(t).Groups[group]
		require.NotNil(t, g, "group %s", group)
		return g.Config.Version, g.Instances
	}

	t.Run("a fleet stack deploys its template, group and policies behind the front door", func(t *testing.T) {
		res, ops := e.up(t, ctx, "fleet")
		group, _ = res.Outputs["fleetGroup"].Value.(string)
		require.Equal(t, "appstack-fleet-app", group, "outputs: %v", res.Outputs)
		for _, name := range []string{"app-fleet-template", "app-fleet-group", "app-fleet-scaling",
			"app-frontdoor-alb", "app-frontdoor-web-tg"} {
			assert.Equal(t, []string{"create"}, ops[name], name)
		}
		version, instances := groupVersion(t)
		assert.Equal(t, "1", version)
		require.Len(t, instances, 2, "the group launched its desired capacity")
		for _, i := range instances {
			assert.Equal(t, asgapi.Healthy, i.Health)
			assert.NotEmpty(t, e.parameters().Under(t, "/appstack/fleet/app/ready/"+i.ID), "%s signalled", i.ID)
		}
		assert.Empty(t, e.fleet(t).Refreshes, "a new group starts on the newest version: nothing to refresh")
	})

	t.Run("a new version: the engine updates the template only, the refresh brings new hosts up before old ones go", func(t *testing.T) {
		before := lastSeq(e.fleet(t))
		e.change(t, "a change to the sample service")
		ops, lines, err := e.upLogged(t, ctx, "fleet")
		require.NoError(t, err, "%s", strings.Join(lines, "\n"))
		assert.Equal(t, []string{"update"}, ops["app-fleet-template"], "a new launch template version")
		assert.Equal(t, []string{"same"}, ops["app-fleet-group"], "Pulumi never moves the group's version")
		for _, name := range []string{"app-frontdoor-alb", "app-frontdoor-web-tg", "app-frontdoor-api-tg"} {
			assert.Equal(t, []string{"same"}, ops[name], "%s stays", name)
		}
		assert.True(t, slices.ContainsFunc(lines, func(l string) bool {
			return strings.Contains(l, "instance refresh") && strings.Contains(l, "Successful")
		}), "the up reports the refresh's progress: %s", strings.Join(lines, "\n"))

		version, instances := groupVersion(t)
		assert.Equal(t, "2", version, "Auto Scaling gave the group the desired configuration")
		require.Len(t, instances, 2)
		for _, i := range instances {
			assert.Equal(t, "2", i.Version)
		}
		st := e.fleet(t)
		var order []string
		for _, ev := range st.EventsOf(group) {
			if ev.Seq > before {
				order = append(order, ev.Op+" v"+ev.Version)
			}
		}
		firstOld := slices.Index(order, "terminate v1")
		require.GreaterOrEqual(t, firstOld, 0, "the old hosts went: %v", order)
		for i, op := range order {
			if op == "launch v2" || op == "healthy v2" {
				assert.Less(t, i, firstOld, "%v: every new host is up and healthy before an old one goes", order)
			}
		}
		assert.Equal(t, 2, asgapi.FewestHealthy(st.EventsOf(group), before),
			"the group never had fewer healthy hosts than its desired capacity: %v", order)

		// The next up finds the group on the version: the engine now declares it, and nothing is refreshed.
		refreshes, events := len(st.Refreshes), len(st.Events)
		ops, lines, err = e.upLogged(t, ctx, "fleet")
		require.NoError(t, err, "%s", strings.Join(lines, "\n"))
		assert.Equal(t, []string{"same"}, ops["app-fleet-template"])
		assert.Len(t, e.fleet(t).Refreshes, refreshes, "no refresh for a group on the version")
		assert.Len(t, e.fleet(t).Events, events, "declaring the version the group runs replaces no host")
	})

	t.Run("a version whose boot fails fails the up with the boot's reason; the group keeps its version", func(t *testing.T) {
		// Hosts so far: two at creation, two in the refresh; the next new host fails its boot.
		e.boots(t, "ready", "ready", "ready", "ready", "failed health timeout: web did not answer")
		e.change(t, "a version whose boot fails")
		_, lines, err := e.upLogged(t, ctx, "fleet")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "failed its boot at step health: timeout: web did not answer",
			"%s", strings.Join(lines, "\n"))
		assert.Contains(t, err.Error(), "RollbackSuccessful")
		assert.Contains(t, e.asg.Actions(), "RollbackInstanceRefresh", "the rollout rolled back on the signal")

		version, instances := groupVersion(t)
		assert.Equal(t, "2", version, "the group keeps the version it ran")
		require.Len(t, instances, 2)
		for _, i := range instances {
			assert.Equal(t, "2", i.Version, "the failed version's hosts are gone")
			assert.Equal(t, asgapi.Healthy, i.Health)
		}
		st := e.fleet(t)
		r := st.Refreshes[len(st.Refreshes)-1]
		assert.Equal(t, asgapi.StatusRollbackSuccessful, r.Status)
	})

	t.Run("re-running after a fix rolls the fixed version out", func(t *testing.T) {
		e.change(t, "the fix")
		_, lines, err := e.upLogged(t, ctx, "fleet")
		require.NoError(t, err, "%s", strings.Join(lines, "\n"))
		version, instances := groupVersion(t)
		assert.Equal(t, "4", version, "version 3 failed; the fix is version 4")
		require.Len(t, instances, 2)
		for _, i := range instances {
			assert.Equal(t, "4", i.Version)
		}
	})

	t.Run("a new fleet whose first host fails its boot fails the up with the reason; the fix rolls out", func(t *testing.T) {
		copyFile(t, filepath.Join(e.work, "Pulumi.fleet.yaml"), filepath.Join(e.work, "Pulumi.fleet-new.yaml"))
		// Every host launched so far used an outcome; the new group's first host fails its boot.
		var ssm struct {
			BootsUsed int `json:"bootsUsed"`
		}
		raw, err := os.ReadFile(filepath.Join(e.state, "standin-ssm.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &ssm))
		e.boots(t, append(slices.Repeat([]string{"ready"}, ssm.BootsUsed), "failed pull docker pull web failed")...)

		ops, lines, err := e.upLogged(t, ctx, "fleet-new")
		require.Error(t, err)
		assert.Equal(t, []string{"create"}, ops["app-fleet-group"],
			"the group's create does not wait for capacity (waitForCapacityTimeout 0)")
		assert.Contains(t, err.Error(), "failed its boot at step pull: docker pull web failed",
			"%s", strings.Join(lines, "\n"))
		g := e.fleet(t).Groups["appstack-fleet-new-app"]
		require.NotNil(t, g)
		assert.Equal(t, 1, g.Healthy())

		e.change(t, "the fix for the new fleet")
		_, lines, err = e.upLogged(t, ctx, "fleet-new")
		require.NoError(t, err, "%s", strings.Join(lines, "\n"))
		g = e.fleet(t).Groups["appstack-fleet-new-app"]
		assert.Equal(t, "2", g.Config.Version, "the fix rolled out to the group")
		assert.Equal(t, 2, g.Healthy())
		for _, i := range g.Instances {
			assert.Equal(t, "2", i.Version)
		}
	})
}
