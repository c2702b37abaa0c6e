// Package rollout deploys a new launch template version to a fleet's Auto Scaling group with an instance refresh,
// follows it to the end and rolls it back when the new hosts fail.
//
// The refresh is started here, not by the provider's instance_refresh block: terraform-provider-aws (which
// pulumi-aws wraps) first moves the group to the new version with UpdateAutoScalingGroup and only then starts the
// refresh, so its auto rollback "rolls back" to the new version (hashicorp/terraform-provider-aws issue 34189;
// the fix, pull request 39007, was closed unmerged), and it returns without waiting for the refresh ("This
// resource does not wait for the instance refresh to complete", the resource's documentation). Here the group
// keeps its version and the refresh carries the new one as its DesiredConfiguration, which Auto Scaling writes
// to the group only when the refresh succeeds; auto rollback needs exactly that (API_RefreshPreferences:
// "A rollback is not supported ... There is no desired configuration specified for the instance refresh").
// docs/fleet.md walks through it with the sources.
package rollout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"appstack/components/readiness"
)

// API is the part of the Auto Scaling API a rollout calls; *autoscaling.Client implements it.
type API interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput,
		...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DescribeInstanceRefreshes(context.Context, *autoscaling.DescribeInstanceRefreshesInput,
		...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error)
	StartInstanceRefresh(context.Context, *autoscaling.StartInstanceRefreshInput,
		...func(*autoscaling.Options)) (*autoscaling.StartInstanceRefreshOutput, error)
	CancelInstanceRefresh(context.Context, *autoscaling.CancelInstanceRefreshInput,
		...func(*autoscaling.Options)) (*autoscaling.CancelInstanceRefreshOutput, error)
	RollbackInstanceRefresh(context.Context, *autoscaling.RollbackInstanceRefreshInput,
		...func(*autoscaling.Options)) (*autoscaling.RollbackInstanceRefreshOutput, error)
}

// MaxHealthyPercent is the most a refresh or a replacement may run above the desired capacity: it launches the
// new hosts and waits for them to be healthy before it terminates old ones. Auto Scaling takes 100-200, at most
// 100 points above the minimum (API_RefreshPreferences, API_InstanceMaintenancePolicy: "the difference between
// them cannot be greater than 100").
func MaxHealthyPercent(minHealthy int) int { return min(200, minHealthy+100) }

// DefaultInstanceWarmup is a fleet's instance warmup: how long a new host's metrics are left out of scaling, and a
// refresh waits after a new host is healthy before it goes on.
const DefaultInstanceWarmup = time.Minute

// Deadline is how long a refresh runs before it is rolled back: the new hosts boot within the ready timeout,
// possibly in two batches (a minimum healthy percentage below 100 replaces the capacity in more than one), and
// warm up; old hosts then drain before they go.
func Deadline(ready, warmup, drain time.Duration) time.Duration { return 2*ready + warmup + drain }

// WorstCase is the longest a fleet deploy's rollout runs: a refresh that reaches its Deadline, and the rollback
// that gets as long again (Rollout.Run). A refresh that succeeds takes at most its Deadline and then the ready
// timeout of the health check, which is shorter.
func WorstCase(ready, warmup, drain time.Duration) time.Duration {
	return 2 * Deadline(ready, warmup, drain)
}

// DefaultPoll is how often a rollout reads the refresh's state.
const DefaultPoll = 15 * time.Second

// Request is one rollout.
type Request struct {
	// Group is the Auto Scaling group's name. Required.
	Group string
	// Policy is the group's desired mixed instances policy: its launch template specification names the
	// template and the numbered version to roll out. Required.
	Policy *types.MixedInstancesPolicy
	// MinHealthyPercent is the share of the desired capacity kept in service, 0-100. Required.
	MinHealthyPercent int
	// InstanceWarmup is how long after a new host is in service and healthy the refresh waits before it counts
	// it updated. Optional: the group's default instance warmup.
	InstanceWarmup time.Duration
	// Fingerprint is what the new hosts run (readiness.Fingerprint); a new host's failed readiness signal for it
	// rolls the refresh back at once. Required.
	Fingerprint string
	// Timeout bounds the refresh: past it the rollout rolls back, and the rollback gets as long again.
	// Required.
	Timeout time.Duration
	// ReadyTimeout bounds the check that the version's hosts serve (ready and healthy in every target group)
	// once the group runs it. Default Timeout.
	ReadyTimeout time.Duration
	// Min is how many hosts of the version must serve. Default the group's minimum size, at least 1.
	Min int
}

