package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The Auto Scaling states the fleet checks read (API_Instance, API_InstanceRefresh).
const (
	// InService is the lifecycle state of a group instance that is in service.
	InService = "InService"
	// Healthy is the health status of a group instance that passes the group's health checks (ELB for a fleet).
	Healthy = "Healthy"
	// RefreshSuccessful is the status of an instance refresh that replaced every instance.
	RefreshSuccessful = "Successful"
	// RollbackSuccessful is the status of an instance refresh that failed and was rolled back.
	RollbackSuccessful = "RollbackSuccessful"
)

// GroupInstance is one instance of an Auto Scaling group.
type GroupInstance struct {
	// ID is the instance id.
	ID string
	// Version is the launch template version it was launched from.
	Version string
	// Lifecycle is its lifecycle state (Pending, InService, Terminating, ...).
	Lifecycle string
	// Health is Healthy or Unhealthy.
	Health string
}

// Refresh is an instance refresh.
type Refresh struct {
	ID, Status, StatusReason string
}

// GroupState is what Auto Scaling says of a fleet's group.
type GroupState struct {
	// Name is the group's name.
	Name string
	// Min and Desired are its minimum size and desired capacity.
	Min, Desired int
	// Version is the launch template version its configuration launches.
	Version string
	// Instances are its instances, in any state.
	Instances []GroupInstance
	// LastRefresh is its newest instance refresh; nil when it never had one.
	LastRefresh *Refresh
}

func (g GroupState) String() string {
	parts := make([]string, 0, len(g.Instances))
	for _, i := range g.Instances {
		parts = append(parts, fmt.Sprintf("%s v%s %s/%s", i.ID, i.Version, i.Lifecycle, i.Health))
	}
	last := "none"
	if r := g.LastRefresh; r != nil {
		last = fmt.Sprintf("%s %s", r.ID, r.Status)
		if r.StatusReason != "" {
			last += " (" + r.StatusReason + ")"
		}
	}
	return fmt.Sprintf("group %s launches version %s, desired %d: [%s]; last instance refresh: %s", g.Name,
		g.Version, g.Desired, strings.Join(parts, ", "), last)
}

