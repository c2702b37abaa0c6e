package asgapi

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The instance refresh as the Amazon EC2 Auto Scaling User Guide describes it:
//
//   - How an instance refresh works (https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-overview.html):
//     instances are replaced in batches bounded by the minimum and maximum healthy percentages; with a minimum
//     of 100% new instances are launched first and old ones terminated only once the new ones are healthy; once
//     the refresh succeeds the group's settings take the desired configuration.
//   - Instance maintenance policies (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-instance-maintenance-policy.html):
//     the group's policy supplies the percentages a refresh does not name; without either, 90% and 100%
//     (RefreshPreferences in the API reference).
//   - Skip matching (https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh-skip-matching.html):
//     instances that already run the desired launch template version and an allowed instance type are kept.
//   - Undo changes with a manual or auto rollback (https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html):
//     a rollback needs a desired configuration and a numbered launch template version on the group; it replaces
//     the instances deployed so far with the configuration the group had before the refresh.
//
// Each Step settles the Pending instances (ssmstore's boot outcome decides their health), fails the refresh when
// one it launched is Unhealthy (rolling back when AutoRollback is set), terminates replaced instances while the
// healthy count stays at or above the minimum, and launches replacements while the group stays at or below the
// maximum. Instance warmup, checkpoints, bake time and alarms are not modelled.

// PreferencesInput are StartInstanceRefresh's Preferences as sent; nil is not sent.
type PreferencesInput struct {
	MinHealthyPercentage, MaxHealthyPercentage, InstanceWarmup *int
	SkipMatching, AutoRollback                                 *bool
	ScaleInProtectedInstances, StandbyInstances                string
}

// StartRefresh starts an instance refresh of the group (StartInstanceRefresh, strategy Rolling), refused as the
// service refuses it: another active refresh (InstanceRefreshInProgress), auto rollback without a desired
// configuration or with a group on $Latest/$Default, percentages outside their ranges (ValidationError).
func (st *State) StartRefresh(group string, desired *Config, in PreferencesInput) (string, error) {
	g, ok := st.Groups[group]
	if !ok {
		return "", validation("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", group)
	}
	if st.Active(group) != nil {
		// The message the service gives (seen in its responses; the code is in the API reference).
		return "", &APIError{Code: "InstanceRefreshInProgress", Status: 400,
			Message: "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh."}
	}
	p := Preferences{MinHealthyPercentage: 90, MaxHealthyPercentage: 100, InstanceWarmup: in.InstanceWarmup,
		ScaleInProtectedInstances: or(in.ScaleInProtectedInstances, "Wait"),
		StandbyInstances:          or(in.StandbyInstances, "Wait")}
	if g.MinHealthy != nil {
		p.MinHealthyPercentage = *g.MinHealthy
	}
	if g.MaxHealthy != nil {
		p.MaxHealthyPercentage = *g.MaxHealthy
	}
	if in.MinHealthyPercentage != nil {
		p.MinHealthyPercentage = *in.MinHealthyPercentage
	}
	if in.MaxHealthyPercentage != nil {
		if in.MinHealthyPercentage == nil {
			return "", validation("MinHealthyPercentage must be specified when MaxHealthyPercentage is specified.")
		}
		p.MaxHealthyPercentage = *in.MaxHealthyPercentage
	}
	if p.MinHealthyPercentage < 0 || p.MinHealthyPercentage > 100 {
		return "", validation("MinHealthyPercentage must be between 0 and 100.")
	}
	if p.MaxHealthyPercentage < 100 || p.MaxHealthyPercentage > 200 {
		return "", validation("MaxHealthyPercentage must be between 100 and 200.")
	}
	if p.MaxHealthyPercentage-p.MinHealthyPercentage > 100 {
		return "", validation("The difference between MaxHealthyPercentage and MinHealthyPercentage cannot be " +
			"greater than 100.")
	}
	p.SkipMatching = in.SkipMatching != nil && *in.SkipMatching
	p.AutoRollback = in.AutoRollback != nil && *in.AutoRollback
	if p.AutoRollback {
		if desired == nil {
			return "", validation("The request isn't valid. The AutoRollback parameter cannot be set to true when " +
				"the DesiredConfiguration parameter is empty. Set AutoRollback to false or specify a desired " +
				"configuration and try again.")
		}
		if _, err := strconv.Atoi(g.Config.Version); err != nil {
			return "", validation("The request isn't valid. Auto rollback is not supported when the Auto Scaling " +
				"group uses the $Latest or $Default launch template version.")
		}
	}
	target := g.Config
	if desired != nil {
		if _, _, err := st.resolve(*desired); err != nil {
			return "", err
		}
		target = *desired
	}
	seq := st.next()
	h := hashOf("refresh", group, strconv.Itoa(seq))
	r := &Refresh{ID: h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], Group: group,
		Status: StatusPending, Desired: desired, Original: g.Config, Preferences: p, Start: st.now(),
		Script: g.Script}
	g.Script = nil
	for _, inst := range g.Instances {
		if !p.SkipMatching || !st.matches(inst, target) {
			r.ToReplace = append(r.ToReplace, inst.ID)
		}
	}
	r.Total, r.Remaining = len(r.ToReplace), len(r.ToReplace)
	st.Refreshes = append(st.Refreshes, r)
	return r.ID, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// CancelRefresh cancels the group's active refresh (CancelInstanceRefresh): it ends Cancelled at the next step,
