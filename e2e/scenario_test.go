package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const stagingServices = `[{"name":"web","port":8080,"build":{"context":"app"}},{"name":"api","port":8081,"image":"public.ecr.aws/x/api@sha256:` +
	`1111111111111111111111111111111111111111111111111111111111111111","healthPath":"/healthz"}]`

func TestServiceEdits(t *testing.T) {
	v1, err := ParseServices(stagingServices)
	require.NoError(t, err)
	v2 := v1.WithVersion("2")
	assert.JSONEq(t, `{"E2E_VERSION":"2"}`, jsonOf(t, v2[0]["env"]))
	assert.Nil(t, v1[0]["env"], "the edits copy: version 1 stays as it was")
	assert.Nil(t, v2[1]["env"], "only the first service changes")
	assert.Equal(t, "/healthz", v2[1]["healthPath"], "keys the suite does not edit survive")

	failing, err := v2.Failing(FailPull, "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/web@sha256:aaaa")
	require.NoError(t, err)
	assert.Equal(t, "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/web@"+MissingDigest(), failing[0]["image"])
	assert.Nil(t, failing[0]["build"], "one of build and image")
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, MissingDigest())
	_, err = v2.Failing(FailPull, "")
	assert.Error(t, err)

	failing, err = v2.Failing(FailHealth, "")
	require.NoError(t, err)
	assert.Equal(t, NeverReadyPath, failing[0]["readyPath"])
	assert.NotNil(t, failing[0]["build"])

	pinned, err := v1.Pinned(map[string]string{"web": "repo/web@sha256:abc"})
	require.NoError(t, err)
	assert.Equal(t, "repo/web@sha256:abc", pinned[0]["image"])
	assert.Nil(t, pinned[0]["build"])
	_, err = v1.Pinned(map[string]string{"web": "repo/web:latest"})
	assert.Error(t, err, "a rollback pins a digest, never a tag")

	for _, bad := range []string{`{}`, `[]`, `[{"port":1}]`, `not json`} {
		_, err := ParseServices(bad)
		assert.Error(t, err, bad)
	}
}

func jsonOf(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// fakeApp is a stack as appstack deploys it, on loopback: the address is an httptest server that forwards to the
// host it is associated with. Up boots a new host for every change; a host whose first service is pinned to
// MissingDigest fails at pull, one whose readyPath is NeverReadyPath fails at health, and then the address stays.
// Its faults make it behave as the bugs the suite must catch would.
type fakeApp struct {
	t         *testing.T
	services  string
	address   *httptest.Server
	serving   atomic.Pointer[string] // the host the address forwards to: "" none, or an instance id
	broken    map[string]bool        // hosts that do not answer
	next      int
	destroyed bool
	mu        sync.Mutex

	// Faults.
	gapOnSwitch        bool // the address refuses connections for a moment during a switch
	switchToFailed     bool // a failed boot takes the address anyway
	sameHostOnRerun    bool // a re-run reports the host that failed before instead of booting one
	wrongRollback      bool // the rollback runs another digest
	leaveSecurityGroup bool
	gap                atomic.Bool
}

func newFakeApp(t *testing.T) *fakeApp {
	a := &fakeApp{t: t, services: stagingServices, broken: map[string]bool{}}
	a.address = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		host := *a.serving.Load()
		broken := a.broken[host]
		a.mu.Unlock()
		if host == "" || broken || a.gap.Load() {
			dropConnection(w)
			return
		}
		fmt.Fprintf(w, "hello from %s\n", host)
	}))
	empty := ""
	a.serving.Store(&empty)
	t.Cleanup(a.address.Close)
	return a
}

func (a *fakeApp) Create(_ context.Context, o Options) (Stack, error) {
	return &fakeStack{a, o.Stack}, nil
}

type fakeStack struct {
	a    *fakeApp
	name string
}

func (s *fakeStack) Name() string                                  { return s.name }
func (s *fakeStack) Services(context.Context) (string, error)      { return s.a.services, nil }
func (s *fakeStack) SetServices(_ context.Context, v string) error { s.a.services = v; return nil }
func (s *fakeStack) Hosting(context.Context) (string, error)       { return SingleHosting, nil }
func (s *fakeStack) Destroy(context.Context) error                 { s.a.destroyed = true; return nil }

