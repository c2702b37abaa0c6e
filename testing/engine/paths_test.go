//go:build engine

package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/testing/standin/elbapi"
	"appstack/testing/standin/jsonfile"
	"appstack/testing/standin/ssmstore"
)

// The deploy paths engine_traffic_test.go does not walk, under the same invariant: after every engine event (and
// every 250 ms, since a destroy streams no events here), the address and every hostname that has served still
// reach a healthy target, and the report is the longest modelled time each had none.

// checkedRun runs op with the invariant checked against model after every engine event op sends on ch and every
// 250 ms, then once more when the last registered target is due to be healthy; op closes ch when it is done (an
// up's event stream is closed by the Automation API). It returns op's error and, per entry point, the longest time it had no healthy target during op ("open since …" if it still has none).
func (e *engine) checkedRun(t *testing.T, inv *invariant, model func(time.Time) map[string]reach,
	op func(ch chan events.EngineEvent) error) (map[string]string, error) {
	t.Helper()
	for k := range inv.longest {
		delete(inv.longest, k)
	}
	var mu sync.Mutex
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		inv.check(model(now), now)
	}
	ch, done := make(chan events.EngineEvent), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
				check()
			case <-tick.C:
				check()
			}
		}
	}()
	err := op(ch)
	<-done
	check()
	now := time.Now()
	for _, r := range model(now) {
		if len(r.versions) == 0 && !r.healthyAt.IsZero() && r.healthyAt.Sub(now) < time.Minute {
			time.Sleep(time.Until(r.healthyAt) + 100*time.Millisecond)
		}
	}
	check()
	report := map[string]string{}
	for name := range inv.served {
		report[name] = inv.longest[name].Round(100 * time.Millisecond).String()
		if _, open := inv.since[name]; open {
			report[name] = "open since " + inv.since[name].Format(time.TimeOnly)
		}
	}
	return report, err
}

// upPaths is an up of stack checked against model.
func (e *engine) upPaths(t *testing.T, ctx context.Context, stack string, inv *invariant,
	model func(time.Time) map[string]reach) (map[string]string, error) {
	t.Helper()
	return e.checkedRun(t, inv, model, func(ch chan events.EngineEvent) error {
		_, err := e.m.Up(ctx, stack, optup.EventStreams(ch))
		return err
	})
}

// single is the traffic model of one stack: its hostnames and its address.
func (e *engine) single(t *testing.T) func(time.Time) map[string]reach {
	return func(now time.Time) map[string]reach { return e.trafficModel(t, now) }
}

// stacksModel is the traffic model of several stacks side by side: every hostname, and each stack's address as
// "address of <stack>". An instance belongs to the stack under whose /appstack/<stack>/ prefix it signalled; owners
// keeps what was learnt, since a destroyed stack's signals go with it.
func (e *engine) stacksModel(t *testing.T) func(time.Time) map[string]reach {
	owners := map[string]string{}
	ssm := &ssmstore.Store{File: filepath.Join(e.state, "standin-ssm.json")}
	return func(now time.Time) map[string]reach {
		out := e.trafficModel(t, now)
		delete(out, "address")
		if params, err := ssm.Read(); err == nil {
			for name := range params.Parameters {
				parts := strings.Split(name, "/")
				if len(parts) > 4 && parts[1] == "appstack" && parts[len(parts)-2] == "ready" {
					owners[parts[len(parts)-1]] = parts[2]
				}
			}
		}
		door, err := (&elbapi.Store{File: e.elbFile()}).Load()
		if err != nil {
			t.Errorf("reading the stand-in front door: %v", err)
			return out
		}
		current := map[string]string{}
		for _, c := range e.callsIfAny(t) {
			stack, ok := owners[c["instance"]]
			if c["type"] != assocTok || !ok {
				continue
			}
			switch c["op"] {
			case "create", "update":
				current[stack] = c["instance"]
			case "delete":
				if current[stack] == c["instance"] {
					delete(current, stack)
				}
			}
		}
		for stack, instance := range current {
			r := reach{}
			if h, ok := door.Hosts[instance]; ok && h.Ready {
				r.versions = []string{h.Fingerprint}
			}
			out["address of "+stack] = r
		}
		return out
	}
}

// rulePlace is where a listener rule sits: its listener and priority.
type rulePlace struct {
	listener string
	priority int
}