// and the instances it replaced stay replaced.
func (st *State) CancelRefresh(group string) (string, error) {
	r := st.Active(group)
	if r == nil || r.Status == StatusCancelling {
		return "", notFound(group)
	}
	if r.Status == StatusRollbackInProgress {
		return "", validation("An instance refresh that is rolling back cannot be cancelled.")
	}
	r.Status = StatusCancelling
	return r.ID, nil
}

func notFound(group string) *APIError {
	return &APIError{Code: "ActiveInstanceRefreshNotFound", Status: 400,
		Message: fmt.Sprintf("No in progress or pending Instance Refresh found for Auto Scaling group %s", group)}
}

// RollbackRefresh rolls back the group's refresh in progress (RollbackInstanceRefresh). Without a desired
// configuration, or with a group on $Latest/$Default, it is IrreversibleInstanceRefresh (the API reference's
// description of that error).
func (st *State) RollbackRefresh(group string) (string, error) {
	r := st.Active(group)
	if r == nil || r.Status != StatusInProgress {
		return "", notFound(group)
	}
	if _, err := strconv.Atoi(r.Original.Version); r.Desired == nil || err != nil || st.ssmImage(r.Original) {
		return "", &APIError{Code: "IrreversibleInstanceRefresh", Status: 400,
			Message: "The request failed because a desired configuration was not found or an incompatible launch " +
				"template (uses a Systems Manager parameter instead of an AMI ID) or launch template version " +
				"($Latest or $Default) is present on the Auto Scaling group."}
	}
	r.Script = nil
	st.beginRollback(r, "Rollback initiated by RollbackInstanceRefresh.",
		"The instance refresh is rolling back at the request of RollbackInstanceRefresh.")
	return r.ID, nil
}

// ssmImage says whether the launch template version cfg names takes its AMI from a Systems Manager parameter
// ("resolve:ssm:<parameter>" as its ImageId): a group on one cannot be rolled back (API_RollbackInstanceRefresh:
// "A rollback is not supported ... The Auto Scaling group has a launch template that uses an AWS Systems Manager
// parameter instead of an AMI ID for the ImageId property";
// https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RollbackInstanceRefresh.html). Only the rollback
// is refused: the reference documents no refusal of StartInstanceRefresh for it.
func (st *State) ssmImage(cfg Config) bool {
	t, n, err := st.resolve(cfg)
	return err == nil && strings.HasPrefix(t.Versions[n-1].ImageID, "resolve:ssm:")
}

