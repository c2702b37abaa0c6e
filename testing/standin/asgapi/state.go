// Package asgapi is test scaffolding at the AWS API boundary: a stand-in for the Amazon EC2 Auto Scaling query
// API (version 2011-01-01) that answers DescribeAutoScalingGroups, DescribeInstanceRefreshes,
// StartInstanceRefresh, CancelInstanceRefresh and RollbackInstanceRefresh over HTTP the way the service shapes
// its XML, so that aws-sdk-go-v2's service/autoscaling client parses it, refusals included. It is not AWS.
//
// Its state (launch templates with their versions' user data, groups with their instances, instance refreshes
// and an ordered log of launches, health changes and terminations) lives in a file that the stand-in provider
// (testing/standin, which creates the templates and groups) shares with it, named by APPSTACK_STANDIN_FLEET.
// A launched instance boots the way the stand-in provider boots a single host (ssmstore): the next outcome of
// APPSTACK_STANDIN_BOOTS decides the readiness signal it leaves in the parameter store.
//
// Time is steps, not seconds: each DescribeInstanceRefreshes call advances the group's active refresh by one
// step (see Step), so a test sees the same sequence on every run.
//
// Tests of a caller (components/rollout) reach the states they need through test hooks that change only when
// things happen, never how the API answers: Group.Script scripts the statuses of the group's next refresh, and
// Server.Between changes the fleet between two calls (a refresh that ends after the caller read it). A group
// created with its Instances set starts with exactly those instances.
package asgapi

import (
	"encoding/json"
	"sync"
	"time"

	"appstack/testing/standin/jsonfile"
)

// State is the fleet: launch templates, groups, refreshes and the event log.
type State struct {
	Templates map[string]*Template `json:"templates"`
	Groups    map[string]*Group    `json:"groups"`
	Refreshes []*Refresh           `json:"refreshes"`
	Events    []Event              `json:"events"`
	// Counter numbers launched instances, refreshes and events.
	Counter int `json:"counter"`
}

// Template is a launch template with its numbered versions.
type Template struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	LatestVersion  int    `json:"latestVersion"`
	DefaultVersion int    `json:"defaultVersion"`
	// Versions[i] is version i+1.
	Versions []TemplateVersion `json:"versions"`
}

// TemplateVersion is what a version launches.
type TemplateVersion struct {
	// UserData is the base64 user data, as the launch template carries it.
	UserData     string `json:"userData"`
	ImageID      string `json:"imageId,omitempty"`
	InstanceType string `json:"instanceType,omitempty"`
}

// Config is what a group launches from: a launch template version and its instance types (a mixed instances
// policy), as a group carries it and as an instance refresh's desired configuration names it.
type Config struct {
	TemplateID   string `json:"templateId"`
	TemplateName string `json:"templateName,omitempty"`
	// Version is a version number, or $Latest / $Default.
	Version       string   `json:"version"`
	InstanceTypes []string `json:"instanceTypes,omitempty"`
	// Mixed says the group has a mixed instances policy (rather than a plain launch template).
	Mixed                      bool   `json:"mixed"`
	OnDemandBase               int    `json:"onDemandBase"`
	OnDemandAboveBase          int    `json:"onDemandAboveBase"`
	SpotAllocationStrategy     string `json:"spotAllocationStrategy,omitempty"`
	OnDemandAllocationStrategy string `json:"onDemandAllocationStrategy,omitempty"`
}

// Group is an Auto Scaling group.
type Group struct {
	Name                   string   `json:"name"`
	ARN                    string   `json:"arn"`
	Region                 string   `json:"region"`
	Min                    int      `json:"min"`
	Max                    int      `json:"max"`
	Desired                int      `json:"desired"`
	Config                 Config   `json:"config"`
	VPCZoneIdentifier      string   `json:"vpcZoneIdentifier,omitempty"`
	TargetGroupARNs        []string `json:"targetGroupArns,omitempty"`
	HealthCheckType        string   `json:"healthCheckType"`
	HealthCheckGracePeriod int      `json:"healthCheckGracePeriod"`
	DefaultInstanceWarmup  *int     `json:"defaultInstanceWarmup,omitempty"`
	// MinHealthy and MaxHealthy are the instance maintenance policy, when set.
	MinHealthy        *int        `json:"minHealthy,omitempty"`
	MaxHealthy        *int        `json:"maxHealthy,omitempty"`
	CapacityRebalance bool        `json:"capacityRebalance,omitempty"`
	Tags              []Tag       `json:"tags,omitempty"`
	Instances         []*Instance `json:"instances"`
	Created           time.Time   `json:"created"`
	// Script is a test hook: the statuses the group's next instance refresh reports, one a step, in place of
	// the simulated ones (see Step).
	Script []string `json:"script,omitempty"`
}

// Tag is a group tag.
type Tag struct {
	Key               string `json:"key"`
	Value             string `json:"value"`
	PropagateAtLaunch bool   `json:"propagateAtLaunch"`
}

// Lifecycle states and health statuses, as DescribeAutoScalingGroups reports them.
const (
	Pending   = "Pending"
	InService = "InService"
	Healthy   = "Healthy"
	Unhealthy = "Unhealthy"
)

