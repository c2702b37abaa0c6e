package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Outputs are the stack outputs the suite reads (infra.Program exports them).
type Outputs struct {
	ServiceURLs  map[string]string `json:"serviceUrls"`
	HealthURLs   map[string]string `json:"healthUrls"`
	PublicIP     string            `json:"publicIp"`
	InstanceID   string            `json:"instanceId"`
	ImageDigests map[string]string `json:"imageDigests"`
	// FleetGroup and TemplateVersion are a fleet's Auto Scaling group and the launch template version its hosts
	// run (fleet stacks only).
	FleetGroup      string `json:"fleetGroup"`
	TemplateVersion string `json:"templateVersion"`
}

// ParseOutputs reads the outputs from their plain values and checks that the suite has what it needs for a stack
// of that hosting (appstack:hosting; "" is single): a single host has an address and an instance id, a fleet
// names its Auto Scaling group.
func ParseOutputs(values map[string]any, hosting string) (Outputs, error) {
	raw, err := json.Marshal(values)
	if err != nil {
		return Outputs{}, fmt.Errorf("stack outputs: %w", err)
	}
	var o Outputs
	if err := json.Unmarshal(raw, &o); err != nil {
		return Outputs{}, fmt.Errorf("stack outputs: %w", err)
	}
	need := map[string]bool{"serviceUrls": len(o.ServiceURLs) == 0, "healthUrls": len(o.HealthURLs) == 0,
		"imageDigests": len(o.ImageDigests) == 0}
	if hosting == FleetHosting {
		need["fleetGroup"] = o.FleetGroup == ""
	} else {
		need["publicIp"], need["instanceId"] = o.PublicIP == "", o.InstanceID == ""
	}
	var missing []string
	for name, empty := range need {
		if empty {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Outputs{}, fmt.Errorf("stack outputs: missing %s", strings.Join(missing, ", "))
	}
	return o, nil
}

// Stack is the ephemeral stack under test.
type Stack interface {
	// Name is the stack's name.
	Name() string
	// Services returns the JSON value of appstack:services.
	Services(ctx context.Context) (string, error)
	// SetServices sets appstack:services to a JSON value.
	SetServices(ctx context.Context, value string) error
	// Hosting is the stack's appstack:hosting: single or fleet.
	Hosting(ctx context.Context) (string, error)
	// Up runs `pulumi up`, handing each engine event to sink as it arrives, and returns the outputs.
	Up(ctx context.Context, sink func(Event)) (Outputs, error)
	// Destroy destroys the stack's resources and removes the stack.
	Destroy(ctx context.Context) error
}

// Cloud creates the ephemeral stack.
type Cloud interface {
	// Create creates o.Stack with o.Base's configuration, the ephemeral profile and an expiry o.TTL from now (and
	// o.Region, when set). It refuses a stack that already exists.
	Create(ctx context.Context, o Options) (Stack, error)
}

// Suite runs the scenario.
type Suite struct {
	Options Options
	Cloud   Cloud
	Scanner Scanner
	// Out receives the progress, the timelines and the summary.
	Out io.Writer
	// HealthInterval is the pause between health polls. Default 5s.
	HealthInterval time.Duration
	// ScanEvery is the pause between leftover scans. Default 30s.
	ScanEvery time.Duration
	// FrontDoor checks a stack with a domain (every service URL https). Default: the system's roots and network.
	FrontDoor FrontDoorCheck
	// Fleet reads a fleet stack's Auto Scaling group. Required for a fleet stack (appstack:hosting: fleet).
	Fleet FleetCheck

	results []stepResult
	fleet   bool // the stack is a fleet (appstack:hosting: fleet)
}

type stepResult struct {
	name string
	took time.Duration
	err  error
}

func (s *Suite) logf(format string, args ...any) {
	fmt.Fprintf(s.Out, "e2e: "+format+"\n", args...)
}

// step runs one named step and records its result.
func (s *Suite) step(name string, f func() error) error {
	s.logf("step %s", name)
	start := time.Now()
	err := f()
	s.results = append(s.results, stepResult{name, time.Since(start), err})
	if err != nil {
		s.logf("step %s FAILED: %v", name, err)
		return fmt.Errorf("step %s: %w", name, err)
	}
	s.logf("step %s ok (%s)", name, time.Since(start).Round(time.Second))
	return nil
}

// Run creates the stack, runs every step and always destroys the stack (unless Options.Keep and a step
// failed), then checks that nothing tagged with it remains. It prints a summary of every step.
func (s *Suite) Run(ctx context.Context) (err error) {
	if s.HealthInterval == 0 {
		s.HealthInterval = 5 * time.Second
	}
	if s.ScanEvery == 0 {
		s.ScanEvery = 30 * time.Second
	}
	if s.Scanner.Log == nil {
		s.Scanner.Log = s.Out
	}
	defer s.summary()
	var st Stack
	if err := s.step("create "+s.Options.Stack, func() error {
		var err error
		st, err = s.Cloud.Create(ctx, s.Options)
		return err
	}); err != nil {
		return err
	}
	defer func() {
		if err != nil && s.Options.Keep {
			s.logf("-keep: stack %s stays for inspection; destroy it with: go run ./cmd/stackctl destroy -stack %s "+
				"(or the reaper does after its expiry)", st.Name(), st.Name())
			return
		}
		// Clean up even when the run was interrupted.
		clean := context.WithoutCancel(ctx)
		derr := s.step("destroy", func() error { return st.Destroy(clean) })
		if derr == nil {
			derr = s.step("no leftovers", func() error {
				return s.Scanner.WaitClean(clean, st.Name(), s.Options.ScanWait, s.ScanEvery)
			})
		}
		err = errors.Join(err, derr)
	}()
	return s.scenario(ctx, st)
}

func (s *Suite) scenario(ctx context.Context, st Stack) error {
	raw, err := st.Services(ctx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", ServicesKey, err)
	}
	v1, err := ParseServices(raw)
	if err != nil {
		return err
	}
	hosting, err := st.Hosting(ctx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", HostingKey, err)
	}
	if hosting == FleetHosting {
		s.fleet = true
		return s.fleetScenario(ctx, st, v1)
	}
	var first, second Outputs
	if err := s.step("first deploy", func() error {
		out, err := s.deployOK(ctx, st, "first version", nil)
		if err != nil {
			return err
		}
		first = out
		return WaitHealthy(ctx, out.HealthURLs, s.Options.HealthTimeout, s.HealthInterval)
	}); err != nil {
		return err
	}
	// Only a stack with a domain has a front door: its certificates, TLS versions, HSTS and redirect are checked
	// from outside against the real hostnames.
	if HasFrontDoor(first.ServiceURLs) {
		if err := s.step("front door: certificate, TLS 1.2+, HSTS, HTTP redirect", func() error {
			return s.FrontDoor.Run(ctx, first.ServiceURLs)
		}); err != nil {
			return err
		}
	}
	v2 := v1.WithVersion("2")
	if err := s.step("switch to a new version under load", func() error {
		if err := st.SetServices(ctx, v2.JSON()); err != nil {
			return err
		}
		out, err := s.deployOK(ctx, st, "new version", &first)
		if err != nil {
			return err
		}
		if out.InstanceID == first.InstanceID {
			return fmt.Errorf("the new version runs on the same host %s: a changed env must make a new host",
				out.InstanceID)
		}
		second = out
		return WaitHealthy(ctx, out.HealthURLs, s.Options.HealthTimeout, s.HealthInterval)
	}); err != nil {
		return err
	}
	failing, err := v2.Failing(s.Options.FailWith, second.ImageDigests[v2.First()])
	if err != nil {
		return err
	}
	var failedHost string
	if err := s.step("deploy a version that fails its boot", func() error {
		if err := st.SetServices(ctx, failing.JSON()); err != nil {
			return err
		}
		host, err := s.failingDeploy(ctx, st, "failing version", &second)
		failedHost = host
		return err
	}); err != nil {
		return err
	}
	if err := s.step("re-run the failing deploy", func() error {
		host, err := s.failingDeploy(ctx, st, "failing version, re-run", &second)
		if err != nil {
			return err
		}
		if host == failedHost {
			return fmt.Errorf("the re-run reported the same failed host %s: it must boot a fresh host and gate it "+
				"again", host)
		}
		return nil
	}); err != nil {
		return err
	}
	return s.step("roll back by pinned digest", func() error {
		pinned, err := v1.Pinned(first.ImageDigests)
		if err != nil {
			return err
		}
		if err := st.SetServices(ctx, pinned.JSON()); err != nil {
			return err
		}
		out, err := s.deployOK(ctx, st, "rollback to the first digest", &second)
		if err != nil {
			return err
		}
		for name, want := range first.ImageDigests {
			if got := out.ImageDigests[name]; got != want {
				return fmt.Errorf("after the rollback %s runs %s, not the first deploy's %s", name, got, want)
			}
		}
		if out.InstanceID == second.InstanceID {
			return fmt.Errorf("the rollback runs on the same host %s", out.InstanceID)
		}
		return WaitHealthy(ctx, out.HealthURLs, s.Options.HealthTimeout, s.HealthInterval)
	})
}

// deploy runs `pulumi up` and prints its timeline. With serving set, a request loop runs against serving's
// address throughout (and Options.Tail after): loopErr says whether any request failed.
func (s *Suite) deploy(ctx context.Context, st Stack, label string, serving *Outputs) (out Outputs, upErr, loopErr error) {
	var loopDone chan loopOutcome
	loopCtx, stopLoop := context.WithCancel(ctx)
	defer stopLoop()
	address := ""
	if serving != nil {
		address = frontDoorAddress(*serving)
		loop := Loop{Address: address, URLs: sortedValues(serving.ServiceURLs), Interval: s.Options.Interval,
			Timeout: s.Options.RequestTimeout, Bound: s.Options.LoopBound, FrontDoor: HasFrontDoor(serving.ServiceURLs),
			RootCAs: s.FrontDoor.RootCAs, DialContext: s.FrontDoor.DialContext}
		loopDone = make(chan loopOutcome, 1)
		go func() {
			r, err := loop.Run(loopCtx)
			loopDone <- loopOutcome{r, err}
		}()
		s.logf("request loop started against %s", strings.Join(loop.URLs, " "))
	}
	tl := &Timeline{Label: label, Start: time.Now(), Fleet: s.fleet}
	out, upErr = st.Up(ctx, tl.Add)
	tl.End, tl.Err = time.Now(), upErr
	if serving != nil {
		select {
		case <-time.After(s.Options.Tail):
		case <-ctx.Done():
		}
		stopLoop()
		res := <-loopDone
		loopErr = res.check(s, address)
		if upErr == nil && serving.PublicIP != "" && out.PublicIP != serving.PublicIP {
			loopErr = errors.Join(loopErr, fmt.Errorf("the address changed from %s to %s: it must never be replaced",
				serving.PublicIP, out.PublicIP))
		}
	}
	tl.Print(s.Out)
	return out, upErr, loopErr
}

// deployOK is a deploy that must succeed with no failed request.
func (s *Suite) deployOK(ctx context.Context, st Stack, label string, serving *Outputs) (Outputs, error) {
	out, upErr, loopErr := s.deploy(ctx, st, label, serving)
	return out, errors.Join(upErr, loopErr)
}

type loopOutcome struct {
	result LoopResult
	err    error
}

func (o loopOutcome) check(s *Suite, address string) error {
	if o.err != nil {
		return o.err
	}
	r := o.result
	s.logf("request loop against %s: %s", address, r)
	for _, f := range r.Failures {
		s.logf("  failed request %s", f)
	}
	if r.Bounded {
		return fmt.Errorf("the request loop reached its bound (%s) before the deploy finished; raise -loop-bound",
			s.Options.LoopBound)
	}
	if r.Failed > 0 {
		return fmt.Errorf("%d of %d requests to %s failed during the deploy", r.Failed, r.Requests, address)
	}
	if r.Requests == 0 {
		return fmt.Errorf("the request loop sent no request")
	}
	return nil
}

var (
	bootFailure = regexp.MustCompile(`failed its boot at step "?([a-z]+)"?: ([^\n]*)`)
	notReady    = regexp.MustCompile(`host (i-[0-9a-f]{8,17}) is not ready`)
	failedHost  = regexp.MustCompile(`host (i-[0-9a-f]{8,17})`)
)

// failingDeploy deploys a version that must fail its boot with traffic staying on serving, and returns the id of
// the host that failed.
func (s *Suite) failingDeploy(ctx context.Context, st Stack, label string, serving *Outputs) (string, error) {
	_, err, loopErr := s.deploy(ctx, st, label, serving)
	if err == nil {
		return "", errors.Join(loopErr,
			errors.New("the deploy succeeded: a version that fails its boot must not take the address"))
	}
	if loopErr != nil {
		return "", fmt.Errorf("traffic did not stay on the serving host: %w", loopErr)
	}
	msg := err.Error()
	host := ""
	if m := notReady.FindStringSubmatch(msg); m != nil {
		host = m[1]
	} else if m := failedHost.FindStringSubmatch(msg); m != nil {
		host = m[1]
	}
	m := bootFailure.FindStringSubmatch(msg)
	if m == nil || host == "" {
		return "", fmt.Errorf("the deploy failed, but not with a failed boot of a named host: %w", err)
	}
	s.logf("the deploy failed as it must: host %s failed its boot at step %q: %s", host, m[1], m[2])
	if m[1] != s.Options.FailWith {
		return host, fmt.Errorf("host %s failed at step %q, not at %q as this version was made to", host, m[1],
			s.Options.FailWith)
	}
	// The loop ran through it; traffic must also still answer now.
	if err := WaitHealthy(ctx, serving.HealthURLs, s.Options.HealthTimeout, s.HealthInterval); err != nil {
		return host, fmt.Errorf("after the failed deploy the serving host no longer answers: %w", err)
	}
	return host, nil
}

func sortedValues(m map[string]string) []string {
	return slices.Sorted(maps.Values(m))
}

// summary prints every step with its result and duration.
func (s *Suite) summary() {
	fmt.Fprintln(s.Out, "e2e summary:")
	for _, r := range s.results {
		status := "ok"
		if r.err != nil {
			status = "FAILED"
		}
		fmt.Fprintf(s.Out, "  %-6s %-40s %s\n", status, r.name, r.took.Round(time.Second))
	}
}
