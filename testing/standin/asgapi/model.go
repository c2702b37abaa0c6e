package asgapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"appstack/components/readiness"
)

// APIError is a refusal as the service gives it: an error code (the query protocol's <Code>), a message and
// whether the caller (Sender) or the service is at fault.
type APIError struct {
	Code, Message string
	Status        int
}

func (e *APIError) Error() string { return "api error " + e.Code + ": " + e.Message }

func validation(format string, args ...any) *APIError {
	return &APIError{Code: "ValidationError", Message: fmt.Sprintf(format, args...), Status: 400}
}

// graceSteps is how many steps an instance whose boot never signals stays Pending before its health check grace
// period runs out and it is marked Unhealthy.
const graceSteps = 3

func hashOf(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

func (st *State) event(op string, g *Group, inst *Instance, refresh, reason string) {
	st.Events = append(st.Events, Event{Seq: st.next(), Op: op, Group: g.Name, Instance: inst.ID,
		Version: inst.Version, Refresh: refresh, Reason: reason})
}

// CreateTemplate creates a launch template with version 1, as CreateLaunchTemplate does.
func (st *State) CreateTemplate(name string, v TemplateVersion) *Template {
	t := &Template{ID: "lt-0" + hashOf("launch-template", name)[:16], Name: name, LatestVersion: 1,
		DefaultVersion: 1, Versions: []TemplateVersion{v}}
	st.Templates[t.ID] = t
	return t
}

// UpdateTemplate records a change of the template: a new version when its launch data changed
// (CreateLaunchTemplateVersion), which becomes the default when updateDefault is set (ModifyLaunchTemplate).
func (st *State) UpdateTemplate(id string, v TemplateVersion, newVersion, updateDefault bool) (*Template, error) {
	t, ok := st.Templates[id]
	if !ok {
		return nil, &APIError{Code: "InvalidLaunchTemplateId.NotFound", Status: 400,
			Message: fmt.Sprintf("The specified launch template, with template ID %s, does not exist.", id)}
	}
	if newVersion {
		t.Versions = append(t.Versions, v)
		t.LatestVersion = len(t.Versions)
	}
	if updateDefault {
		t.DefaultVersion = t.LatestVersion
	}
	return t, nil
}

// DeleteTemplate deletes a launch template and its versions.
func (st *State) DeleteTemplate(id string) { delete(st.Templates, id) }

// resolve is the template and version number a configuration launches.
func (st *State) resolve(cfg Config) (*Template, int, error) {
	t, ok := st.Templates[cfg.TemplateID]
	if !ok && cfg.TemplateName != "" {
		for _, c := range st.Templates {
			if c.Name == cfg.TemplateName {
				t, ok = c, true
			}
		}
	}
	if !ok {
		return nil, 0, validation("You must use a valid fully-formed launch template. The specified launch "+
			"template, with template ID %s, does not exist.", cfg.TemplateID)
	}
	var n int
	switch cfg.Version {
	case "$Latest":
		n = t.LatestVersion
	case "$Default", "":
		n = t.DefaultVersion
	default:
		v, err := strconv.Atoi(cfg.Version)
		if err != nil || v < 1 || v > len(t.Versions) {
			return nil, 0, validation("You must use a valid fully-formed launch template. The specified launch "+
				"template version, %q, does not exist for launch template %s.", cfg.Version, t.ID)
		}
		n = v
	}
	return t, n, nil
}

// matches says whether an instance runs what cfg launches (skip matching compares this).
func (st *State) matches(inst *Instance, cfg Config) bool {
	t, n, err := st.resolve(cfg)
	if err != nil || inst.TemplateID != t.ID || inst.Version != strconv.Itoa(n) {
		return false
	}
	return len(cfg.InstanceTypes) == 0 || slices.Contains(cfg.InstanceTypes, inst.InstanceType)
}

// launch launches one instance of cfg into g, which boots at once from its version's user data.
func (st *State) launch(g *Group, cfg Config, refresh string, boot Booter) (*Instance, error) {
	t, n, err := st.resolve(cfg)
	if err != nil {
		return nil, err
	}
	v := t.Versions[n-1]
	itype := v.InstanceType
	if len(cfg.InstanceTypes) > 0 {
		itype = cfg.InstanceTypes[0]
	}
	if itype == "" {
		itype = "t3.small"
	}
	seq := st.next()
	subnets := strings.Split(g.VPCZoneIdentifier, ",")
	inst := &Instance{ID: "i-0" + hashOf(g.Name, strconv.Itoa(seq))[:16],
		AZ:           g.Region + string(rune('a'+len(g.Instances)%max(len(subnets), 1))),
		InstanceType: itype, TemplateID: t.ID, TemplateName: t.Name, Version: strconv.Itoa(n),
		Lifecycle: Pending, Health: Healthy, Outcome: readiness.Ready, Refresh: refresh}
	if boot != nil {
		if inst.Outcome, err = boot.Boot(inst.ID, "", v.UserData); err != nil {
			return nil, err
		}
	}
	g.Instances = append(g.Instances, inst)
	st.event(OpLaunch, g, inst, refresh, "")
	return inst, nil
}

// settle is one step of a Pending instance. A ready boot passes its health checks and the instance goes
// InService. A boot that failed, or never finishes, fails the load balancer's health checks, which the group acts
// on only once the health check grace period has run out (graceSteps): the instance is then Unhealthy. The boot's
// readiness signal is in the parameter store from its launch on.
func (st *State) settle(g *Group, inst *Instance, refresh string) {
	if inst.Lifecycle != Pending {
		return
	}
	inst.Steps++
	word, rest, _ := strings.Cut(strings.TrimSpace(inst.Outcome), " ")
	switch {
	case word == readiness.Ready:
		inst.Lifecycle, inst.Health = InService, Healthy
		st.event(OpHealthy, g, inst, refresh, "")
	case inst.Steps >= graceSteps:
		inst.Lifecycle, inst.Health = InService, Unhealthy
		reason := "no passing health check within the health check grace period"
		if word == readiness.Failed {
			reason += " (boot failed: " + rest + ")"
		}
		st.event(OpUnhealthy, g, inst, refresh, reason)
	}
}

func (st *State) terminate(g *Group, inst *Instance, refresh string) {
	g.Instances = slices.DeleteFunc(g.Instances, func(i *Instance) bool { return i.ID == inst.ID })
	st.event(OpTerminate, g, inst, refresh, "")
}

func (g *Group) instance(id string) *Instance {
	for _, i := range g.Instances {
		if i.ID == id {
			return i
		}
	}
	return nil
}

// Healthy counts the group's InService instances that pass their health checks.
func (g *Group) Healthy() int {
	n := 0
	for _, i := range g.Instances {
		if i.Lifecycle == InService && i.Health == Healthy {
			n++
		}
	}
	return n
}

// CreateGroup creates g (CreateAutoScalingGroup) and launches its desired capacity from its configuration; the
// instances boot and settle as they would while terraform-provider-aws waits for capacity. A name in use is
// refused with AlreadyExists.
func (st *State) CreateGroup(g *Group, boot Booter) error {
	if _, ok := st.Groups[g.Name]; ok {
		return &APIError{Code: "AlreadyExists", Status: 400,
			Message: fmt.Sprintf("AutoScalingGroup by this name already exists - A group with the name %s already exists",
				g.Name)}
	}
	if err := checkSize(g.Min, g.Max, g.Desired); err != nil {
		return err
	}
	if _, _, err := st.resolve(g.Config); err != nil {
		return err
	}
	g.Created = st.now()
	st.Groups[g.Name] = g
	return st.scale(g, boot)
}

func checkSize(minSize, maxSize, desired int) error {
	if desired < minSize || desired > maxSize {
		return validation("Desired capacity:%d must be between the specified min size:%d and max size:%d",
			desired, minSize, maxSize)
	}
	return nil
}

// scale launches or terminates instances until the group has its desired capacity, as the group does after
// UpdateAutoScalingGroup: new instances come from its configuration; those that do not match it go first.
func (st *State) scale(g *Group, boot Booter) error {
	var launched []*Instance
	for len(g.Instances) < g.Desired {
		inst, err := st.launch(g, g.Config, "", boot)
		if err != nil {
			return err
		}
		launched = append(launched, inst)
	}
	for range graceSteps {
		for _, inst := range launched {
			st.settle(g, inst, "")
		}
	}
	for len(g.Instances) > g.Desired {
		victim := g.Instances[0]
		for _, i := range g.Instances {
			if !st.matches(i, g.Config) {
				victim = i
				break
			}
		}
		st.terminate(g, victim, "")
	}
	return nil
}

// UpdateGroup applies next to the group of the same name as UpdateAutoScalingGroup does: sizes and settings
// change; a new launch template version applies to instances launched from now on and replaces none. While an
// instance refresh with a desired configuration is active, the launch template cannot change.
func (st *State) UpdateGroup(next *Group, boot Booter) error {
	g, ok := st.Groups[next.Name]
	if !ok {
		return validation("AutoScalingGroup name not found - AutoScalingGroup '%s' not found", next.Name)
	}
	if err := checkSize(next.Min, next.Max, next.Desired); err != nil {
		return err
	}
	if !sameConfig(g.Config, next.Config) {
		if r := st.Active(g.Name); r != nil && r.Desired != nil {
			return validation("An active instance refresh with a desired configuration exists. All configuration " +
				"options derived from the desired configuration are not available for update while the instance " +
				"refresh is active.")
		}
		if _, _, err := st.resolve(next.Config); err != nil {
			return err
		}
	}
	instances, created, arn := g.Instances, g.Created, g.ARN
	*g = *next
	g.Instances, g.Created, g.ARN = instances, created, arn
	return st.scale(g, boot)
}

func sameConfig(a, b Config) bool {
	return a.TemplateID == b.TemplateID && a.Version == b.Version && slices.Equal(a.InstanceTypes, b.InstanceTypes)
}

// DeleteGroup terminates the group's instances and deletes it (terraform-provider-aws drains a group to zero
// before DeleteAutoScalingGroup unless force_delete is set).
func (st *State) DeleteGroup(name string) {
	g, ok := st.Groups[name]
	if !ok {
		return
	}
	for _, inst := range slices.Clone(g.Instances) {
		st.terminate(g, inst, "")
	}
	delete(st.Groups, name)
}

// Active is the group's active instance refresh, or nil.
func (st *State) Active(group string) *Refresh {
	for _, r := range st.Refreshes {
		if r.Group == group && active(r.Status) {
			return r
		}
	}
	return nil
}

func active(status string) bool {
	switch status {
	case StatusPending, StatusInProgress, StatusCancelling, StatusRollbackInProgress, "Baking":
		return true
	}
	return false
}

// FewestHealthy replays events (one group's, in order) and returns the fewest instances in service and healthy
// after the event numbered from: what a test checks to see new capacity healthy before old capacity goes.
func FewestHealthy(events []Event, from int) int {
	healthy, lowest := map[string]bool{}, 1<<30
	for _, e := range events {
		switch e.Op {
		case OpHealthy:
			healthy[e.Instance] = true
		case OpTerminate, OpUnhealthy:
			delete(healthy, e.Instance)
		}
		if e.Seq > from {
			lowest = min(lowest, len(healthy))
		}
	}
	return lowest
}

// EventsOf are the group's events, in order.
func (st *State) EventsOf(group string) []Event {
	var out []Event
	for _, e := range st.Events {
		if e.Group == group {
			out = append(out, e)
		}
	}
	return out
}
