// Package elbapi is the stand-ins' front door: the load balancer's listener rules, target groups and their
// registered targets, kept in a JSON file (APPSTACK_STANDIN_ELB) that the stand-in provider writes as it creates,
// updates and deletes them, and an Elastic Load Balancing v2 query API (Server) that answers DescribeTargetHealth
// from it. A target's health follows Elastic Load Balancing's states (API_TargetHealth): "unused"
// (Target.NotInUse) while no rule forwards to its group, "initial" (Elb.RegistrationInProgress) for the
// registration time after it is registered, then "initial" (Elb.InitialHealthChecking) for the healthy threshold
// of checks, then "healthy" if its host answers the group's health check path on the group's port (its boot ended
// ready, found that path answering, and it runs), else "unhealthy" (Target.ResponseCodeMismatch) after the
// unhealthy threshold; a group whose every target is unhealthy fails open (Routed). A rule's priority is unique on
// its listener (PutRule), and a target group in use is not deleted (DeleteTargetGroup). It is test scaffolding,
// not AWS.
//
//	APPSTACK_STANDIN_ELB               the state (JSON)
//	APPSTACK_STANDIN_ELB_REGISTRATION  how long a registration takes (a Go duration); default DefaultRegistration
package elbapi

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"appstack/testing/standin/jsonfile"
)

// Modelled timings. The registration is longer than the 15 s a single host used to wait after registering,
// since AWS bounds neither; the checks are those of the front door's target groups, sped up.
const (
	DefaultRegistration = 20 * time.Second
	CheckInterval       = time.Second
	HealthyThreshold    = 2
	UnhealthyThreshold  = 3
)

// WarmSuffix ends the host names of the rules that keep a target group in use without serving a hostname.
const WarmSuffix = ".warm.invalid"

// State is the front door.
type State struct {
	// TargetGroups by ARN.
	TargetGroups map[string]*TargetGroup `json:"targetGroups"`
	// Rules by id (the rule's ARN).
	Rules map[string]*Rule `json:"rules"`
	// Hosts are the single hosts' boots by instance id: what they serve, on which ports.
	Hosts map[string]*Host `json:"hosts"`
}

// TargetGroup is one target group and its registered targets.
type TargetGroup struct {
	ARN     string   `json:"arn"`
	Name    string   `json:"name"`
	Port    int      `json:"port"`
	Path    string   `json:"path"`
	Targets []Target `json:"targets"`
}

// Target is a registered instance.
type Target struct {
	ID         string    `json:"id"`
	Port       int       `json:"port"`
	Registered time.Time `json:"registered"`
}

// Rule is a listener rule: its listener and priority, the host names it matches and the target group it
// forwards to.
type Rule struct {
	ID          string   `json:"id"`
	Listener    string   `json:"listener,omitempty"`
	Priority    int      `json:"priority,omitempty"`
	Hosts       []string `json:"hosts"`
	TargetGroup string   `json:"targetGroup"`
}

// Host is a single host's boot: the fingerprint it runs, whether its boot ended ready, the ports it serves on and
// the paths it answers on each. A host serves from its ready boot until it is terminated: the readiness signal
// alone cannot say so, since a newer host's ready boot deletes the signals of other versions while the old host
// still serves.
type Host struct {
	Fingerprint string `json:"fingerprint"`
	Ready       bool   `json:"ready"`
	Ports       []int  `json:"ports"`
	// Paths are, by port, the paths the boot found answering there (its service's health and ready paths). A host
	// recorded without them answers every path.
	Paths map[int][]string `json:"paths,omitempty"`
}

// Error is a refusal as Elastic Load Balancing reports it: its code and message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// PutRule records a created or updated rule. A priority is unique on its listener: CreateRule and
// SetRulePriorities refuse one another rule holds with PriorityInUse
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_SetRulePriorities.html).
func (st *State) PutRule(r *Rule) error {
	for id, other := range st.Rules {
		if id != r.ID && r.Priority != 0 && other.Listener == r.Listener && other.Priority == r.Priority {
			return &Error{Code: "PriorityInUse", Message: fmt.Sprintf("Priority '%d' is currently in use", r.Priority)}
		}
	}
	st.Rules[r.ID] = r
	return nil
}

// DeleteTargetGroup deletes a group. Elastic Load Balancing refuses while a rule forwards to it, with
// ResourceInUse ("You can delete a target group if it is not referenced by any actions",
// https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeleteTargetGroup.html). autoScaling
// names the Auto Scaling groups that still list it: AWS deletes such a group, and the Auto Scaling group's next
// launches then fail on a target group it cannot find (zalando-incubator/kube-ingress-aws-controller#197); the
// stand-in refuses it the same way, so that a deploy deleting a group before detaching it fails in the tests
// rather than at the next launch.
func (st *State) DeleteTargetGroup(arn string, autoScaling []string) error {
	for _, r := range st.Rules {
		if r.TargetGroup == arn {
			return &Error{Code: "ResourceInUse", Message: fmt.Sprintf("Target group '%s' is currently in use by a "+
				"listener or a rule", arn)}
		}
	}
	if len(autoScaling) > 0 {
		return &Error{Code: "ResourceInUse", Message: fmt.Sprintf("Target group '%s' is currently in use by Auto "+
			"Scaling group(s) %s (stand-in refusal; AWS deletes it and breaks their launches)", arn,
			strings.Join(autoScaling, ", "))}
	}
	delete(st.TargetGroups, arn)
	return nil
}