// Rollout runs rollouts.
type Rollout struct {
	// API is the Auto Scaling API. Required.
	API API
	// Signals returns the stack's readiness signals by instance id (the parameter's last path element). Optional:
	// without it a failed boot is noticed only by Auto Scaling's health checks.
	Signals func(context.Context) (map[string]string, error)
	// Health reads whether hosts are healthy in every one of the fleet's target groups. Optional: without it a
	// host that signalled ready counts as serving.
	Health Health
	// Log receives progress lines. Optional.
	Log func(string)
	// Poll is how often the refresh is read. Default DefaultPoll.
	Poll time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Health reads once, for each of instanceIDs, its state in every one of the fleet's target groups (Elastic Load
// Balancing's DescribeTargetHealth): healthy are the hosts healthy in all of them, and states names each target
// group with the state of every host that is not healthy there, for the error a deploy that waited in vain gives.
type Health func(ctx context.Context, instanceIDs []string) (healthy []string, states string, err error)

// Result says what a rollout did.
type Result struct {
	// RefreshID is the instance refresh that ran; empty when the group already ran the version.
	RefreshID string
	// Summary is one line for the stack's outputs and logs.
	Summary string
}

// Error is a rollout that did not put the new version in service. The group runs the previous version unless
// Status is RollbackFailed or Failed.
type Error struct {
	Group, RefreshID string
	// Status is the refresh's final status, such as RollbackSuccessful.
	Status types.InstanceRefreshStatus
	// Reason is why: the failed boot's step and reason, the deadline, or Auto Scaling's status reason.
	Reason string
	// Version is the launch template version the group runs, for StatusNotServing.
	Version string
}

// The statuses of an Error that no instance refresh reports: a new group's first hosts failed their boot or did
// not serve in time, or a group that runs the version has too few hosts that serve.
const (
	StatusFirstLaunchFailed   types.InstanceRefreshStatus = "FirstLaunchFailed"
	StatusFirstLaunchTimedOut types.InstanceRefreshStatus = "FirstLaunchTimedOut"
	StatusNotServing          types.InstanceRefreshStatus = "NotServing"
)

func (e *Error) Error() string {
	switch e.Status {
	case StatusFirstLaunchFailed, StatusFirstLaunchTimedOut:
		return fmt.Sprintf("the first hosts of group %s did not start: %s; there is no previous version, so "+
			"nothing serves: fix the cause and deploy again (the boot log is the boot/<instance-id> stream of the "+
			"stack's log group)", e.Group, e.Reason)
	case StatusNotServing:
		return fmt.Sprintf("group %s runs launch template version %s, but its hosts do not serve: %s; the "+
			"hostnames stay where they were (on none, if the fleet never served): the next deploy checks again, "+
			"after Auto Scaling has replaced the unhealthy hosts, or rolls out a fix (the boot log is the "+
			"boot/<instance-id> stream of the stack's log group)", e.Group, e.Version, e.Reason)
	}
	what := "the fleet still runs the previous version"
	switch e.Status {
	case types.InstanceRefreshStatusRollbackFailed, types.InstanceRefreshStatusFailed:
		what = "the fleet may run a mix of versions: check the group's instances and run the deploy again"
	}
	return fmt.Sprintf("rolling deploy of group %s (instance refresh %s) ended %s: %s; %s", e.Group, e.RefreshID,
		e.Status, e.Reason, what)
}

var (
	active      = []types.InstanceRefreshStatus{"Pending", "InProgress", "Baking"}
	winding     = []types.InstanceRefreshStatus{"Cancelling", "RollbackInProgress"}
	errNoGroup  = errors.New("no such Auto Scaling group")
	errNoSpec   = errors.New("the policy names no launch template version")
	versionless = []string{"", "$Latest", "$Default"}
)

// Version is the launch template version a policy rolls out.
func Version(p *types.MixedInstancesPolicy) string {
	if spec := specOf(p); spec != nil {
		return aws.ToString(spec.Version)
	}
	return ""
}

// specOf is the launch template specification a policy names, or nil.
func specOf(p *types.MixedInstancesPolicy) *types.LaunchTemplateSpecification {
	if p == nil || p.LaunchTemplate == nil {
		return nil
	}
	return p.LaunchTemplate.LaunchTemplateSpecification
}

// key names a launch template version, "<id>:<version>"; "" for none.
func key(spec *types.LaunchTemplateSpecification) string {
	if spec == nil {
		return ""
	}
	return aws.ToString(spec.LaunchTemplateId) + ":" + aws.ToString(spec.Version)
}

// template is the launch template id and version a policy names, "<id>:<version>".
func template(p *types.MixedInstancesPolicy) string { return key(specOf(p)) }

// Run rolls req.Policy's launch template version out to the group and returns when the new hosts serve, or
// with an *Error once the refresh has ended without them.
func (r *Rollout) Run(ctx context.Context, req Request) (Result, error) {
	r.defaults()
	want := Version(req.Policy)
	if slices.Contains(versionless, want) {
		// Auto rollback needs a numbered version (API_RefreshPreferences).
		return Result{}, fmt.Errorf("group %s: %w (want a number, not %q)", req.Group, errNoSpec, want)
	}
	group, err := r.group(ctx, req.Group)
	if err != nil {
		return Result{}, err
	}
	refresh, err := r.current(ctx, req.Group)
	if err != nil {
		return Result{}, err
	}
	var res Result
	switch {
	case refresh != nil && slices.Contains(active, refresh.Status) &&
		template(desiredPolicy(refresh)) == template(req.Policy):
		r.logf("group %s: following instance refresh %s, already rolling out version %s", req.Group,
			aws.ToString(refresh.InstanceRefreshId), want)
		res, err = r.follow(ctx, req, aws.ToString(refresh.InstanceRefreshId))
	case refresh != nil && (slices.Contains(active, refresh.Status) || slices.Contains(winding, refresh.Status)):
		if err := r.settle(ctx, req, refresh); err != nil {
			return Result{}, err
		}
		res, err = r.start(ctx, req)
	case groupTemplate(group) == template(req.Policy):
		// Running the version says nothing about whether it ever served: the retry of a failed first deploy, or
		// of a deploy whose hosts never turned healthy, finds the group on the version with only those hosts.
		// Whether the version serves is read from what outlives any deploy: the hosts' signals and their health.
		r.logf("group %s runs launch template version %s already: checking that its hosts serve", req.Group, want)
		res, err = Result{}, nil
	default:
		res, err = r.start(ctx, req)
	}
	if err != nil {
		return res, err
	}
	if res.RefreshID != "" && r.Health == nil {
		// The refresh counted each new host in service only once Auto Scaling's health checks passed.
		return res, nil
	}
	served, err := r.serve(ctx, serveRequest{group: req.Group, version: want, fingerprint: req.Fingerprint,
		min: req.Min, timeout: cmp.Or(req.ReadyTimeout, req.Timeout),
		match: func(spec *types.LaunchTemplateSpecification) bool { return key(spec) == template(req.Policy) }})
	if err != nil {
		return res, err
	}
	if res.Summary == "" {
		res.Summary = fmt.Sprintf("group %s runs launch template version %s already; %s", req.Group, want, served)
	}
	return res, nil
}

func (r *Rollout) defaults() {
	if r.Poll <= 0 {
		r.Poll = DefaultPoll
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = func(string) {}
	}
}

func (r *Rollout) logf(format string, args ...any) { r.Log(fmt.Sprintf(format, args...)) }

// group describes the group; a group that does not exist is an error (the program creates it first).
func (r *Rollout) group(ctx context.Context, name string) (*types.AutoScalingGroup, error) {
	out, err := r.API.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("group %s: DescribeAutoScalingGroups: %w", name, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, fmt.Errorf("group %s: %w", name, errNoGroup)
	}
	return &out.AutoScalingGroups[0], nil
}

// groupTemplate is the launch template id and version the group launches now, "<id>:<version>".
func groupTemplate(g *types.AutoScalingGroup) string {
	if g.MixedInstancesPolicy != nil {
		return template(g.MixedInstancesPolicy)
	}
	return key(g.LaunchTemplate)
}

func desiredPolicy(r *types.InstanceRefresh) *types.MixedInstancesPolicy {
	if r.DesiredConfiguration == nil {
		return nil
	}
	return r.DesiredConfiguration.MixedInstancesPolicy
}

// current is the group's newest instance refresh, or nil.
func (r *Rollout) current(ctx context.Context, group string) (*types.InstanceRefresh, error) {
	out, err := r.API.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(group), MaxRecords: aws.Int32(1)})
	if err != nil {
		return nil, fmt.Errorf("group %s: DescribeInstanceRefreshes: %w", group, err)
	}
	if len(out.InstanceRefreshes) == 0 {
		return nil, nil
	}
	// DescribeInstanceRefreshes lists the newest first (API_DescribeInstanceRefreshes).
	return &out.InstanceRefreshes[0], nil
}