// rulePlaces are a stack's listener rules by resource name, from its state.
func rulePlaces(t *testing.T, ctx context.Context, st auto.Stack) map[string]rulePlace {
	t.Helper()
	dep, err := st.Export(ctx)
	require.NoError(t, err)
	var state struct {
		Resources []struct {
			URN     string         `json:"urn"`
			Type    string         `json:"type"`
			Outputs map[string]any `json:"outputs"`
		} `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(dep.Deployment, &state))
	out := map[string]rulePlace{}
	for _, r := range state.Resources {
		if r.Type != "aws:lb/listenerRule:ListenerRule" {
			continue
		}
		p, _ := r.Outputs["priority"].(float64)
		l, _ := r.Outputs["listenerArn"].(string)
		out[r.URN[strings.LastIndex(r.URN, "::")+2:]] = rulePlace{listener: l, priority: int(p)}
	}
	return out
}

// priorityConflicts replays an up's listener rule calls from the rules before to the rules after, and names each
// create or update that gave a rule a priority another rule of its listener still held. Elastic Load Balancing
// refuses such a call with PriorityInUse: "You can reorder the rules as long as there are no priority conflicts
// in the new order" (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_SetRulePriorities.html;
// CreateRule and ModifyRule answer PriorityInUse the same way).
func priorityConflicts(before, after map[string]rulePlace, calls []map[string]string) []string {
	live := map[string]rulePlace{}
	for k, v := range before {
		live[k] = v
	}
	var out []string
	for _, c := range calls {
		if c["type"] != "aws:lb/listenerRule:ListenerRule" {
			continue
		}
		name := c["name"]
		switch c["op"] {
		case "create", "update":
			p, ok := after[name]
			if !ok {
				continue
			}
			for other, q := range live {
				if other != name && q == p {
					out = append(out, fmt.Sprintf("%s %s to priority %d while %s still held it", c["op"], name,
						p.priority, other))
				}
			}
			live[name] = p
		case "delete":
			if _, kept := after[name]; !kept {
				delete(live, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// deleteImages empties the repository of the stand-ins' registry whose name holds part, as `aws ecr
// batch-delete-image` of every image does: the README's way to let a removed service's repository go.
func (e *engine) deleteImages(t *testing.T, part string) {
	t.Helper()
	reg := &offline.Registry{}
	emptied := 0
	require.NoError(t, jsonfile.Update(filepath.Join(e.registry, "ecr.json"), filepath.Join(e.registry, "ecr.lock"),
		"registry state", reg, func() error {
			for name, repo := range reg.Repositories {
				if strings.Contains(name, part) {
					repo.Tags = map[string]string{}
					emptied++
				}
			}
			return nil
		}))
	require.Equal(t, 1, emptied, "one repository's name holds %q: %v", part, slices.Collect(maps.Keys(reg.Repositories)))
}

// hostnames are the host names the stand-in front door's rules serve now.
func (e *engine) hostnames(t *testing.T) []string {
	t.Helper()
	door, err := (&elbapi.Store{File: e.elbFile()}).Load()
	require.NoError(t, err)
	return door.Hostnames()
}

// setConfig sets stack config keys to the given values, as `pulumi config set` does.
func setConfig(t *testing.T, ctx context.Context, st auto.Stack, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		require.NoError(t, st.SetConfig(ctx, kv[i], auto.ConfigValue{Value: kv[i+1]}))
	}
}

const (
	webService = `{"name":"web","port":8080,"build":{"context":"app"}}`
	apiService = `{"name":"api","port":8081,"hostname":"api.example.com","build":{"context":"app"}}`
)

// logReport logs an up's report and what each entry point served.
func logReport(t *testing.T, inv *invariant, report map[string]string) {
	t.Helper()
	t.Logf("longest time without a healthy target: %v; versions served: %v", report, inv.versions)
}

// TestPathsServiceAddedAndRemoved: a service added to a running single host behind the front door, then the
// first service removed. Adding one keeps every hostname and the address served; removing one takes its hostname
// away (its rule, target group and record go) and keeps the other's served. The removed service's repository
// holds images, so the first try fails as the README says, and the second, after its images are deleted, passes.
// The kept service's rules move up to the removed one's priorities; Elastic Load Balancing refuses a priority
// another rule of the listener still holds, which the stand-in does not model, so the last step replays the
// rules' calls against their priorities.
func TestPathsServiceAddedAndRemoved(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "APPSTACK_STANDIN_ZONES=example.com")
	ctx := context.Background()
	require.FileExists(t, filepath.Join(e.work, "Pulumi.example.yaml"), "the documented stack, copied by newEngine")
	st, err := e.m.Stack(ctx, "example")
	require.NoError(t, err)
	inv := newInvariant()

	t.Run("one service", func(t *testing.T) {
		setConfig(t, ctx, st, "appstack:services", "["+webService+"]")
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.NoError(t, err)
		logReport(t, inv, report)
		assert.Equal(t, map[string]string{"web.example.com": "0s", "address": "0s"}, report)
	})

	t.Run("a service added: the running one and the address keep a healthy target throughout", func(t *testing.T) {
		setConfig(t, ctx, st, "appstack:services", "["+webService+","+apiService+"]")
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.NoError(t, err)
		logReport(t, inv, report)
		assert.Equal(t, map[string]string{"web.example.com": "0s", "api.example.com": "0s", "address": "0s"}, report)
	})

	var before map[string]rulePlace
	var from int
	t.Run("the first service removed while its repository holds images: the update fails at the repository", func(t *testing.T) {
		before, from = rulePlaces(t, ctx, st), len(e.calls(t))
		setConfig(t, ctx, st, "appstack:services", "["+apiService+"]")
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "RepositoryNotEmptyException")
		logReport(t, inv, report)
		assert.Equal(t, "0s", report["api.example.com"], "the kept service keeps a healthy target")
		assert.Equal(t, "0s", report["address"], "the address keeps a healthy target")
	})

	t.Run("its images deleted, the removal completes: only the removed service's hostname goes", func(t *testing.T) {
		e.deleteImages(t, "-web-")
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.NoError(t, err)
		logReport(t, inv, report)
		assert.Equal(t, "0s", report["api.example.com"])
		assert.Equal(t, "0s", report["address"])
		assert.True(t, strings.HasPrefix(report["web.example.com"], "open since"),
			"the removed service's hostname has no target: %q", report["web.example.com"])
		assert.Equal(t, []string{"api.example.com"}, e.hostnames(t), "no rule is left for the removed hostname")
	})

	t.Run("the removal gives no listener rule a priority another rule still holds (PriorityInUse on AWS)", func(t *testing.T) {
		after := rulePlaces(t, ctx, st)
		assert.Empty(t, priorityConflicts(before, after, e.calls(t)[from:]), "rules before %v, after %v", before,
			after)
	})
}

