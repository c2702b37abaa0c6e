package asgapi

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The query protocol (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/Welcome.html): a form-encoded POST
// with Action and Version=2011-01-01; lists as Name.member.N; nested structures as dotted names. A response is
// <ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/></ActionResponse>, a refusal
// <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>, the shapes
// aws-sdk-go-v2 service/autoscaling v1.57.0 deserializes (deserializers.go, awsxml.GetErrorResponseComponents).

const xmlns = "http://autoscaling.amazonaws.com/doc/2011-01-01/"

// Server serves the API over Store.
type Server struct {
	Store *Store
	// Between is a test hook: it runs on the fleet before each action is answered, for what the service does
	// between a caller's calls (a refresh that ends after the caller read it in progress). Optional.
	Between func(st *State, action string) error

	mu      sync.Mutex
	actions []string
}

// Actions are the actions the server answered, in order.
func (s *Server) Actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.actions)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		s.fail(w, &APIError{Code: "MissingAuthenticationToken", Status: 403,
			Message: "Request is missing Authentication Token"})
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, validation("%v", err))
		return
	}
	form := r.PostForm
	action := form.Get("Action")
	if v := form.Get("Version"); v != "2011-01-01" {
		s.fail(w, &APIError{Code: "InvalidAction", Status: 400,
			Message: fmt.Sprintf("Could not find operation %s for version %s", action, v)})
		return
	}
	s.mu.Lock()
	s.actions = append(s.actions, action)
	s.mu.Unlock()
	if s.Between != nil {
		// Saved on its own: what happened between the calls stays whether or not the action is refused.
		if err := s.Store.Update(func(st *State) error { return s.Between(st, action) }); err != nil {
			s.fail(w, err)
			return
		}
	}
	var result any
	err := s.Store.Update(func(st *State) error {
		var err error
		result, err = s.answer(st, action, form)
		return err
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	raw, err := xml.Marshal(result)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = fmt.Fprintf(w, `<%sResponse xmlns="%s">%s<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		action, xmlns, raw, requestID(action, form), action)
}

func requestID(action string, form url.Values) string {
	h := hashOf(action, form.Encode(), time.Now().String())
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	e, ok := err.(*APIError)
	if !ok {
		e = &APIError{Code: "InternalFailure", Message: err.Error(), Status: 500}
	}
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(e.Message))
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_, _ = fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		xmlns, typ, e.Code, msg.String(), requestID(e.Code, nil))
}

func (s *Server) answer(st *State, action string, form url.Values) (any, error) {
	group := form.Get("AutoScalingGroupName")
	switch action {
	case "DescribeAutoScalingGroups":
		names := members(form, "AutoScalingGroupNames")
		out := describeGroupsResult{XMLName: xml.Name{Local: action + "Result"}}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range st.Groups {
				if !yield(k) {
					return
				}
			}
		})
		for _, name := range keys {
			if len(names) == 0 || slices.Contains(names, name) {
				out.AutoScalingGroups.Member = append(out.AutoScalingGroups.Member, xmlGroup(st.Groups[name]))
			}
		}
		return out, nil
	case "DescribeInstanceRefreshes":
		if group == "" {
			return nil, validation("1 validation error detected: Value null at 'autoScalingGroupName' failed to " +
				"satisfy constraint: Member must not be null")
		}
		// One step of the simulation per call: the service moves on while the caller polls.
		if err := st.Step(group, s.Store.Boot); err != nil {
			return nil, err
		}
		ids := members(form, "InstanceRefreshIds")
		out := describeRefreshesResult{XMLName: xml.Name{Local: action + "Result"}}
		// Newest first (API_DescribeInstanceRefreshes), MaxRecords at a time (default 50), NextToken the offset.
		for _, r := range slices.Backward(st.Refreshes) {
			if r.Group == group && (len(ids) == 0 || slices.Contains(ids, r.ID)) {
				out.InstanceRefreshes.Member = append(out.InstanceRefreshes.Member, xmlRefresh(r))
			}
		}
		from, _ := strconv.Atoi(form.Get("NextToken"))
		size := 50
		if n := intParam(form, "MaxRecords"); n != nil && *n > 0 {
			size = *n
		}
		all := out.InstanceRefreshes.Member
		out.InstanceRefreshes.Member = all[min(from, len(all)):min(from+size, len(all))]
		if from+size < len(all) {
			out.NextToken = strconv.Itoa(from + size)
		}
		return out, nil
	case "StartInstanceRefresh":
		if strategy := form.Get("Strategy"); strategy != "" && strategy != "Rolling" {
			return nil, validation("The strategy %q is not supported by this stand-in: only Rolling is.", strategy)
		}
		desired, err := desiredConfig(st, group, form)
		if err != nil {
			return nil, err
		}
		id, err := st.StartRefresh(group, desired, preferences(form))
		if err == nil {
			st.Refreshes[len(st.Refreshes)-1].Strategy = form.Get("Strategy")
		}
		return refreshIDResult{XMLName: xml.Name{Local: action + "Result"}, InstanceRefreshId: id}, err
	case "CancelInstanceRefresh":
		id, err := st.CancelRefresh(group)
		return refreshIDResult{XMLName: xml.Name{Local: action + "Result"}, InstanceRefreshId: id}, err
	case "RollbackInstanceRefresh":
		id, err := st.RollbackRefresh(group)
		return refreshIDResult{XMLName: xml.Name{Local: action + "Result"}, InstanceRefreshId: id}, err
	}
	return nil, &APIError{Code: "InvalidAction", Status: 400,
		Message: fmt.Sprintf("Could not find operation %s for version 2011-01-01", action)}
}

// members are the values of a query-protocol list: name.member.1, name.member.2, ...
func members(form url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[fmt.Sprintf("%s.member.%d", name, i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

func intParam(form url.Values, name string) *int {
	v, err := strconv.Atoi(form.Get(name))
	if err != nil {
		return nil
	}
	return &v
}

func boolParam(form url.Values, name string) *bool {
	v, err := strconv.ParseBool(form.Get(name))
	if err != nil {
		return nil
	}
	return &v
}

func preferences(form url.Values) PreferencesInput {
	return PreferencesInput{
		MinHealthyPercentage:      intParam(form, "Preferences.MinHealthyPercentage"),
		MaxHealthyPercentage:      intParam(form, "Preferences.MaxHealthyPercentage"),
		InstanceWarmup:            intParam(form, "Preferences.InstanceWarmup"),
		SkipMatching:              boolParam(form, "Preferences.SkipMatching"),
		AutoRollback:              boolParam(form, "Preferences.AutoRollback"),
		ScaleInProtectedInstances: form.Get("Preferences.ScaleInProtectedInstances"),
		StandbyInstances:          form.Get("Preferences.StandbyInstances"),
	}
}

// desiredConfig is the request's DesiredConfiguration (a launch template or a mixed instances policy), nil when
// it names none.
func desiredConfig(st *State, group string, form url.Values) (*Config, error) {
	spec := func(prefix string) (Config, bool) {
		c := Config{TemplateID: form.Get(prefix + ".LaunchTemplateId"),
			TemplateName: form.Get(prefix + ".LaunchTemplateName"), Version: form.Get(prefix + ".Version")}
		return c, c.TemplateID != "" || c.TemplateName != ""
	}
	const mip = "DesiredConfiguration.MixedInstancesPolicy"
	if c, ok := spec(mip + ".LaunchTemplate.LaunchTemplateSpecification"); ok {
		c.Mixed = true
		for i := 1; ; i++ {
			t := form.Get(fmt.Sprintf("%s.LaunchTemplate.Overrides.member.%d.InstanceType", mip, i))
			if t == "" {
				break
			}
			c.InstanceTypes = append(c.InstanceTypes, t)
		}
		if g, ok := st.Groups[group]; ok {
			c.OnDemandBase, c.OnDemandAboveBase = g.Config.OnDemandBase, g.Config.OnDemandAboveBase
			c.SpotAllocationStrategy = g.Config.SpotAllocationStrategy
			c.OnDemandAllocationStrategy = g.Config.OnDemandAllocationStrategy
		}
		const dist = mip + ".InstancesDistribution"
		if v := intParam(form, dist+".OnDemandBaseCapacity"); v != nil {
			c.OnDemandBase = *v
		}
		if v := intParam(form, dist+".OnDemandPercentageAboveBaseCapacity"); v != nil {
			c.OnDemandAboveBase = *v
		}
		c.SpotAllocationStrategy = or(form.Get(dist+".SpotAllocationStrategy"), c.SpotAllocationStrategy)
		return &c, nil
	}
	if c, ok := spec("DesiredConfiguration.LaunchTemplate"); ok {
		return &c, nil
	}
	return nil, nil
}

// The response shapes (element names as aws-sdk-go-v2 service/autoscaling deserializes them).

type list[T any] struct {
	Member []T `xml:"member"`
}

type describeGroupsResult struct {
	XMLName           xml.Name
	AutoScalingGroups list[xGroup]
}

type describeRefreshesResult struct {
	XMLName           xml.Name
	InstanceRefreshes list[xRefresh]
	NextToken         string `xml:",omitempty"`
}

type refreshIDResult struct {
	XMLName           xml.Name
	InstanceRefreshId string //nolint:revive // the service's element name
}

type xTemplateSpec struct {
	LaunchTemplateId   string `xml:",omitempty"` //nolint:revive // the service's element name
	LaunchTemplateName string `xml:",omitempty"`
	Version            string `xml:",omitempty"`
}

type xOverride struct {
	InstanceType string
}

type xMixed struct {
	LaunchTemplate struct {
		LaunchTemplateSpecification xTemplateSpec
		Overrides                   list[xOverride]
	}
	InstancesDistribution struct {
		OnDemandAllocationStrategy          string `xml:",omitempty"`
		OnDemandBaseCapacity                int
		OnDemandPercentageAboveBaseCapacity int
		SpotAllocationStrategy              string `xml:",omitempty"`
	}
}

type xInstance struct {
	InstanceId           string //nolint:revive // the service's element name
	InstanceType         string
	AvailabilityZone     string
	LifecycleState       string
	HealthStatus         string
	LaunchTemplate       xTemplateSpec
	ProtectedFromScaleIn bool
}

type xTag struct {
	ResourceId        string //nolint:revive // the service's element name
	ResourceType      string
	Key               string
	Value             string
	PropagateAtLaunch bool
}

type xPercentages struct {
	MinHealthyPercentage int
	MaxHealthyPercentage int
}

type xGroup struct {
	AutoScalingGroupName             string
	AutoScalingGroupARN              string
	LaunchTemplate                   *xTemplateSpec `xml:",omitempty"`
	MixedInstancesPolicy             *xMixed        `xml:",omitempty"`
	MinSize                          int
	MaxSize                          int
	DesiredCapacity                  int
	DefaultCooldown                  int
	AvailabilityZones                list[string]
	LoadBalancerNames                list[string]
	TargetGroupARNs                  list[string]
	HealthCheckType                  string
	HealthCheckGracePeriod           int
	Instances                        list[xInstance]
	CreatedTime                      string
	SuspendedProcesses               list[string]
	VPCZoneIdentifier                string `xml:",omitempty"`
	EnabledMetrics                   list[string]
	Tags                             list[xTag]
	TerminationPolicies              list[string]
	NewInstancesProtectedFromScaleIn bool
	ServiceLinkedRoleARN             string
	CapacityRebalance                bool
	DefaultInstanceWarmup            *int          `xml:",omitempty"`
	InstanceMaintenancePolicy        *xPercentages `xml:",omitempty"`
}

type xProgress struct {
	LivePoolProgress struct {
		PercentageComplete int
		InstancesToUpdate  int
	}
}

type xPreferences struct {
	MinHealthyPercentage      int
	MaxHealthyPercentage      int
	InstanceWarmup            *int `xml:",omitempty"`
	SkipMatching              bool
	AutoRollback              bool
	ScaleInProtectedInstances string
	StandbyInstances          string
}

type xDesired struct {
	LaunchTemplate       *xTemplateSpec `xml:",omitempty"`
	MixedInstancesPolicy *xMixed        `xml:",omitempty"`
}

type xRollback struct {
	RollbackReason               string
	RollbackStartTime            string
	PercentageCompleteOnRollback int
	InstancesToUpdateOnRollback  int
}

type xRefresh struct {
	InstanceRefreshId    string //nolint:revive // the service's element name
	AutoScalingGroupName string
	Status               string
	StatusReason         string `xml:",omitempty"`
	StartTime            string
	EndTime              string `xml:",omitempty"`
	PercentageComplete   int
	InstancesToUpdate    int
	ProgressDetails      xProgress
	Preferences          xPreferences
	DesiredConfiguration *xDesired  `xml:",omitempty"`
	RollbackDetails      *xRollback `xml:",omitempty"`
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func xmlConfig(c Config) (*xTemplateSpec, *xMixed) {
	spec := xTemplateSpec{LaunchTemplateId: c.TemplateID, LaunchTemplateName: c.TemplateName, Version: c.Version}
	if !c.Mixed {
		return &spec, nil
	}
	m := &xMixed{}
	m.LaunchTemplate.LaunchTemplateSpecification = spec
	for _, t := range c.InstanceTypes {
		m.LaunchTemplate.Overrides.Member = append(m.LaunchTemplate.Overrides.Member, xOverride{InstanceType: t})
	}
	m.InstancesDistribution.OnDemandAllocationStrategy = or(c.OnDemandAllocationStrategy, "prioritized")
	m.InstancesDistribution.OnDemandBaseCapacity = c.OnDemandBase
	m.InstancesDistribution.OnDemandPercentageAboveBaseCapacity = c.OnDemandAboveBase
	m.InstancesDistribution.SpotAllocationStrategy = or(c.SpotAllocationStrategy, "lowest-price")
	return nil, m
}

func xmlGroup(g *Group) xGroup {
	x := xGroup{AutoScalingGroupName: g.Name, AutoScalingGroupARN: g.ARN, MinSize: g.Min, MaxSize: g.Max,
		DesiredCapacity: g.Desired, DefaultCooldown: 300, HealthCheckType: or(g.HealthCheckType, "EC2"),
		HealthCheckGracePeriod: g.HealthCheckGracePeriod, CreatedTime: timestamp(g.Created),
		VPCZoneIdentifier: g.VPCZoneIdentifier, NewInstancesProtectedFromScaleIn: false,
		ServiceLinkedRoleARN: fmt.Sprintf("arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/"+
			"AWSServiceRoleForAutoScaling", accountOf(g.ARN)),
		CapacityRebalance: g.CapacityRebalance, DefaultInstanceWarmup: g.DefaultInstanceWarmup}
	x.LaunchTemplate, x.MixedInstancesPolicy = xmlConfig(g.Config)
	x.TargetGroupARNs.Member = g.TargetGroupARNs
	x.TerminationPolicies.Member = []string{"Default"}
	subnets := strings.Split(g.VPCZoneIdentifier, ",")
	for i := range max(len(subnets), 1) {
		x.AvailabilityZones.Member = append(x.AvailabilityZones.Member, g.Region+string(rune('a'+i)))
	}
	for _, t := range g.Tags {
		x.Tags.Member = append(x.Tags.Member, xTag{ResourceId: g.Name, ResourceType: "auto-scaling-group",
			Key: t.Key, Value: t.Value, PropagateAtLaunch: t.PropagateAtLaunch})
	}
	for _, i := range g.Instances {
		x.Instances.Member = append(x.Instances.Member, xInstance{InstanceId: i.ID, InstanceType: i.InstanceType,
			AvailabilityZone: i.AZ, LifecycleState: i.Lifecycle, HealthStatus: i.Health,
			LaunchTemplate: xTemplateSpec{LaunchTemplateId: i.TemplateID, LaunchTemplateName: i.TemplateName,
				Version: i.Version}})
	}
	if g.MinHealthy != nil && g.MaxHealthy != nil {
		x.InstanceMaintenancePolicy = &xPercentages{MinHealthyPercentage: *g.MinHealthy,
			MaxHealthyPercentage: *g.MaxHealthy}
	}
	return x
}

func accountOf(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) > 4 {
		return parts[4]
	}
	return ""
}

func xmlRefresh(r *Refresh) xRefresh {
	x := xRefresh{InstanceRefreshId: r.ID, AutoScalingGroupName: r.Group, Status: r.Status,
		StatusReason: r.StatusReason, StartTime: timestamp(r.Start), PercentageComplete: r.Percent,
		InstancesToUpdate: r.Remaining,
		Preferences: xPreferences{MinHealthyPercentage: r.Preferences.MinHealthyPercentage,
			MaxHealthyPercentage: r.Preferences.MaxHealthyPercentage, InstanceWarmup: r.Preferences.InstanceWarmup,
			SkipMatching: r.Preferences.SkipMatching, AutoRollback: r.Preferences.AutoRollback,
			ScaleInProtectedInstances: r.Preferences.ScaleInProtectedInstances,
			StandbyInstances:          r.Preferences.StandbyInstances}}
	x.ProgressDetails.LivePoolProgress.PercentageComplete = r.Percent
	x.ProgressDetails.LivePoolProgress.InstancesToUpdate = r.Remaining
	if r.End != nil {
		x.EndTime = timestamp(*r.End)
	}
	if r.Desired != nil {
		x.DesiredConfiguration = &xDesired{}
		x.DesiredConfiguration.LaunchTemplate, x.DesiredConfiguration.MixedInstancesPolicy = xmlConfig(*r.Desired)
	}
	if r.Rollback != nil {
		x.RollbackDetails = &xRollback{RollbackReason: r.Rollback.Reason,
			RollbackStartTime:            timestamp(r.Rollback.Start),
			PercentageCompleteOnRollback: r.Rollback.PercentOnRollback,
			InstancesToUpdateOnRollback:  r.Rollback.ToUpdateOnRollbck}
	}
	return x
}