// refresh reads one instance refresh.
func (r *Rollout) refresh(ctx context.Context, group, id string) (*types.InstanceRefresh, error) {
	out, err := r.API.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
		AutoScalingGroupName: aws.String(group), InstanceRefreshIds: []string{id}})
	if err != nil {
		return nil, fmt.Errorf("group %s: DescribeInstanceRefreshes %s: %w", group, id, err)
	}
	if len(out.InstanceRefreshes) == 0 {
		return nil, fmt.Errorf("group %s: instance refresh %s is gone", group, id)
	}
	return &out.InstanceRefreshes[0], nil
}

// settle ends a refresh of another version (a deploy that was interrupted, or a change since): Auto Scaling
// runs one refresh per group at a time, so it is cancelled, and a rollback under way is waited for.
func (r *Rollout) settle(ctx context.Context, req Request, refresh *types.InstanceRefresh) error {
	id := aws.ToString(refresh.InstanceRefreshId)
	if slices.Contains(active, refresh.Status) {
		r.logf("group %s: cancelling instance refresh %s (version %s, %s) to roll out version %s", req.Group, id,
			Version(desiredPolicy(refresh)), refresh.Status, Version(req.Policy))
		_, err := r.API.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{
			AutoScalingGroupName: aws.String(req.Group)})
		var gone *types.ActiveInstanceRefreshNotFoundFault
		if err != nil && !errors.As(err, &gone) {
			return fmt.Errorf("group %s: CancelInstanceRefresh %s: %w", req.Group, id, err)
		}
	}
	deadline := r.Now().Add(req.Timeout)
	for {
		cur, err := r.refresh(ctx, req.Group, id)
		if err != nil {
			return err
		}
		if !slices.Contains(active, cur.Status) && !slices.Contains(winding, cur.Status) {
			return nil
		}
		if r.Now().After(deadline) {
			return fmt.Errorf("group %s: instance refresh %s is still %s after %s", req.Group, id, cur.Status,
				req.Timeout)
		}
		if err := r.sleep(ctx); err != nil {
			return err
		}
	}
}