// TestPathsDomainAdded: a stack that served on its Elastic IP alone gets appstack:domain, and with it the front
// door. Its hostnames serve from their first rule; the address keeps a healthy host throughout.
func TestPathsDomainAdded(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "APPSTACK_STANDIN_ZONES=example.com")
	ctx := context.Background()
	require.FileExists(t, filepath.Join(e.work, "Pulumi.example.yaml"), "the documented stack, copied by newEngine")
	st, err := e.m.Stack(ctx, "example")
	require.NoError(t, err)
	inv := newInvariant()

	t.Run("the Elastic IP alone", func(t *testing.T) {
		require.NoError(t, st.RemoveConfig(ctx, "appstack:domain"))
		setConfig(t, ctx, st, "appstack:services", "["+webService+`,{"name":"api","port":8081,"build":{"context":"app"}}]`)
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.NoError(t, err)
		logReport(t, inv, report)
		assert.Equal(t, map[string]string{"address": "0s"}, report)
		assert.Empty(t, e.hostnames(t))
	})

	t.Run("a domain added: the front door's hostnames serve, the address keeps a healthy host", func(t *testing.T) {
		setConfig(t, ctx, st, "appstack:domain", "example.com")
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.NoError(t, err)
		logReport(t, inv, report)
		assert.Equal(t, map[string]string{"web.example.com": "0s", "api.example.com": "0s", "address": "0s"}, report)
	})
}