func (st *State) beginRollback(r *Refresh, reason, statusReason string) {
	g := st.Groups[r.Group]
	r.Rollback = &Rollback{Reason: reason, Start: st.now(), PercentOnRollback: r.Percent,
		ToUpdateOnRollbck: r.Remaining}
	r.Status, r.StatusReason = StatusRollbackInProgress, statusReason
	r.ToReplace = nil
	for _, inst := range g.Instances {
		if !st.matches(inst, r.Original) {
			r.ToReplace = append(r.ToReplace, inst.ID)
		}
	}
	r.Total, r.Remaining, r.Percent = len(r.ToReplace), len(r.ToReplace), 0
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// scripted moves a refresh to the next status of its script (Group.Script). A refresh that succeeds writes its
// desired configuration to the group, as a simulated one does; one that ends gets its end time. A cancel and a
// rollback end the script: the simulation winds the refresh down.
func (st *State) scripted(g *Group, r *Refresh) {
	r.Status, r.Script = r.Script[0], r.Script[1:]
	if r.Status == StatusSuccessful {
		r.Percent, r.Remaining, r.StatusReason = 100, 0, ""
		if r.Desired != nil {
			g.Config = *r.Desired
		}
	}
	if !active(r.Status) {
		end := st.now()
		r.End = &end
	}
}

// Step advances the group's active refresh by one step: to the next status of its script, if it has one, or
// else by the simulation.
func (st *State) Step(group string, boot Booter) error {
	r := st.Active(group)
	if r == nil {
		return nil
	}
	g := st.Groups[group]
	if r.Status == StatusCancelling {
		end := st.now()
		r.Status, r.End = StatusCancelled, &end
		r.StatusReason = "Instance refresh was cancelled by CancelInstanceRefresh."
		return nil
	}
	if len(r.Script) > 0 && r.Status != StatusRollbackInProgress {
		st.scripted(g, r)
		return nil
	}
	if r.Status == StatusPending {
		r.Status = StatusInProgress
	}
	rollingBack := r.Status == StatusRollbackInProgress
	phase, target := r.ID, g.Config
	if r.Desired != nil {
		target = *r.Desired
	}
	if rollingBack {
		phase, target = r.ID+"/rollback", r.Original
	}
	for _, inst := range slices.Clone(g.Instances) {
		st.settle(g, inst, phase)
	}
	for _, inst := range g.Instances {
		if inst.Refresh != phase || inst.Health != Unhealthy {
			continue
		}
		if rollingBack {
			end := st.now()
			r.Status, r.End = StatusRollbackFailed, &end
			r.StatusReason = fmt.Sprintf("Instance refresh rollback failed: instance %s of launch template version "+
				"%s failed its health checks.", inst.ID, inst.Version)
			return nil
		}
		reason := fmt.Sprintf("Instance refresh failed: instance %s of launch template version %s failed its %s "+
			"health checks.", inst.ID, inst.Version, or(g.HealthCheckType, "EC2"))
		if r.Preferences.AutoRollback {
			st.beginRollback(r, "Instance refresh failed; auto rollback is enabled.",
				reason+" Rolling back to launch template version "+r.Original.Version+".")
			return nil
		}
		end := st.now()
		r.Status, r.StatusReason, r.End = StatusFailed, reason, &end
		return nil
	}

	minHealthy := ceilDiv(r.Preferences.MinHealthyPercentage*g.Desired, 100)
	maxLive := r.Preferences.MaxHealthyPercentage * g.Desired / 100
	healthy := g.Healthy()
	for _, id := range slices.Clone(r.ToReplace) {
		inst := g.instance(id)
		switch {
		case inst == nil:
		case inst.Health == Unhealthy || inst.Lifecycle == Pending:
			// An unhealthy or pending instance serves nothing: replacing it costs no capacity.
			st.terminate(g, inst, phase)
		case inst.Lifecycle == InService && healthy-1 >= minHealthy:
			st.terminate(g, inst, phase)
			healthy--
		default:
			continue
		}
		r.ToReplace = slices.DeleteFunc(r.ToReplace, func(s string) bool { return s == id })
	}
	live := len(g.Instances)
	targets := live - len(r.ToReplace)
	for range min(g.Desired-targets, maxLive-live) {
		if _, err := st.launch(g, target, phase, boot); err != nil {
			return err
		}
	}

	r.Remaining = len(r.ToReplace)
	if r.Total > 0 {
		r.Percent = (r.Total - r.Remaining) * 100 / r.Total
	}
	settled := len(g.Instances) == g.Desired && g.Healthy() == g.Desired
	if r.Remaining > 0 || !settled {
		return nil
	}
	end := st.now()
	r.End, r.Percent = &end, 100
	if rollingBack {
		r.Status = StatusRollbackSuccessful
		g.Config = r.Original
		return nil
	}
	r.Status = StatusSuccessful
	r.StatusReason = ""
	if r.Desired != nil {
		g.Config = *r.Desired
	}
	return nil
}