// start starts the refresh and follows it.
func (r *Rollout) start(ctx context.Context, req Request) (Result, error) {
	prefs := &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(int32(req.MinHealthyPercent)),
		MaxHealthyPercentage: aws.Int32(int32(MaxHealthyPercent(req.MinHealthyPercent))),
		AutoRollback:         aws.Bool(true),
		// A re-run after a failure, or after a cancelled refresh, replaces only the hosts not on the version.
		SkipMatching:              aws.Bool(true),
		ScaleInProtectedInstances: types.ScaleInProtectedInstancesRefresh,
		StandbyInstances:          types.StandbyInstancesTerminate,
	}
	if req.InstanceWarmup > 0 {
		prefs.InstanceWarmup = aws.Int32(int32(req.InstanceWarmup / time.Second))
	}
	out, err := r.API.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String(req.Group),
		Strategy:             types.RefreshStrategyRolling,
		DesiredConfiguration: &types.DesiredConfiguration{MixedInstancesPolicy: req.Policy},
		Preferences:          prefs,
	})
	if err != nil {
		return Result{}, fmt.Errorf("group %s: StartInstanceRefresh (version %s): %w", req.Group, Version(req.Policy),
			err)
	}
	id := aws.ToString(out.InstanceRefreshId)
	r.logf("group %s: instance refresh %s started: version %s, keeping %d%% of the desired capacity in service, "+
		"new hosts launched before old ones go", req.Group, id, Version(req.Policy), req.MinHealthyPercent)
	return r.follow(ctx, req, id)
}

