package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const fleetGroup = "appstack-pr-e2e-1a2b-app"

// fakeFleet is a fleet stack as Auto Scaling and the front door run it, on loopback: an HTTPS front door
// (httptest's certificate, valid for *.example.com) that answers while the group has an instance in service on a
// version that boots, and a group whose instances a deploy replaces version by version. A deploy whose first
// service cannot boot (MissingDigest or NeverReadyPath) ends as the rollout reports a rolled-back instance
// refresh, with the group untouched. Its faults make it behave as the bugs the suite must catch would.
type fakeFleet struct {
	t        *testing.T
	mu       sync.Mutex
	services string
	group    GroupState
	broken   map[string]bool // launch template versions whose hosts answer nothing
	latest   int             // the launch template's latest version
	next     int             // instance and refresh counter
	door     FrontDoorCheck
	health   *httptest.Server
	routing  []string // the versions the front door routes to now
	gap      bool     // while set, the front door has no healthy target
	destroy  bool

	// Faults.
	gapOnRoll         bool // a rolling deploy terminates the old hosts before the new ones serve
	sameVersion       bool // a new version is rolled out without a new launch template version
	failingServes     bool // the front door routes to the failing version's hosts during its deploy
	failingSucceeds   bool // the deploy of the failing version reports success
	failedNotRollback bool // the failing version's refresh ends Failed, not RollbackSuccessful
	leftOnFailing     bool // after the rollback one instance still runs the failing version
}

func newFakeFleet(t *testing.T) *fakeFleet {
	f := &fakeFleet{t: t, services: stagingServices, broken: map[string]bool{}}
	answer := func(w http.ResponseWriter) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.gap {
			return false
		}
		for _, v := range f.routing {
			if f.broken[v] {
				return false
			}
		}
		if len(f.routing) == 0 {
			return false
		}
		w.Header().Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		fmt.Fprintf(w, "hello from version %s\n", f.routing[len(f.routing)-1])
		return true
	}
	https := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !answer(w) {
			dropConnection(w)
		}
	}))
	https.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	https.Config.ErrorLog = log.New(io.Discard, "", 0) // the front door check's TLS 1.1 probe is refused on purpose
	https.StartTLS()
	t.Cleanup(https.Close)
	redirect := httptest.NewServer(http.HandlerFunc(permanentRedirect))
	t.Cleanup(redirect.Close)
	// The health URLs: the same answers over plain HTTP, which WaitHealthy reaches without the dialer.
	f.health = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !answer(w) {
			dropConnection(w)
		}
	}))
	t.Cleanup(f.health.Close)
	f.door = FrontDoorCheck{
		RootCAs: https.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			target := "127.0.0.1:1"
			switch {
			case strings.HasSuffix(host, ".example.com") && port == "443":
				target = https.Listener.Addr().String()
			case strings.HasSuffix(host, ".example.com") && port == "80":
				target = redirect.Listener.Addr().String()
			}
			return (&net.Dialer{}).DialContext(ctx, network, target)
		},
	}
	return f
}

func (f *fakeFleet) Create(_ context.Context, o Options) (Stack, error) {
	return &fleetStack{f, o.Stack}, nil
}

// Group is Auto Scaling's answer for the fleet's group.
func (f *fakeFleet) Group(_ context.Context, name string) (GroupState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != f.group.Name {
		return GroupState{}, fmt.Errorf("ValidationError: group %s not found", name)
	}
	g := f.group
	g.Instances = append([]GroupInstance(nil), f.group.Instances...)
	return g, nil
}

type fleetStack struct {
	f    *fakeFleet
	name string
}

func (s *fleetStack) Name() string                                  { return s.name }
func (s *fleetStack) Services(context.Context) (string, error)      { return s.f.services, nil }
func (s *fleetStack) SetServices(_ context.Context, v string) error { s.f.services = v; return nil }
func (s *fleetStack) Hosting(context.Context) (string, error)       { return FleetHosting, nil }
func (s *fleetStack) Destroy(context.Context) error                 { s.f.destroy = true; return nil }