// TestPathsSingleToFleet: a single host behind the front door moves to a fleet as docs/fleet.md says (hosting
// fleet, the Elastic IP's protection released on purpose, up). The hostnames keep a healthy target throughout and
// end on the fleet's hosts; the address goes with the single host, as the steps say.
func TestPathsSingleToFleet(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "APPSTACK_STANDIN_ZONES=example.com")
	ctx := context.Background()
	require.FileExists(t, filepath.Join(e.work, "Pulumi.example.yaml"), "the documented stack, copied by newEngine")
	st, err := e.m.Stack(ctx, "example")
	require.NoError(t, err)
	inv := newInvariant()

	t.Run("a single host", func(t *testing.T) {
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.NoError(t, err)
		logReport(t, inv, report)
		assert.Equal(t, map[string]string{"web.example.com": "0s", "api.example.com": "0s", "address": "0s"}, report)
	})

	t.Run("hosting fleet: the hostnames move to the fleet without a gap; the address goes", func(t *testing.T) {
		setConfig(t, ctx, st, "appstack:hosting", "fleet",
			"appstack:fleet", `{"min":2,"max":6,"instanceTypes":["t3.medium","t3a.medium"],"onDemandBase":2,`+
				`"spotPercent":50,"scaling":{"metric":"requests","target":1000}}`)
		unprotect(t, ctx, st, "aws:ec2/eip:Eip")
		report, err := e.upPaths(t, ctx, "example", inv, e.single(t))
		require.NoError(t, err)
		logReport(t, inv, report)
		assert.Equal(t, "0s", report["web.example.com"])
		assert.Equal(t, "0s", report["api.example.com"])
		assert.True(t, strings.HasPrefix(report["address"], "open since"), "the single host's address goes: %q",
			report["address"])
		model := e.trafficModel(t, time.Now())
		for _, h := range []string{"web.example.com", "api.example.com"} {
			assert.Equal(t, []string{"launch template version 1"}, model[h].versions, "%s is served by the fleet", h)
		}
	})
}

// unprotect releases the protection of a stack's resources of type typ, as `pulumi state unprotect <urn>` does.
func unprotect(t *testing.T, ctx context.Context, st auto.Stack, typ string) {
	t.Helper()
	dep, err := st.Export(ctx)
	require.NoError(t, err)
	var state map[string]any
	require.NoError(t, json.Unmarshal(dep.Deployment, &state))
	released := 0
	for _, r := range state["resources"].([]any) {
		res := r.(map[string]any)
		if res["type"] == typ && res["protect"] == true {
			res["protect"] = false
			released++
		}
	}
	require.Positive(t, released, "a protected %s", typ)
	dep.Deployment, err = json.Marshal(state)
	require.NoError(t, err)
	require.NoError(t, st.Import(ctx, dep))
}

// TestPathsReviewDestroyed: staging and production serve on their own domains, a review stack copied from
// staging serves on its own names, and destroying it leaves every hostname and address of staging and production
// served throughout; the review's own go.
func TestPathsReviewDestroyed(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "APPSTACK_STANDIN_ZONES=example.com,example.net")
	ctx := context.Background()
	inv := newInvariant()
	model := e.stacksModel(t)
	others := []string{"web.example.com", "address of staging", "web.example.net", "address of production"}
	kept := func(t *testing.T, report map[string]string) {
		t.Helper()
		for _, name := range others {
			assert.Equal(t, "0s", report[name], "%s keeps a healthy target", name)
		}
	}

	for stack, domain := range map[string]string{"staging": "example.com", "production": "example.net"} {
		st, err := e.m.Stack(ctx, stack)
		require.NoError(t, err)
		setConfig(t, ctx, st, "appstack:domain", domain)
		report, err := e.upPaths(t, ctx, stack, inv, model)
		require.NoError(t, err, stack)
		logReport(t, inv, report)
	}

	t.Run("a review stack copied from staging serves on its own names", func(t *testing.T) {
		_, err := e.m.CreateReview(ctx, 7, "staging", 72*time.Hour)
		require.NoError(t, err)
		report, err := e.upPaths(t, ctx, "pr-7", inv, model)
		require.NoError(t, err)
		logReport(t, inv, report)
		kept(t, report)
		assert.Equal(t, "0s", report["web.pr-7.example.com"])
		assert.Equal(t, "0s", report["address of pr-7"])
	})

	t.Run("destroying it leaves staging and production served throughout", func(t *testing.T) {
		report, err := e.checkedRun(t, inv, model, func(ch chan events.EngineEvent) error {
			defer close(ch)
			return e.m.Destroy(ctx, "pr-7")
		})
		require.NoError(t, err)
		logReport(t, inv, report)
		kept(t, report)
		assert.True(t, strings.HasPrefix(report["web.pr-7.example.com"], "open since"), "the review's hostname goes")
		assert.True(t, strings.HasPrefix(report["address of pr-7"], "open since"), "the review's address goes")
		assert.Equal(t, []string{"web.example.com", "web.example.net"}, e.hostnames(t))
		assert.False(t, slices.Contains(e.stackNames(t, ctx), "pr-7"))
	})
}