// follow polls the refresh to its end, rolling it back when a new host fails or the deadline passes.
func (r *Rollout) follow(ctx context.Context, req Request, id string) (Result, error) {
	deadline := r.Now().Add(req.Timeout)
	var rollbackReason, last string
	for {
		cur, err := r.refresh(ctx, req.Group, id)
		if err != nil {
			return Result{}, err
		}
		if line := progress(cur); line != last {
			r.logf("group %s: %s", req.Group, line)
			last = line
		}
		switch cur.Status {
		case types.InstanceRefreshStatusSuccessful:
			if rollbackReason != "" {
				// The refresh ended before the rollback took: the new version serves although a host of it failed.
				return Result{RefreshID: id}, &Error{Group: req.Group, RefreshID: id, Status: cur.Status,
					Reason: rollbackReason + "; the refresh completed before the rollback began, so the group runs " +
						"the new version: deploy the previous version, or the fix"}
			}
			return Result{RefreshID: id, Summary: fmt.Sprintf("group %s runs launch template version %s "+
				"(instance refresh %s)", req.Group, Version(req.Policy), id)}, nil
		case types.InstanceRefreshStatusRollbackSuccessful, types.InstanceRefreshStatusRollbackFailed,
			types.InstanceRefreshStatusFailed, types.InstanceRefreshStatusCancelled:
			return Result{RefreshID: id}, &Error{Group: req.Group, RefreshID: id, Status: cur.Status,
				Reason: reason(cur, rollbackReason)}
		}
		if rollbackReason == "" && slices.Contains(active, cur.Status) {
			why, err := r.failedBoot(ctx, req)
			if err != nil {
				return Result{}, err
			}
			if why == "" && r.Now().After(deadline) {
				why = fmt.Sprintf("the new hosts were not all in service after %s", req.Timeout)
			}
			if why != "" {
				rollbackReason = why
				if err := r.rollback(ctx, req, id, why); err != nil {
					return Result{}, err
				}
				// The rollback replaces the new hosts with the previous version's: it gets as long again.
				deadline = r.Now().Add(req.Timeout)
			}
		} else if r.Now().After(deadline) {
			return Result{RefreshID: id}, &Error{Group: req.Group, RefreshID: id, Status: cur.Status,
				Reason: reason(cur, rollbackReason) + fmt.Sprintf(" (still %s after %s)", cur.Status, req.Timeout)}
		}
		if err := r.sleep(ctx); err != nil {
			return Result{}, err
		}
	}
}

func (r *Rollout) rollback(ctx context.Context, req Request, id, why string) error {
	r.logf("group %s: rolling back instance refresh %s: %s", req.Group, id, why)
	_, err := r.API.RollbackInstanceRefresh(ctx, &autoscaling.RollbackInstanceRefreshInput{
		AutoScalingGroupName: aws.String(req.Group)})
	// Auto Scaling may have ended the refresh between the read and the call: the next read says how. A refresh
	// that cannot be rolled back (IrreversibleInstanceRefresh: no desired configuration, or an unnumbered
	// version) is an error, never a success.
	var gone *types.ActiveInstanceRefreshNotFoundFault
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("group %s: RollbackInstanceRefresh %s (%s): %w", req.Group, id, why, err)
	}
	return nil
}

