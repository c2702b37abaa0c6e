//go:build engine

package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/readiness"
	"appstack/testing/standin/asgapi"
	"appstack/testing/standin/elbapi"
)

// reach is where one entry point (a hostname, or "address" for the Elastic IP) leads at one moment: the
// fingerprints the healthy targets behind it serve, and when the first registered target that serves will be
// healthy (zero if none will).
type reach struct {
	versions  []string
	healthyAt time.Time
}

// trafficModel reads the stand-ins' front door, fleet, parameter store and call log, and says where every entry
// point leads now.
func (e *engine) trafficModel(t *testing.T, now time.Time) map[string]reach {
	t.Helper()
	out := map[string]reach{}
	door, err := (&elbapi.Store{File: e.elbFile()}).Load()
	if err != nil {
		t.Errorf("reading the stand-in front door: %v", err)
		return out
	}
	fleet, err := e.asg.Store.Load()
	if err != nil {
		t.Errorf("reading the stand-in fleet: %v", err)
		return out
	}
	serves := elbapi.Serves(door)
	for _, host := range door.Hostnames() {
		r := reach{}
		group := door.Route(host)
		if tg, ok := door.TargetGroups[group]; ok {
			// A group whose every target is unhealthy fails open: the load balancer sends requests to hosts that
			// do not serve, which is no serving version.
			if _, failOpen := door.Routed(group, now, serves); !failOpen {
				for _, target := range tg.Targets {
					state, _, at := door.Health(group, target, now, serves)
					if state == "healthy" {
						r.versions = append(r.versions, door.Hosts[target.ID].Fingerprint)
					} else if !at.IsZero() && (r.healthyAt.IsZero() || at.Before(r.healthyAt)) {
						r.healthyAt = at
					}
				}
			}
		}
		// A fleet's hosts are registered by Auto Scaling in the group's target groups once in service.
		for _, g := range fleet.Groups {
			if !slices.Contains(g.TargetGroupARNs, group) {
				continue
			}
			// A host whose boot ended ready serves until it is terminated; the version is its launch template's.
			for _, i := range g.Instances {
				if i.Outcome == readiness.Ready && i.Lifecycle == asgapi.InService && i.Health == asgapi.Healthy {
					r.versions = append(r.versions, "launch template version "+i.Version)
				}
			}
		}
		sort.Strings(r.versions)
		out[host] = reach{versions: slices.Compact(r.versions), healthyAt: r.healthyAt}
	}
	// The Elastic IP follows its last association. Deleting an association disassociates the address only while
	// it names the instance the address is on: a reassociation (allowReassociation) already moved it, and
	// DisassociateAddress of the old association then finds nothing.
	current := ""
	for _, c := range e.callsIfAny(t) {
		if c["type"] != "aws:ec2/eipAssociation:EipAssociation" {
			continue
		}
		switch c["op"] {
		case "create", "update":
			current = c["instance"]
		case "delete":
			if c["instance"] == current {
				current = ""
			}
		}
	}
	if current != "" {
		r := reach{}
		if h, ok := door.Hosts[current]; ok && h.Ready {
			r.versions = []string{h.Fingerprint}
		}
		out["address"] = r
	}
	return out
}

// callsIfAny is the call log so far; a line the provider is still writing is left for the next read.
func (e *engine) callsIfAny(t *testing.T) []map[string]string {
	t.Helper()
	raw, err := os.ReadFile(e.log)
	if err != nil {
		return nil
	}
	var out []map[string]string
	for line := range strings.Lines(string(raw)) {
		var c map[string]string
		if json.Unmarshal([]byte(line), &c) == nil {
			out = append(out, c)
		}
	}
	return out
}

// invariant follows every entry point across deploys: once one has served, it must reach a healthy target after
// every engine event. It records the longest modelled time each had none, and the versions it served.
type invariant struct {
	served   map[string]bool
	since    map[string]time.Time
	longest  map[string]time.Duration
	versions map[string][]string
}

func newInvariant() *invariant {
	return &invariant{served: map[string]bool{}, since: map[string]time.Time{}, longest: map[string]time.Duration{},
		versions: map[string][]string{}}
}

// check looks at the model at now; pending is what each entry point without a healthy target waits for.
func (inv *invariant) check(model map[string]reach, now time.Time) {
	for name, r := range model {
		if len(r.versions) > 0 {
			if start, ok := inv.since[name]; ok {
				end := now
				if !r.healthyAt.IsZero() && r.healthyAt.Before(now) {
					end = r.healthyAt
				}
				inv.longest[name] = max(inv.longest[name], end.Sub(start))
				delete(inv.since, name)
			}
			inv.served[name] = true
			for _, v := range r.versions {
				if !slices.Contains(inv.versions[name], v) {
					inv.versions[name] = append(inv.versions[name], v)
				}
			}
			continue
		}
		if _, open := inv.since[name]; !open && inv.served[name] {
			inv.since[name] = now
		}
	}
	for name := range inv.served {
		if _, ok := model[name]; !ok {
			if _, open := inv.since[name]; !open {
				inv.since[name] = now
			}
		}
	}
}