// Instance is an instance of a group.
type Instance struct {
	ID           string `json:"id"`
	AZ           string `json:"az"`
	InstanceType string `json:"instanceType"`
	TemplateID   string `json:"templateId"`
	TemplateName string `json:"templateName,omitempty"`
	// Version is the launch template version it was launched from (a number).
	Version   string `json:"version"`
	Lifecycle string `json:"lifecycle"`
	Health    string `json:"health"`
	// Outcome is how its boot ended (offline.BootOutcome).
	Outcome string `json:"outcome"`
	// Steps counts the steps it has spent Pending.
	Steps int `json:"steps"`
	// Refresh is the refresh that launched it, if any.
	Refresh string `json:"refresh,omitempty"`
}

// Refresh statuses (types.InstanceRefreshStatus).
const (
	StatusPending            = "Pending"
	StatusInProgress         = "InProgress"
	StatusSuccessful         = "Successful"
	StatusFailed             = "Failed"
	StatusCancelling         = "Cancelling"
	StatusCancelled          = "Cancelled"
	StatusRollbackInProgress = "RollbackInProgress"
	StatusRollbackFailed     = "RollbackFailed"
	StatusRollbackSuccessful = "RollbackSuccessful"
)

// Preferences are a refresh's preferences, with the defaults the service applies filled in.
type Preferences struct {
	MinHealthyPercentage      int    `json:"minHealthyPercentage"`
	MaxHealthyPercentage      int    `json:"maxHealthyPercentage"`
	InstanceWarmup            *int   `json:"instanceWarmup,omitempty"`
	SkipMatching              bool   `json:"skipMatching"`
	AutoRollback              bool   `json:"autoRollback"`
	ScaleInProtectedInstances string `json:"scaleInProtectedInstances,omitempty"`
	StandbyInstances          string `json:"standbyInstances,omitempty"`
}

// Refresh is an instance refresh.
type Refresh struct {
	ID           string `json:"id"`
	Group        string `json:"group"`
	Status       string `json:"status"`
	StatusReason string `json:"statusReason,omitempty"`
	// Desired is the desired configuration; nil when the refresh named none.
	Desired *Config `json:"desired,omitempty"`
	// Original is the group's configuration when the refresh started: what a rollback restores.
	Original    Config      `json:"original"`
	Preferences Preferences `json:"preferences"`
	// ToReplace are the instances the current phase (forward or rollback) still has to replace.
	ToReplace []string `json:"toReplace"`
	// Total is how many instances the current phase set out to replace.
	Total     int        `json:"total"`
	Start     time.Time  `json:"start"`
	End       *time.Time `json:"end,omitempty"`
	Rollback  *Rollback  `json:"rollback,omitempty"`
	Percent   int        `json:"percent"`
	Remaining int        `json:"remaining"`
	// Strategy is the strategy the request named; empty when it named none (the service's default, Rolling).
	Strategy string `json:"strategy,omitempty"`
	// Script is what is left of the group's Script when the refresh started.
	Script []string `json:"script,omitempty"`
}

// Rollback is a refresh's rollback details.
type Rollback struct {
	Reason            string    `json:"reason"`
	Start             time.Time `json:"start"`
	PercentOnRollback int       `json:"percentOnRollback"`
	ToUpdateOnRollbck int       `json:"toUpdateOnRollback"`
}

// Event ops.
const (
	OpLaunch    = "launch"
	OpHealthy   = "healthy"
	OpUnhealthy = "unhealthy"
	OpTerminate = "terminate"
)

// Event is one entry of the fleet's log: an instance launched, passed or failed its health checks, or was
// terminated. Seq orders the events of every process that changes the fleet.
type Event struct {
	Seq      int    `json:"seq"`
	Op       string `json:"op"`
	Group    string `json:"group"`
	Instance string `json:"instance"`
	Version  string `json:"version"`
	Refresh  string `json:"refresh,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// Booter boots a launched instance from its launch template version's user data and returns how the boot
// ended (offline.BootOutcome). ssmstore.Store is one.
type Booter interface {
	Boot(instanceID, userData, userDataBase64 string) (string, error)
}

// Store is the fleet in File ("" keeps it in memory), whose launches boot through Boot.
type Store struct {
	File string
	Boot Booter

	mu     sync.Mutex
	memory *State
}

// epoch is the stand-in's clock origin: times are epoch plus the counter in seconds, so that runs repeat.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (st *State) now() time.Time { return epoch.Add(time.Duration(st.Counter) * time.Second) }

func (st *State) next() int {
	st.Counter++
	return st.Counter
}

func newState() *State {
	return &State{Templates: map[string]*Template{}, Groups: map[string]*Group{}}
}

// Update runs f on the fleet under an exclusive lock and saves what f changed when it returns nil.
func (s *Store) Update(f func(*State) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.File == "" {
		st := newState()
		if s.memory != nil {
			if err := roundTrip(s.memory, st); err != nil {
				return err
			}
		}
		if err := f(st); err != nil {
			return err
		}
		kept := newState()
		if err := roundTrip(st, kept); err != nil {
			return err
		}
		s.memory = kept
		return nil
	}
	st := newState()
	return jsonfile.Update(s.File, s.File+".lock", "stand-in fleet state", st, func() error {
		if st.Templates == nil {
			st.Templates = map[string]*Template{}
		}
		if st.Groups == nil {
			st.Groups = map[string]*Group{}
		}
		return f(st)
	})
}

// Load returns a copy of the fleet.
func (s *Store) Load() (*State, error) {
	var out *State
	err := s.Update(func(st *State) error {
		out = st
		return nil
	})
	return out, err
}

func roundTrip(from, to any) error {
	raw, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, to)
}