// failedBoot returns the reason a host of the group on the new version signalled failure, if one did. Only
// hosts in the group now count: an earlier attempt's failed hosts were terminated by its rollback.
func (r *Rollout) failedBoot(ctx context.Context, req Request) (string, error) {
	if r.Signals == nil {
		return "", nil
	}
	want := template(req.Policy)
	_, _, failed, err := r.scan(ctx, req.Group, req.Fingerprint, func(spec *types.LaunchTemplateSpecification) bool {
		return key(spec) == want
	})
	return failed, err
}

// scan reads the group's hosts launched from the launch templates that match, and their readiness signals for
// fingerprint: the group, the hosts that signalled ready, and why the first that signalled failure failed (""
// if none did).
func (r *Rollout) scan(ctx context.Context, group, fingerprint string,
	match func(*types.LaunchTemplateSpecification) bool) (g *types.AutoScalingGroup, ready []string, failed string,
	err error) {
	g, err = r.group(ctx, group)
	if err != nil {
		return nil, nil, "", err
	}
	signals, err := r.Signals(ctx)
	if err != nil {
		return nil, nil, "", fmt.Errorf("group %s: reading the hosts' readiness signals: %w", group, err)
	}
	for _, in := range g.Instances {
		if in.LaunchTemplate == nil || !match(in.LaunchTemplate) {
			continue
		}
		id := aws.ToString(in.InstanceId)
		s, err := readiness.Parse(signals[id])
		switch {
		case err != nil || s.Fingerprint != fingerprint:
		case s.State == readiness.Failed && failed == "":
			failed = fmt.Sprintf("host %s failed its boot at step %s: %s", id, s.Step, s.Reason)
		case s.State == readiness.Ready:
			ready = append(ready, id)
		}
	}
	return g, ready, failed, nil
}

// serveRequest asks whether a version's hosts serve.
type serveRequest struct {
	group, version, fingerprint string
	// min is how many must serve; 0 for the group's minimum size (at least 1).
	min     int
	timeout time.Duration
	match   func(*types.LaunchTemplateSpecification) bool
	// first says the group is new: none of its hosts ever served.
	first bool
}

// serve waits until min hosts of the group on the version have signalled ready and are healthy in every target
// group (Health), bounded by the timeout. A host's failed boot ends the wait at once while fewer than min are
// ready: no wait brings a failed boot back. It returns a line that says what serves, or an *Error that says
// what does not, naming each target group and its hosts' states.
func (r *Rollout) serve(ctx context.Context, req serveRequest) (string, error) {
	if r.Signals == nil {
		return "", fmt.Errorf("group %s: the hosts' readiness signals cannot be read", req.group)
	}
	failedStatus, timedOutStatus := StatusNotServing, StatusNotServing
	if req.first {
		failedStatus, timedOutStatus = StatusFirstLaunchFailed, StatusFirstLaunchTimedOut
	}
	deadline := r.Now().Add(req.timeout)
	last := ""
	for {
		g, ready, failed, err := r.scan(ctx, req.group, req.fingerprint, req.match)
		if err != nil {
			return "", err
		}
		want := req.min
		if want <= 0 {
			want = max(1, int(aws.ToInt32(g.MinSize)))
		}
		healthy, states := ready, ""
		if r.Health != nil && len(ready) > 0 {
			if healthy, states, err = r.Health(ctx, ready); err != nil {
				return "", fmt.Errorf("group %s: %w", req.group, err)
			}
		}
		line := fmt.Sprintf("%d of %d host(s) of launch template version %s ready", len(ready), want, req.version)
		if r.Health != nil {
			line += fmt.Sprintf(", %d healthy in every target group", len(healthy))
		}
		if line != last {
			r.logf("group %s: %s", req.group, line)
			last = line
		}
		if len(healthy) >= want {
			summary := fmt.Sprintf("%d host(s) ready on launch template version %s", len(healthy), req.version)
			if r.Health != nil {
				summary += ", healthy in every target group"
			}
			return summary, nil
		}
		if failed != "" && len(ready) < want {
			return "", &Error{Group: req.group, Status: failedStatus, Reason: failed, Version: req.version}
		}
		if r.Now().After(deadline) {
			reason := fmt.Sprintf("%d of %d hosts signalled ready within %s", len(ready), want, req.timeout)
			if len(ready) >= want {
				reason = fmt.Sprintf("%d of %d hosts were healthy in every target group within %s (%s)",
					len(healthy), want, req.timeout, states)
			}
			return "", &Error{Group: req.group, Status: timedOutStatus, Reason: reason, Version: req.version}
		}
		if err := r.sleep(ctx); err != nil {
			return "", err
		}
	}
}