// up runs an up with the invariant checked after every engine event, then once more when the last registered
// target is due to be healthy. It returns the up's error and, per entry point, the longest time it had no healthy
// target during this up ("open" if it still has none).
func (e *engine) upChecked(t *testing.T, ctx context.Context, stack string, inv *invariant) (map[string]string,
	error) {
	t.Helper()
	for k := range inv.longest {
		delete(inv.longest, k)
	}
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
			now := time.Now()
			inv.check(e.trafficModel(t, now), now)
		}
	}()
	_, err := e.m.Up(ctx, stack, optup.EventStreams(ch))
	<-done
	now := time.Now()
	model := e.trafficModel(t, now)
	inv.check(model, now)
	for _, r := range model {
		if len(r.versions) == 0 && !r.healthyAt.IsZero() && r.healthyAt.Sub(now) < time.Minute {
			time.Sleep(time.Until(r.healthyAt) + 100*time.Millisecond)
		}
	}
	now = time.Now()
	inv.check(e.trafficModel(t, now), now)
	report := map[string]string{}
	for name := range inv.served {
		report[name] = inv.longest[name].Round(100 * time.Millisecond).String()
		if _, open := inv.since[name]; open {
			report[name] = "open since " + inv.since[name].Format(time.TimeOnly)
		}
	}
	return report, err
}

// bootsUsed is how many hosts the stand-ins have launched so far.
func (e *engine) bootsUsed(t *testing.T) int {
	t.Helper()
	var ssm struct {
		BootsUsed int `json:"bootsUsed"`
	}
	raw, err := os.ReadFile(filepath.Join(e.state, "standin-ssm.json"))
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &ssm))
	return ssm.BootsUsed
}

// nextBoots makes the next launched hosts end as outcomes, every host before them ready.
func (e *engine) nextBoots(t *testing.T, outcomes ...string) {
	t.Helper()
	e.boots(t, append(slices.Repeat([]string{readiness.Ready}, e.bootsUsed(t)), outcomes...)...)
}

// TestTrafficInvariantOnTheRealEngine walks a single host behind the front door through the deploy paths and checks
// after every engine event that the address and every hostname that has served still reach a healthy target of a
// version that signalled ready. The modelled registration (elbapi.DefaultRegistration) is longer than any fixed
// wait, so only a deploy that reads the target's health keeps every hostname served.
func TestTrafficInvariantOnTheRealEngine(t *testing.T) {
	t.Setenv("APPSTACK_STANDIN_ZONES", "example.com")
	e := newEngine(t)
	ctx := context.Background()
	require.FileExists(t, filepath.Join(e.work, "Pulumi.example.yaml"), "the documented stack, copied by newEngine")
	inv := newInvariant()
	removed := map[string]bool{} // hostnames of removed services, which stop serving with them
	zero := func(t *testing.T, report map[string]string) {
		t.Helper()
		t.Logf("longest time without a healthy target: %v; versions served: %v", report, inv.versions)
		for name, gap := range report {
			if !removed[name] {
				assert.Equal(t, "0s", gap, "%s had no healthy target", name)
			}
		}
	}
	steps := []struct {
		name   string
		before func(t *testing.T)
		fails  string
	}{
		{name: "first deploy"},
		{name: "no change"},
		{name: "new version", before: func(t *testing.T) { e.change(t, "a new version") }},
		{name: "a version whose boot fails", before: func(t *testing.T) {
			e.nextBoots(t, "failed health timeout: web did not answer")
			e.change(t, "a version that fails")
		}, fails: `failed its boot at step "health"`},
		{name: "the retry fails again", before: func(t *testing.T) {
			e.nextBoots(t, "failed pull docker pull web failed")
		}, fails: `failed its boot at step "pull"`},
		{name: "the retry serves", before: func(t *testing.T) { e.nextBoots(t) }},
		{name: "a port change replaces the target group", before: func(t *testing.T) {
			st, err := e.m.Stack(ctx, "example")
			require.NoError(t, err)
			require.NoError(t, st.SetConfig(ctx, "appstack:services", auto.ConfigValue{Value: `[` +
				`{"name":"web","port":8090,"build":{"context":"app"}},` +
				`{"name":"api","port":8081,"hostname":"api.example.com","build":{"context":"app"}}]`}))
		}},
		// The old host does not answer the new path: its group must not be checked on it before the new host is
		// healthy there.
		{name: "a ready path change replaces the target group", before: func(t *testing.T) {
			st, err := e.m.Stack(ctx, "example")
			require.NoError(t, err)
			require.NoError(t, st.SetConfig(ctx, "appstack:services", auto.ConfigValue{Value: `[` +
				`{"name":"web","port":8090,"readyPath":"/ready/v2","build":{"context":"app"}},` +
				`{"name":"api","port":8081,"hostname":"api.example.com","build":{"context":"app"}}]`}))
		}},
		// The listener keeps each priority unique (PriorityInUse): a rule inserted first must not take a priority
		// in use, and the remaining services' rules must not move onto the removed one's while it still exists. The
		// removal stops, as on AWS, at the removed service's repository, which keeps its images outside ephemeral
		// stacks; nothing of the front door fails.
		{name: "a service inserted first, then the first removed", fails: "RepositoryNotEmptyException",
			before: func(t *testing.T) {
				st, err := e.m.Stack(ctx, "example")
				require.NoError(t, err)
				require.NoError(t, st.SetConfig(ctx, "appstack:services", auto.ConfigValue{Value: `[` +
					`{"name":"admin","port":8082,"hostname":"admin.example.com","build":{"context":"app"}},` +
					`{"name":"web","port":8090,"readyPath":"/ready/v2","build":{"context":"app"}},` +
					`{"name":"api","port":8081,"hostname":"api.example.com","build":{"context":"app"}}]`}))
				report, err := e.upChecked(t, ctx, "example", inv)
				require.NoError(t, err, "admin's rule is created first on the listener")
				zero(t, report)
				require.NoError(t, st.SetConfig(ctx, "appstack:services", auto.ConfigValue{Value: `[` +
					`{"name":"web","port":8090,"readyPath":"/ready/v2","build":{"context":"app"}},` +
					`{"name":"api","port":8081,"hostname":"api.example.com","build":{"context":"app"}}]`}))
				removed["admin.example.com"] = true
			}},
	}
	for _, s := range steps {
		ok := t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before(t)
			}
			report, err := e.upChecked(t, ctx, "example", inv)
			if s.fails != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), s.fails)
				for _, refusal := range []string{"PriorityInUse", "ResourceInUse"} {
					assert.NotContains(t, err.Error(), refusal)
				}
			} else {
				require.NoError(t, err)
			}
			zero(t, report)
			for _, name := range []string{"web.example.com", "api.example.com"} {
				assert.True(t, inv.served[name], "%s serves", name)
			}
		})
		if !ok {
			break
		}
	}
}