func (s *fakeStack) Up(_ context.Context, sink func(Event)) (Outputs, error) {
	a := s.a
	svcs, err := ParseServices(a.services)
	require.NoError(a.t, err)
	a.next++
	id := fmt.Sprintf("i-%017x", a.next)
	if a.sameHostOnRerun && strings.Contains(a.services, MissingDigest()) && a.next == 4 {
		id = fmt.Sprintf("i-%017x", 3)
	}
	emit := func(e Event) { e.At = time.Now(); sink(e); time.Sleep(10 * time.Millisecond) }
	emit(Event{Type: InstanceType, Op: "create-replacement"})
	step := ""
	switch {
	case svcs[0]["image"] == "repo/web@"+MissingDigest():
		step = "pull"
	case svcs[0]["readyPath"] == NeverReadyPath:
		step = "health"
	}
	emit(Event{Message: "boot timeline " + id + ": install=1s pull=1s secret=0s start=1s health=2s total=5s"})
	if step != "" {
		a.mu.Lock()
		a.broken[id] = true
		a.mu.Unlock()
		if a.switchToFailed {
			a.serving.Store(&id)
		}
		emit(Event{Type: AssociationType, Op: "update", Failed: true})
		return Outputs{}, fmt.Errorf("stack e2e: up: host %s is not ready: the new host failed its boot at step %q: "+
			"docker pull web failed after 5 attempts. The Elastic IP stays on the previous host", id, step)
	}
	if a.gapOnSwitch && *a.serving.Load() != "" {
		a.gap.Store(true)
		time.Sleep(100 * time.Millisecond)
		a.gap.Store(false)
	}
	a.serving.Store(&id)
	emit(Event{Type: AssociationType, Op: "update"})
	digests := map[string]string{}
	for _, svc := range svcs {
		name := svc["name"].(string)
		switch img, _ := svc["image"].(string); {
		case img != "":
			digests[name] = img
		default:
			env, _ := svc["env"].(map[string]any)
			digests[name] = fmt.Sprintf("repo/%s@sha256:%064d", name, len(env)+1)
		}
	}
	if a.wrongRollback && a.next == 5 {
		digests["web"] = "repo/web@sha256:" + strings.Repeat("9", 64)
	}
	emit(Event{Type: InstanceType, Op: "delete-replaced"})
	urls, health := map[string]string{}, map[string]string{}
	for name := range digests {
		urls[name] = a.address.URL + "/" + name + "/"
		health[name] = a.address.URL + "/" + name + "/health"
	}
	return Outputs{ServiceURLs: urls, HealthURLs: health, PublicIP: "127.0.0.1", InstanceID: id,
		ImageDigests: digests}, nil
}

// tagClient lists what the stack left: a security group when that fault is on, and the hosts' terminated
// instances, which the tagging API goes on listing.
func (a *fakeApp) tagClient() *fakeTags {
	tags := &fakeTags{}
	for i := 1; i <= 5; i++ {
		tags.resources = append(tags.resources, tagged(fmt.Sprintf("%sinstance/i-%017x", arnPrefix, i), "pr-e2e-1a2b"))
	}
	if a.leaveSecurityGroup {
		tags.resources = append(tags.resources, tagged(arnPrefix+"security-group/sg-0bbbbbbbbbbbbbbbb", "pr-e2e-1a2b"))
	}
	return tags
}

func runSuite(t *testing.T, a *fakeApp) (string, error) {
	o, err := Parse([]string{"-stack", "pr-e2e-1a2b", "-interval", "10ms", "-tail", "30ms", "-scan-wait", "0s",
		"-health-timeout", "10s", "-request-timeout", "1s"})
	require.NoError(t, err)
	var out strings.Builder
	s := &Suite{Options: o, Cloud: a, Out: &out, HealthInterval: 10 * time.Millisecond, ScanEvery: time.Millisecond,
		Scanner: Scanner{Tags: a.tagClient(), States: fakeStates{}}}
	err = s.Run(t.Context())
	return out.String(), err
}

func TestTheSuitePassesAgainstAStackThatKeepsItsPromises(t *testing.T) {
	t.Parallel()
	a := newFakeApp(t)
	out, err := runSuite(t, a)
	require.NoError(t, err, out)
	assert.True(t, a.destroyed)
	for _, want := range []string{
		"step switch to a new version under load ok",
		"host i-00000000000000003 failed its boot at step \"pull\"",
		"host i-00000000000000004 failed its boot at step \"pull\"",
		"step roll back by pinned digest ok",
		`timeline of deploy "new version"`,
		"address switched to the new host",
		"boot timeline i-00000000000000002: install=1s pull=1s secret=0s start=1s health=2s total=5s",
		"no switch: the address stayed on the host it was on",
		"0 failed",
		"leftover scan of stack=pr-e2e-1a2b: 0 left, 5 listed but gone",
		"e2e summary:",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "FAILED")
	assert.Equal(t, `[{"image":"repo/web@sha256:`+fmt.Sprintf("%064d", 1)+`","name":"web","port":8080},`+
		`{"healthPath":"/healthz","image":"public.ecr.aws/x/api@sha256:`+strings.Repeat("1", 64)+`","name":"api","port":8081}]`,
		a.services, "the rollback pins the first deploy's digests")
}