// Store is the state in File.
type Store struct{ File string }

// FromEnv is the store the environment names; nil without one.
func FromEnv() *Store {
	if f := os.Getenv("APPSTACK_STANDIN_ELB"); f != "" {
		return &Store{File: f}
	}
	return nil
}

// Registration is the modelled registration time.
func Registration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("APPSTACK_STANDIN_ELB_REGISTRATION")); err == nil && d >= 0 {
		return d
	}
	return DefaultRegistration
}

// Update runs f on the state under the file's lock and saves it when f returns nil.
func (s *Store) Update(f func(*State) error) error {
	st := &State{}
	return jsonfile.Update(s.File, s.File+".lock", "stand-in front door", st, func() error {
		if st.TargetGroups == nil {
			st.TargetGroups = map[string]*TargetGroup{}
		}
		if st.Rules == nil {
			st.Rules = map[string]*Rule{}
		}
		if st.Hosts == nil {
			st.Hosts = map[string]*Host{}
		}
		return f(st)
	})
}

// Load reads the state.
func (s *Store) Load() (*State, error) {
	var out *State
	err := s.Update(func(st *State) error {
		out = st
		return nil
	})
	return out, err
}

// Register adds a target to a group (RegisterTargets); registering it again changes nothing.
func (st *State) Register(group, id string, port int, now time.Time) {
	tg := st.group(group)
	if port == 0 {
		port = tg.Port
	}
	for _, t := range tg.Targets {
		if t.ID == id && t.Port == port {
			return
		}
	}
	tg.Targets = append(tg.Targets, Target{ID: id, Port: port, Registered: now})
}

// Deregister removes a target from a group (DeregisterTargets).
func (st *State) Deregister(group, id string, port int) {
	tg := st.group(group)
	tg.Targets = slices.DeleteFunc(tg.Targets, func(t Target) bool {
		return t.ID == id && (port == 0 || t.Port == port || (t.Port == tg.Port && port == tg.Port))
	})
}

func (st *State) group(arn string) *TargetGroup {
	tg, ok := st.TargetGroups[arn]
	if !ok {
		tg = &TargetGroup{ARN: arn}
		st.TargetGroups[arn] = tg
	}
	return tg
}

// InUse says whether a rule forwards to the group: only then does the load balancer health-check its targets.
func (st *State) InUse(group string) bool {
	for _, r := range st.Rules {
		if r.TargetGroup == group {
			return true
		}
	}
	return false
}

// ServesFunc says whether instance id answers path on port.
type ServesFunc func(id string, port int, path string) bool

// Health is a target's state and reason at now; serves says whether its host answers the group's health check
// path on a port.
func (st *State) Health(group string, t Target, now time.Time, serves ServesFunc) (state,
	reason string, healthyAt time.Time) {
	if !st.InUse(group) {
		return "unused", "Target.NotInUse", time.Time{}
	}
	path := ""
	if tg, ok := st.TargetGroups[group]; ok {
		path = tg.Path
	}
	registered := t.Registered.Add(Registration())
	if !serves(t.ID, t.Port, path) {
		switch {
		case now.Before(registered):
			return "initial", "Elb.RegistrationInProgress", time.Time{}
		case now.Before(registered.Add(UnhealthyThreshold * CheckInterval)):
			return "initial", "Elb.InitialHealthChecking", time.Time{}
		}
		return "unhealthy", "Target.ResponseCodeMismatch", time.Time{}
	}
	healthy := registered.Add(HealthyThreshold * CheckInterval)
	switch {
	case now.Before(registered):
		return "initial", "Elb.RegistrationInProgress", healthy
	case now.Before(healthy):
		return "initial", "Elb.InitialHealthChecking", healthy
	}
	return "healthy", "", healthy
}

// Hostnames are the host names the rules serve, warm rules left out.
func (st *State) Hostnames() []string {
	var out []string
	for _, r := range st.Rules {
		for _, h := range r.Hosts {
			if !strings.HasSuffix(h, WarmSuffix) {
				out = append(out, h)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Route is the target group a host name's rule forwards to; "" when no rule matches.
func (st *State) Route(hostname string) string {
	for _, r := range st.Rules {
		if slices.Contains(r.Hosts, hostname) {
			return r.TargetGroup
		}
	}
	return ""
}

// Routed are the targets of a group the load balancer sends requests to at now: its healthy targets; or, when
// every registered target is unhealthy, all of them, with failOpen set: "If a target group contains only unhealthy
// registered targets, the load balancer routes requests to all those targets, regardless of their health status"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html). A
// fail-open group answers with whatever its unhealthy hosts answer: it does not serve.
func (st *State) Routed(group string, now time.Time, serves ServesFunc) (targets []Target, failOpen bool) {
	tg, ok := st.TargetGroups[group]
	if !ok || len(tg.Targets) == 0 {
		return nil, false
	}
	unhealthy := 0
	for _, t := range tg.Targets {
		switch state, _, _ := st.Health(group, t, now, serves); state {
		case "healthy":
			targets = append(targets, t)
		case "unhealthy":
			unhealthy++
		}
	}
	if len(targets) == 0 && unhealthy == len(tg.Targets) {
		return slices.Clone(tg.Targets), true
	}
	return targets, false
}