// progress is one line of a refresh's state.
func progress(r *types.InstanceRefresh) string {
	line := fmt.Sprintf("instance refresh %s %s", aws.ToString(r.InstanceRefreshId), r.Status)
	if r.PercentageComplete != nil {
		line += fmt.Sprintf(", %d%% complete", aws.ToInt32(r.PercentageComplete))
	}
	if r.InstancesToUpdate != nil {
		line += fmt.Sprintf(", %d host(s) to update", aws.ToInt32(r.InstancesToUpdate))
	}
	if d := r.RollbackDetails; d != nil && d.PercentageCompleteOnRollback != nil {
		line += fmt.Sprintf(", rollback %d%% complete", aws.ToInt32(d.PercentageCompleteOnRollback))
	}
	if s := aws.ToString(r.StatusReason); s != "" {
		line += ": " + s
	}
	return line
}

// reason puts the rollout's own reason first, then Auto Scaling's.
func reason(r *types.InstanceRefresh, own string) string {
	var parts []string
	if own != "" {
		parts = append(parts, own)
	}
	if d := r.RollbackDetails; d != nil && aws.ToString(d.RollbackReason) != "" {
		parts = append(parts, "Auto Scaling: "+aws.ToString(d.RollbackReason))
	}
	if s := aws.ToString(r.StatusReason); s != "" {
		parts = append(parts, "Auto Scaling: "+s)
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(slices.Compact(parts), "; ")
}

func (r *Rollout) sleep(ctx context.Context) error {
	t := time.NewTimer(r.Poll)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FirstLaunch is a new group's first hosts.
type FirstLaunch struct {
	// Group is the Auto Scaling group's name. Required.
	Group string
	// Version is the launch template version the group was created with. Required.
	Version string
	// Fingerprint is what the hosts run. Required.
	Fingerprint string
	// Min is how many hosts must have signalled ready. Required.
	Min int
	// Timeout bounds the wait. Required.
	Timeout time.Duration
}

// WaitFirstLaunch waits until req.Min of a new group's hosts have signalled that they run req.Fingerprint and,
// with Health, are healthy in every target group, and fails at once, naming the host, step and reason, when one
// of them signals failure. A new group has no previous version to keep serving: the deploy fails and the group
// stays, and the next deploy finds it on the version and checks again whether it serves (Run).
func (r *Rollout) WaitFirstLaunch(ctx context.Context, req FirstLaunch) (Result, error) {
	r.defaults()
	if r.Signals == nil {
		return Result{}, fmt.Errorf("group %s: the first hosts' readiness signals cannot be read", req.Group)
	}
	served, err := r.serve(ctx, serveRequest{group: req.Group, version: req.Version, fingerprint: req.Fingerprint,
		min: max(1, req.Min), timeout: req.Timeout, first: true,
		match: func(spec *types.LaunchTemplateSpecification) bool { return aws.ToString(spec.Version) == req.Version }})
	if err != nil {
		return Result{}, err
	}
	return Result{Summary: fmt.Sprintf("group %s: %s", req.Group, served)}, nil
}