// settled says why the group is not yet at rest on one version, or nil when it is: at least its desired capacity
// (and its minimum) in service and healthy, every instance on the version its configuration launches, none
// coming or going.
func (g GroupState) settled() error {
	var problems []string
	if g.Version == "" {
		problems = append(problems, "its configuration names no launch template version")
	}
	for _, i := range g.Instances {
		switch {
		case i.Lifecycle != InService:
			problems = append(problems, fmt.Sprintf("%s is %s", i.ID, i.Lifecycle))
		case i.Health != Healthy:
			problems = append(problems, fmt.Sprintf("%s is %s", i.ID, i.Health))
		case i.Version != g.Version:
			problems = append(problems, fmt.Sprintf("%s runs version %s, not %s", i.ID, i.Version, g.Version))
		}
	}
	if n := len(g.Instances); n < max(g.Desired, g.Min, 1) {
		problems = append(problems, fmt.Sprintf("%d instance(s), fewer than the desired %d (minimum %d)", n,
			g.Desired, g.Min))
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// GroupReader reads an Auto Scaling group and its newest instance refresh.
type GroupReader interface {
	Group(ctx context.Context, name string) (GroupState, error)
}

// FleetCheck reads a fleet stack's group (its fleetGroup output) from Auto Scaling.
type FleetCheck struct {
	// Groups reads the group. Required for a fleet stack.
	Groups GroupReader
	// Interval is the pause between two reads while waiting for the group to settle. Default 10s.
	Interval time.Duration
}

// WaitSettled reads the group until it is at rest on one version (GroupState.settled), or fails at bound with
// the last state read.
func (f FleetCheck) WaitSettled(ctx context.Context, name string, bound time.Duration) (GroupState, error) {
	if f.Groups == nil {
		return GroupState{}, errors.New("fleet: no Auto Scaling reader (Suite.Fleet.Groups)")
	}
	interval := f.Interval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var last GroupState
	var why error
	for {
		g, err := f.Groups.Group(ctx, name)
		switch {
		case err != nil && ctx.Err() != nil:
			// cut short by the bound: keep the last real answer
		case err != nil:
			why = fmt.Errorf("reading group %s: %w", name, err)
		default:
			last, why = g, g.settled()
			if why == nil {
				return g, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("fleet: group %s did not settle within %s: %w (%s)", name, bound, why, last)
		case <-time.After(interval):
		}
	}
}

// refreshEnd reads the rolling deploy's failure from `pulumi up`'s error: the rollout reports
// `rolling deploy of group <name> (instance refresh <id>) ended <status>: <reason>; ...`.
var refreshEnd = regexp.MustCompile(`rolling deploy of group (\S+) \(instance refresh ([^)]*)\) ended ([A-Za-z]+): ` +
	`(.*?); (?:the fleet|$)`)

// RefreshFailure is a rolling deploy that ended without the new version.
type RefreshFailure struct {
	Group, RefreshID, Status, Reason string
}

// ParseRefreshFailure finds the rolling deploy's end in an error message.
func ParseRefreshFailure(msg string) (RefreshFailure, bool) {
	m := refreshEnd.FindStringSubmatch(msg)
	if m == nil {
		return RefreshFailure{}, false
	}
	return RefreshFailure{Group: m[1], RefreshID: m[2], Status: m[3], Reason: m[4]}, true
}

// frontDoorAddress names a fleet stack in the request loop's messages: its first service's hostname.
func frontDoorAddress(o Outputs) string {
	if o.PublicIP != "" {
		return o.PublicIP
	}
	for _, raw := range sortedValues(o.ServiceURLs) {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	return ""
}

// fleetScenario is the scenario of a fleet stack (appstack:hosting: fleet): a first deploy, the front door's
// checks, a rolling deploy of a new version under the request loop with no failed request and every instance on
// the new launch template version after it, then a version whose hosts fail their boot: the deploy must roll
// the instance refresh back without anyone's help, the loop must see no failed request (a host of that version answers
// nothing, so a request routed to one would fail), and afterwards every instance runs the previous version.
func (s *Suite) fleetScenario(ctx context.Context, st Stack, v1 Services) error {
	if s.Fleet.Groups == nil {
		return errors.New("fleet stack: the suite has no Auto Scaling reader (Suite.Fleet.Groups)")
	}
	var group string
	var first, second Outputs
	var firstGroup, secondGroup GroupState
	if err := s.step("first deploy", func() error {
		out, err := s.deployOK(ctx, st, "first version", nil)
		if err != nil {
			return err
		}
		first, group = out, out.FleetGroup
		if err := WaitHealthy(ctx, out.HealthURLs, s.Options.HealthTimeout, s.HealthInterval); err != nil {
			return err
		}
		firstGroup, err = s.Fleet.WaitSettled(ctx, group, s.Options.HealthTimeout)
		s.logf("%s", firstGroup)
		return err
	}); err != nil {
		return err
	}
	if err := s.step("front door: certificate, TLS 1.2+, HSTS, HTTP redirect", func() error {
		if !HasFrontDoor(first.ServiceURLs) {
			return fmt.Errorf("a fleet is served through the front door, but the serviceUrls are not all https: %v",
				first.ServiceURLs)
		}
		return s.FrontDoor.Run(ctx, first.ServiceURLs)
	}); err != nil {
		return err
	}
	v2 := v1.WithVersion("2")
	if err := s.step("rolling deploy of a new version under load", func() error {
		if err := st.SetServices(ctx, v2.JSON()); err != nil {
			return err
		}
		out, err := s.deployOK(ctx, st, "new version", &first)
		if err != nil {
			return err
		}
		second = out
		if out.FleetGroup != group {
			return fmt.Errorf("the fleet's group changed from %s to %s: a deploy must roll the same group", group,
				out.FleetGroup)
		}
		if err := WaitHealthy(ctx, out.HealthURLs, s.Options.HealthTimeout, s.HealthInterval); err != nil {
			return err
		}
		secondGroup, err = s.Fleet.WaitSettled(ctx, group, s.Options.HealthTimeout)
		s.logf("%s", secondGroup)
		if err != nil {
			return err
		}
		if secondGroup.Version == firstGroup.Version {
			return fmt.Errorf("group %s still launches version %s: a new version must roll out a new launch "+
				"template version", group, secondGroup.Version)
		}
		if r := secondGroup.LastRefresh; r == nil || r.Status != RefreshSuccessful {
			return fmt.Errorf("group %s: the new version is not the result of a successful instance refresh (%s)",
				group, secondGroup)
		}
		return nil
	}); err != nil {
		return err
	}
	failing, err := v2.Failing(s.Options.FailWith, second.ImageDigests[v2.First()])
	if err != nil {
		return err
	}
	return s.step("a failing version is rolled back", func() error {
		if err := st.SetServices(ctx, failing.JSON()); err != nil {
			return err
		}
		_, upErr, loopErr := s.deploy(ctx, st, "failing version", &second)
		if upErr == nil {
			return errors.Join(loopErr, errors.New("the deploy succeeded: a version whose hosts fail their boot "+
				"must be rolled back"))
		}
		if loopErr != nil {
			return fmt.Errorf("traffic did not stay on the previous version: %w", loopErr)
		}
		end, ok := ParseRefreshFailure(upErr.Error())
		if !ok {
			return fmt.Errorf("the deploy failed, but not with the end of a rolling deploy: %w", upErr)
		}
		s.logf("the deploy failed as it must: instance refresh %s of group %s ended %s: %s", end.RefreshID,
			end.Group, end.Status, end.Reason)
		if end.Status != RollbackSuccessful {
			return fmt.Errorf("instance refresh %s ended %s, not %s: %s", end.RefreshID, end.Status,
				RollbackSuccessful, end.Reason)
		}
		if err := WaitHealthy(ctx, second.HealthURLs, s.Options.HealthTimeout, s.HealthInterval); err != nil {
			return fmt.Errorf("after the rollback the fleet no longer answers: %w", err)
		}
		after, err := s.Fleet.WaitSettled(ctx, group, s.Options.HealthTimeout)
		s.logf("%s", after)
		if err != nil {
			return err
		}
		if after.Version != secondGroup.Version {
			return fmt.Errorf("after the rollback group %s launches version %s, not the previous %s", group,
				after.Version, secondGroup.Version)
		}
		if r := after.LastRefresh; r == nil || r.Status != RollbackSuccessful {
			return fmt.Errorf("group %s: its last instance refresh is not the rolled-back one (%s)", group, after)
		}
		ids := make([]string, 0, len(after.Instances))
		for _, i := range after.Instances {
			ids = append(ids, i.ID)
		}
		slices.Sort(ids)
		s.logf("after the rollback every instance of %s runs version %s: %s", group, after.Version,
			strings.Join(ids, " "))
		return nil
	})
}