func TestTheSuiteCatchesBrokenPromises(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(*fakeApp)
		step  string
		says  string
	}{
		{"requests fail during the switch", func(a *fakeApp) { a.gapOnSwitch = true },
			"switch to a new version under load", "requests to 127.0.0.1 failed during the deploy"},
		{"a failed boot takes the address", func(a *fakeApp) { a.switchToFailed = true },
			"deploy a version that fails its boot", "traffic did not stay on the serving host"},
		{"a re-run does not boot a fresh host", func(a *fakeApp) { a.sameHostOnRerun = true },
			"re-run the failing deploy", "the re-run reported the same failed host i-00000000000000003"},
		{"the rollback runs another digest", func(a *fakeApp) { a.wrongRollback = true },
			"roll back by pinned digest", "not the first deploy's repo/web@sha256:"},
		{"destroy leaves a resource", func(a *fakeApp) { a.leaveSecurityGroup = true },
			"no leftovers", "security-group/sg-0bbbbbbbbbbbbbbbb (still tagged with the stack)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newFakeApp(t)
			tc.fault(a)
			out, err := runSuite(t, a)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "step "+tc.step+":")
			assert.Contains(t, err.Error(), tc.says)
			assert.True(t, a.destroyed, "the stack is destroyed after a failure too")
			assert.Contains(t, out, "FAILED")
		})
	}
}

func TestKeepLeavesAFailedStackForInspection(t *testing.T) {
	t.Parallel()
	a := newFakeApp(t)
	a.gapOnSwitch = true
	o, err := Parse([]string{"-stack", "pr-e2e-1a2b", "-interval", "10ms", "-tail", "30ms", "-keep"})
	require.NoError(t, err)
	var out strings.Builder
	s := &Suite{Options: o, Cloud: a, Out: &out, HealthInterval: 10 * time.Millisecond,
		Scanner: Scanner{Tags: a.tagClient(), States: fakeStates{}}}
	require.Error(t, s.Run(t.Context()))
	assert.False(t, a.destroyed)
	assert.Contains(t, out.String(), "stackctl destroy -stack pr-e2e-1a2b")
}

func TestParseOutputsNamesWhatIsMissing(t *testing.T) {
	_, err := ParseOutputs(map[string]any{"publicIp": "203.0.113.7", "serviceUrls": map[string]any{"web": "x"}},
		SingleHosting)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing healthUrls, imageDigests, instanceId")
	o, err := ParseOutputs(map[string]any{"publicIp": "203.0.113.7", "instanceId": "i-1",
		"serviceUrls": map[string]any{"web": "http://203.0.113.7:8080/"}, "healthUrls": map[string]any{"web": "h"},
		"imageDigests": map[string]any{"web": "r@sha256:1"}, "tableNames": map[string]any{"events": "t"}},
		SingleHosting)
	require.NoError(t, err)
	assert.Equal(t, "i-1", o.InstanceID)
	_, err = ParseOutputs(map[string]any{"publicIp": 7}, SingleHosting)
	assert.Error(t, errors.Unwrap(err))

	fleet := map[string]any{"serviceUrls": map[string]any{"web": "https://web.example.com/"},
		"healthUrls":   map[string]any{"web": "https://web.example.com/health"},
		"imageDigests": map[string]any{"web": "r@sha256:1"}}
	_, err = ParseOutputs(fleet, FleetHosting)
	assert.ErrorContains(t, err, "missing fleetGroup", "a fleet names its group")
	fleet["fleetGroup"] = "appstack-pr-e2e-1-app"
	o, err = ParseOutputs(fleet, FleetHosting)
	require.NoError(t, err, "a fleet's hosts are the group's: no address or instance id")
	assert.Equal(t, "appstack-pr-e2e-1-app", o.FleetGroup)
	_, err = ParseOutputs(fleet, SingleHosting)
	assert.ErrorContains(t, err, "missing instanceId, publicIp", "a single host needs both")
}