func (f *fakeFleet) instances(version string, n int) []GroupInstance {
	out := make([]GroupInstance, 0, n)
	for range n {
		f.next++
		out = append(out, GroupInstance{ID: fmt.Sprintf("i-%017x", f.next), Version: version, Lifecycle: InService,
			Health: Healthy})
	}
	return out
}

func (s *fleetStack) Up(_ context.Context, sink func(Event)) (Outputs, error) {
	f := s.f
	svcs, err := ParseServices(f.services)
	require.NoError(f.t, err)
	sink(Event{At: time.Now(), Message: "group " + fleetGroup + ": instance refresh started"})
	failing := svcs[0]["image"] == "repo/web@"+MissingDigest() || svcs[0]["readyPath"] == NeverReadyPath
	f.mu.Lock()
	if f.group.Name == "" { // the first deploy creates the group
		f.latest = 1
		f.group = GroupState{Name: fleetGroup, Min: 2, Desired: 2, Version: "1", Instances: f.instances("1", 2)}
		f.routing = []string{"1"}
		f.mu.Unlock()
		return f.outputs(svcs), nil
	}
	old := f.group.Version
	if !f.sameVersion || failing {
		f.latest++
	}
	version := fmt.Sprint(f.latest)
	f.next++
	refresh := fmt.Sprintf("r-%d", f.next)
	if failing {
		f.broken[version] = true
		if f.failingServes {
			f.routing = []string{old, version}
		}
		f.mu.Unlock()
		time.Sleep(60 * time.Millisecond) // the new hosts boot, fail, and are rolled back
		f.mu.Lock()
		f.routing = []string{old}
		status := RollbackSuccessful
		if f.failedNotRollback {
			status = "Failed"
		}
		if f.leftOnFailing {
			f.group.Instances[0].Version = version
		}
		f.group.LastRefresh = &Refresh{ID: refresh, Status: status, StatusReason: "instance refresh failed"}
		f.mu.Unlock()
		if f.failingSucceeds {
			return f.outputs(svcs), nil
		}
		return Outputs{}, fmt.Errorf("rolling deploy of group %s (instance refresh %s) ended %s: new host "+
			"i-0ffffffffffffffff failed its boot at step \"pull\": docker pull web failed; the fleet still runs the "+
			"previous version", fleetGroup, refresh, status)
	}
	// A rolling deploy: new hosts first (max healthy 200 percent), then the old ones go.
	f.routing = []string{old, version}
	fresh := f.instances(version, len(f.group.Instances))
	f.mu.Unlock()
	time.Sleep(30 * time.Millisecond)
	f.mu.Lock()
	if f.gapOnRoll {
		f.gap = true
	}
	f.mu.Unlock()
	time.Sleep(60 * time.Millisecond)
	f.mu.Lock()
	f.gap = false
	f.routing = []string{version}
	f.group.Instances = fresh
	f.group.Version = version
	f.group.LastRefresh = &Refresh{ID: refresh, Status: RefreshSuccessful}
	f.mu.Unlock()
	return f.outputs(svcs), nil
}

func (f *fakeFleet) outputs(svcs Services) Outputs {
	urls, health, digests := map[string]string{}, map[string]string{}, map[string]string{}
	for _, svc := range svcs {
		name := svc["name"].(string)
		urls[name] = "https://" + name + ".example.com/"
		health[name] = f.health.URL + "/" + name + "/health"
		env, _ := svc["env"].(map[string]any)
		digests[name] = fmt.Sprintf("repo/%s@sha256:%064d", name, len(env)+1)
	}
	return Outputs{ServiceURLs: urls, HealthURLs: health, ImageDigests: digests, FleetGroup: fleetGroup,
		TemplateVersion: f.group.Version}
}