// TestFleetTrafficInvariantOnTheRealEngine: a fleet stack's first deploy fails, so nothing serves; the retry that
// fails again must not route the hostnames to the failed hosts; the retry that succeeds routes them; a new version
// keeps them served throughout.
func TestFleetTrafficInvariantOnTheRealEngine(t *testing.T) {
	t.Setenv("APPSTACK_STANDIN_ZONES", "example.com")
	e := newEngine(t)
	ctx := context.Background()
	inv := newInvariant()
	hostnames := func(t *testing.T) map[string]reach {
		t.Helper()
		door, err := (&elbapi.Store{File: e.elbFile()}).Load()
		require.NoError(t, err)
		model := e.trafficModel(t, time.Now())
		out := map[string]reach{}
		for _, h := range door.Hostnames() {
			out[h] = model[h]
		}
		return out
	}
	t.Run("a failed first deploy routes no hostname", func(t *testing.T) {
		e.nextBoots(t, "failed pull docker pull web failed")
		_, err := e.upChecked(t, ctx, "fleet", inv)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "failed its boot at step pull")
		assert.Empty(t, hostnames(t), "no hostname forwards to a fleet that never served")
	})
	t.Run("its retry with nothing changed routes no hostname to the failed hosts", func(t *testing.T) {
		// The group exists and runs the version its failed hosts were launched from: no refresh runs, and the
		// deploy must find out from the hosts themselves that the version does not serve.
		_, err := e.upChecked(t, ctx, "fleet", inv)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "failed its boot at step pull")
		assert.Contains(t, err.Error(), "its hosts do not serve")
		assert.Empty(t, hostnames(t), "the group existed, and runs the version, yet never served")
	})
	t.Run("its retry, failing again, still routes no hostname to the failed hosts", func(t *testing.T) {
		e.nextBoots(t, "failed pull docker pull web failed", "failed pull docker pull web failed")
		e.change(t, "a second try")
		_, err := e.upChecked(t, ctx, "fleet", inv)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "failed its boot at step pull", "the retry's refresh failed, not the deploy")
		assert.Empty(t, hostnames(t), "the group existed, yet never served")
	})
	t.Run("the retry that serves routes every hostname", func(t *testing.T) {
		e.nextBoots(t)
		e.change(t, "the fix")
		report, err := e.upChecked(t, ctx, "fleet", inv)
		require.NoError(t, err)
		served := hostnames(t)
		require.NotEmpty(t, served)
		for h, r := range served {
			assert.NotEmpty(t, r.versions, "%s reaches a healthy host", h)
		}
		t.Logf("longest time without a healthy target: %v", report)
	})
	t.Run("a new version keeps every hostname served", func(t *testing.T) {
		e.change(t, "a new version")
		report, err := e.upChecked(t, ctx, "fleet", inv)
		require.NoError(t, err)
		t.Logf("longest time without a healthy target: %v; versions served: %v", report, inv.versions)
		for name, gap := range report {
			assert.Equal(t, "0s", gap, "%s had no healthy target", name)
		}
	})
}