func runFleetSuite(t *testing.T, f *fakeFleet) (string, error) {
	o, err := Parse([]string{"-stack", "pr-e2e-1a2b", "-interval", "10ms", "-tail", "20ms", "-scan-wait", "0s",
		"-request-timeout", "1s", "-hosting", "fleet"})
	require.NoError(t, err)
	o.HealthTimeout = 300 * time.Millisecond // shorter than the flag allows: a group that never settles fails fast
	var out strings.Builder
	s := &Suite{Options: o, Cloud: f, Out: &out, HealthInterval: 5 * time.Millisecond, ScanEvery: time.Millisecond,
		Scanner: Scanner{Tags: &fakeTags{}, States: fakeStates{}}, FrontDoor: f.door,
		Fleet: FleetCheck{Groups: f, Interval: 5 * time.Millisecond}}
	err = s.Run(t.Context())
	return out.String(), err
}

func TestTheFleetScenarioPassesAgainstAFleetThatKeepsItsPromises(t *testing.T) {
	t.Parallel()
	f := newFakeFleet(t)
	out, err := runFleetSuite(t, f)
	require.NoError(t, err, out)
	assert.True(t, f.destroy)
	for _, want := range []string{
		"step front door: certificate, TLS 1.2+, HSTS, HTTP redirect ok",
		"step rolling deploy of a new version under load ok",
		"request loop against api.example.com: ",
		"0 failed",
		"the deploy failed as it must: instance refresh r-6 of group " + fleetGroup + " ended RollbackSuccessful",
		"after the rollback every instance of " + fleetGroup + " runs version 2: i-00000000000000004 " +
			"i-00000000000000005",
		"step a failing version is rolled back ok",
		"group " + fleetGroup + ": instance refresh started",
		"a rolling deploy: the group's instance refresh replaces the hosts behind the front door",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "FAILED")
	assert.NotContains(t, out, "roll back by pinned digest", "the fleet scenario replaces the single host's steps")
}

func TestTheFleetScenarioCatchesBrokenPromises(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(*fakeFleet)
		step  string
		says  string
	}{
		{"requests fail during the rolling deploy", func(f *fakeFleet) { f.gapOnRoll = true },
			"rolling deploy of a new version under load", "requests to api.example.com failed during the deploy"},
		{"a new version keeps the launch template version", func(f *fakeFleet) { f.sameVersion = true },
			"rolling deploy of a new version under load", "still launches version 1"},
		{"the failing version takes traffic", func(f *fakeFleet) { f.failingServes = true },
			"a failing version is rolled back", "traffic did not stay on the previous version"},
		{"the failing version's deploy succeeds", func(f *fakeFleet) { f.failingSucceeds = true },
			"a failing version is rolled back", "the deploy succeeded"},
		{"the refresh fails without a rollback", func(f *fakeFleet) { f.failedNotRollback = true },
			"a failing version is rolled back", "ended Failed, not RollbackSuccessful"},
		{"an instance stays on the failing version", func(f *fakeFleet) { f.leftOnFailing = true },
			"a failing version is rolled back", "runs version 3, not 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeFleet(t)
			tc.fault(f)
			out, err := runFleetSuite(t, f)
			require.Error(t, err, out)
			assert.Contains(t, err.Error(), "step "+tc.step+":")
			assert.Contains(t, err.Error(), tc.says)
			assert.True(t, f.destroy, "the stack is destroyed after a failure too")
		})
	}
}

func TestGroupSettledNamesWhatIsNotAtRest(t *testing.T) {
	ok := GroupState{Name: "g", Min: 2, Desired: 2, Version: "3", Instances: []GroupInstance{
		{"i-1", "3", InService, Healthy}, {"i-2", "3", InService, Healthy}}}
	require.NoError(t, ok.settled())
	for _, tc := range []struct {
		name   string
		change func(g *GroupState)
		says   string
	}{
		{"an instance still launching", func(g *GroupState) { g.Instances[0].Lifecycle = "Pending" }, "i-1 is Pending"},
		{"an old instance still going", func(g *GroupState) {
			g.Instances = append(g.Instances, GroupInstance{"i-0", "2", "Terminating", Healthy})
		}, "i-0 is Terminating"},
		{"an unhealthy instance", func(g *GroupState) { g.Instances[1].Health = "Unhealthy" }, "i-2 is Unhealthy"},
		{"an instance on another version", func(g *GroupState) { g.Instances[1].Version = "2" },
			"i-2 runs version 2, not 3"},
		{"fewer than desired", func(g *GroupState) { g.Instances = g.Instances[:1] }, "1 instance(s), fewer than"},
		{"no version", func(g *GroupState) { g.Version = "" }, "names no launch template version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := ok
			g.Instances = append([]GroupInstance(nil), ok.Instances...)
			tc.change(&g)
			assert.ErrorContains(t, g.settled(), tc.says)
		})
	}
}

func TestParseRefreshFailureReadsTheRolloutsError(t *testing.T) {
	msg := `stack pr-e2e-1: up: rolling deploy of group appstack-pr-e2e-1-app (instance refresh 08b91cf7-8fa6) ended ` +
		`RollbackSuccessful: host i-0abc failed its boot at step "pull": manifest unknown; Auto Scaling: ` +
		`instance refresh failed; the fleet still runs the previous version`
	got, ok := ParseRefreshFailure(msg)
	require.True(t, ok)
	assert.Equal(t, RefreshFailure{Group: "appstack-pr-e2e-1-app", RefreshID: "08b91cf7-8fa6",
		Status: RollbackSuccessful, Reason: `host i-0abc failed its boot at step "pull": manifest unknown; Auto ` +
			`Scaling: instance refresh failed`}, got)
	_, ok = ParseRefreshFailure("host i-1 is not ready")
	assert.False(t, ok)
}

func TestWaitSettledWaitsForTheGroupAndGivesUpNamingItsState(t *testing.T) {
	f := newFakeFleet(t)
	f.group = GroupState{Name: "g", Min: 1, Desired: 1, Version: "2", Instances: []GroupInstance{
		{"i-1", "1", "Terminating", Healthy}, {"i-2", "2", InService, Healthy}}}
	go func() {
		time.Sleep(30 * time.Millisecond)
		f.mu.Lock()
		f.group.Instances = f.group.Instances[1:]
		f.mu.Unlock()
	}()
	check := FleetCheck{Groups: f, Interval: 5 * time.Millisecond}
	g, err := check.WaitSettled(t.Context(), "g", time.Second)
	require.NoError(t, err)
	assert.Len(t, g.Instances, 1)

	f.mu.Lock()
	f.group.Instances[0].Health = "Unhealthy"
	f.mu.Unlock()
	_, err = check.WaitSettled(t.Context(), "g", 30*time.Millisecond)
	assert.ErrorContains(t, err, "group g did not settle within 30ms: i-2 is Unhealthy")
	_, err = FleetCheck{}.WaitSettled(t.Context(), "g", time.Second)
	assert.ErrorContains(t, err, "no Auto Scaling reader")
}

func TestHostingFlagTakesSingleOrFleet(t *testing.T) {
	o, err := Parse([]string{"-hosting", "fleet"})
	require.NoError(t, err)
	assert.Equal(t, FleetHosting, o.Hosting)
	o, err = Parse(nil)
	require.NoError(t, err)
	assert.Empty(t, o.Hosting, "default: the base stack's hosting")
	_, err = Parse([]string{"-hosting", "cluster"})
	require.ErrorIs(t, err, ErrUsage)
	assert.ErrorContains(t, err, `-hosting: "cluster": want single or fleet`)
}

func TestAFleetTimelineShowsTheRolloutNotAnAddressSwitch(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tl := &Timeline{Label: "new version", Start: start, End: start.Add(3 * time.Minute), Fleet: true}
	tl.Add(Event{At: start.Add(time.Minute), Message: "group g: instance refresh r-1 started: version 3"})
	tl.Add(Event{At: start.Add(2 * time.Minute), Message: "a line of something else"})
	var b strings.Builder
	tl.Print(&b)
	assert.Contains(t, b.String(), "+1m0s    group g: instance refresh r-1 started: version 3")
	assert.NotContains(t, b.String(), "something else")
	assert.NotContains(t, b.String(), "no switch")
	assert.Contains(t, b.String(), "a rolling deploy: the group's instance refresh replaces the hosts")
}
