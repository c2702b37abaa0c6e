package stacks

import (
	"time"

	"appstack/components/instancetype"
	"appstack/components/rollout"
)

// The hosting modes a stack may declare in `appstack:hosting`.
const (
	// Single runs the services on one EC2 host behind an Elastic IP (and the front door, with a domain).
	Single = "single"
	// FleetHosting runs them on an Auto Scaling group of hosts behind the front door.
	FleetHosting = "fleet"
)

// The metrics a fleet scales on (appstack:fleet.scaling.metric).
const (
	// CPUMetric keeps the group's average CPU utilisation (percent) at the target.
	CPUMetric = "cpu"
	// RequestsMetric keeps the front door's requests per host (per minute) at the target.
	RequestsMetric = "requests"
)

// Fleet is the shape of a stack's Auto Scaling group (appstack:fleet), used with appstack:hosting: fleet.
type Fleet struct {
	// Min is the group's minimum size. Default 2 (two Availability Zones); production at least 2.
	Min int `json:"min"`
	// Max is the group's maximum size. Default twice Min.
	Max int `json:"max"`
	// Desired is the capacity the group starts with; scaling owns it afterwards. Default Min.
	Desired int `json:"desired"`
	// InstanceTypes are the types the group may launch, in order of preference, of one architecture
	// (appstack:instance.arch). Default [appstack:instance.type].
	InstanceTypes []string `json:"instanceTypes"`
	// OnDemandBase is how many hosts are On-Demand before any is Spot. Default Min.
	OnDemandBase *int `json:"onDemandBase"`
	// SpotPercent is the share of the capacity above OnDemandBase that runs on Spot, 0-100. Default 0.
	SpotPercent int `json:"spotPercent"`
	// MinHealthyPercent is the share of the desired capacity a deploy keeps in service; new hosts are launched
	// before old ones go, up to 100 points above it and at most 200 percent. Default 100.
	MinHealthyPercent *int `json:"minHealthyPercent"`
	// DrainSeconds is how long a host leaving the fleet (a deploy, a scale-in) keeps its open requests and
	// connections (WebSockets) before it is terminated: the target groups' deregistration delay, 0-3600. Default 300.
	DrainSeconds *int `json:"drainSeconds"`
	// Scaling is the target tracking policy. Default CPU at 60 percent.
	Scaling Scaling `json:"scaling"`
	// SubnetIDs are private subnets, in two or more Availability Zones, whose traffic to AWS (ECR, SSM,
	// CloudWatch) goes through a NAT gateway or VPC endpoints: the hosts get no public address. Only with vpcId.
	// Default: the front door's subnets, where the hosts need public addresses (a waiver of FleetPublicIPRule).
	SubnetIDs []string `json:"subnetIds"`
}

// Scaling is a fleet's target tracking policy.
type Scaling struct {
	// Metric is cpu or requests. Default cpu.
	Metric string `json:"metric"`
	// Target is the value the group keeps the metric at: percent CPU (1-100), or requests per host per minute.
	// Default 60 for cpu, 1000 for requests.
	Target float64 `json:"target"`
}

// FleetPublicIPRule is the policy rule fleet hosts with public addresses must be waived under.
const FleetPublicIPRule = "APPSTACK-ASG-003"

// IsFleet reports whether the stack runs on a fleet (appstack:hosting: fleet).
func (c *Config) IsFleet() bool { return c.Hosting == FleetHosting }

// FleetShape is the stack's fleet with every unset field defaulted (Load has done so already; a Config built in
// code may leave Fleet nil).
func (c *Config) FleetShape() Fleet {
	f := Fleet{}
	if c.Fleet != nil {
		f = *c.Fleet
	}
	f.applyDefaults(c.Instance.Type)
	return f
}

// applyDefaults fills a fleet's unset fields; instanceType is appstack:instance.type.
func (f *Fleet) applyDefaults(instanceType string) {
	if f.Min == 0 {
		f.Min = 2
	}
	if f.Max == 0 {
		f.Max = 2 * f.Min
	}
	if f.Desired == 0 {
		f.Desired = f.Min
	}
	if len(f.InstanceTypes) == 0 {
		f.InstanceTypes = []string{instanceType}
	}
	if f.OnDemandBase == nil {
		f.OnDemandBase = new(f.Min)
	}
	if f.DrainSeconds == nil {
		f.DrainSeconds = new(300)
	}
	if f.MinHealthyPercent == nil {
		f.MinHealthyPercent = new(100)
	}
	if f.Scaling.Metric == "" {
		f.Scaling.Metric = CPUMetric
	}
	if f.Scaling.Target == 0 {
		f.Scaling.Target = map[string]float64{CPUMetric: 60, RequestsMetric: 1000}[f.Scaling.Metric]
	}
}

// maxFleetSize bounds appstack:fleet.max: a typo of 1000 hosts is refused rather than launched.
const maxFleetSize = 100

// fleet checks appstack:hosting and appstack:fleet.
func (v *validator) fleet(c *Config) {
	switch c.Hosting {
	case Single, "":
		if c.Fleet != nil {
			v.addf(key("fleet"), "set but appstack:hosting is single: set appstack:hosting: fleet, or remove it")
		}
		return
	case FleetHosting:
	default:
		v.addf(key("hosting"), "%q: want %s (one host, the default) or %s (an Auto Scaling group behind the "+
			"front door)", c.Hosting, Single, FleetHosting)
		return
	}
	if c.Domain == "" {
		v.addf(key("hosting"), "fleet needs appstack:domain: its hosts serve behind the HTTPS front door's load "+
			"balancer")
	}
	if c.AdoptAddress != "" {
		v.addf(key("adoptAddress"), "a fleet has no Elastic IP: its address is the front door's hostnames")
	}
	shape := c.FleetShape()
	f := &shape
	switch {
	case f.Min < 1 || f.Min > maxFleetSize:
		v.addf(key("fleet", "min"), "%d: want 1 to %d hosts", f.Min, maxFleetSize)
	case c.Environment == Production && f.Min < 2:
		v.addf(key("fleet", "min"), "%d: production keeps at least 2 hosts, one per Availability Zone, so that "+
			"losing a host or a zone costs no downtime", f.Min)
	case f.Max < f.Min || f.Max > maxFleetSize:
		v.addf(key("fleet", "max"), "%d: want min (%d) to %d", f.Max, f.Min, maxFleetSize)
	case f.Desired < f.Min || f.Desired > f.Max:
		v.addf(key("fleet", "desired"), "%d: want min (%d) to max (%d)", f.Desired, f.Min, f.Max)
	}
	seen := map[string]bool{}
	for i, t := range f.InstanceTypes {
		k := key("fleet", "instanceTypes", i)
		switch {
		case !instanceTypeRE.MatchString(t):
			v.addf(k, "%q is not an EC2 instance type such as t3.small", t)
		case instancetype.Unrunnable(t) != "":
			v.addf(k, "%s", instancetype.Unrunnable(t))
		case archOf(t) != c.Instance.Arch:
			v.addf(k, "%q is %s but appstack:instance.arch is %s: one launch template boots one AMI", t,
				archOf(t), c.Instance.Arch)
		case seen[t]:
			v.addf(k, "%q is listed twice", t)
		}
		seen[t] = true
	}
	if len(f.InstanceTypes) > 20 {
		v.addf(key("fleet", "instanceTypes"), "%d types: an Auto Scaling group takes at most 20",
			len(f.InstanceTypes))
	}
	if f.OnDemandBase != nil && (*f.OnDemandBase < 0 || *f.OnDemandBase > f.Max) {
		v.addf(key("fleet", "onDemandBase"), "%d: want 0 to max (%d)", *f.OnDemandBase, f.Max)
	}
	if d := *f.DrainSeconds; d < 0 || d > 3600 {
		// The target group's deregistration_delay.timeout_seconds is 0-3600.
		v.addf(key("fleet", "drainSeconds"), "%d: want 0 to 3600 seconds (the load balancer's limits)", d)
	}
	if d := *f.DrainSeconds; d >= 0 && d <= 3600 {
		c.validateDeployTime(v, time.Duration(d)*time.Second)
	}
	if f.SpotPercent < 0 || f.SpotPercent > 100 {
		v.addf(key("fleet", "spotPercent"), "%d: want 0 to 100", f.SpotPercent)
	}
	if m := *f.MinHealthyPercent; m < 0 || m > 100 {
		// Auto Scaling's MinHealthyPercentage is 0-100; appstack sets the maximum to at most 100 above it.
		v.addf(key("fleet", "minHealthyPercent"), "%d: want 0 to 100", m)
	}
	switch f.Scaling.Metric {
	case CPUMetric:
		if f.Scaling.Target <= 0 || f.Scaling.Target > 100 {
			v.addf(key("fleet", "scaling", "target"), "%g: want a CPU percentage above 0 and up to 100",
				f.Scaling.Target)
		}
	case RequestsMetric:
		if f.Scaling.Target < 1 {
			v.addf(key("fleet", "scaling", "target"), "%g: want requests per host per minute, at least 1",
				f.Scaling.Target)
		}
	default:
		v.addf(key("fleet", "scaling", "metric"), "%q: want %s or %s", f.Scaling.Metric, CPUMetric,
			RequestsMetric)
	}
	ids := f.SubnetIDs
	switch {
	case len(ids) > 0 && c.VpcID == "":
		v.addf(key("fleet", "subnetIds"), "only with vpcId: the default VPC has no private subnets")
	case len(ids) == 1:
		v.addf(key("fleet", "subnetIds"), "one subnet: a fleet spreads over at least two Availability Zones")
	}
	dup := map[string]bool{}
	for i, id := range ids {
		switch {
		case !subnetIDRE.MatchString(id):
			v.addf(key("fleet", "subnetIds", i), "%q is not a subnet id", id)
		case dup[id]:
			v.addf(key("fleet", "subnetIds", i), "%q is listed twice", id)
		}
		dup[id] = true
	}
}

// archOf is the architecture of a valid instance type (isGraviton).
func archOf(instanceType string) Arch {
	if m := instanceTypeRE.FindStringSubmatch(instanceType); m != nil && isGraviton(m[1], m[2], m[3]) {
		return ARM64
	}
	return X86_64
}

// DeploySession is how long the AWS session of a deploy job lasts: aws-actions/configure-aws-credentials asks STS
// for one hour unless role-duration-seconds says otherwise (its README, "Assuming a Role"; pull request 486),
// and the deploy roles allow no more (bootstrap/program.go, MaxSessionDuration 3600). Every AWS call of a deploy,
// the rollout's and its rollback's included, must be made within it.
const DeploySession = time.Hour

// DeployAllowance is the part of DeploySession a deploy job spends outside the fleet's rollout: the outputs read
// before it, the rest of pulumi up (the other resources' changes), the smoke test.
const DeployAllowance = 5 * time.Minute

// FleetDeployWorstCase is the longest a fleet deploy's rollout can run with readyTimeout and drain: a refresh to
// its deadline and a rollback as long again (rollout.WorstCase).
func FleetDeployWorstCase(readyTimeout, drain time.Duration) time.Duration {
	return rollout.WorstCase(readyTimeout, rollout.DefaultInstanceWarmup, drain)
}

// validateDeployTime refuses a fleet whose rollout and rollback cannot finish within a deploy job's AWS session:
// past it every call fails, the rollback's included, and the fleet is left mid-refresh.
func (c *Config) validateDeployTime(v *validator, drain time.Duration) {
	worst := FleetDeployWorstCase(c.ReadyTimeout, drain)
	if worst+DeployAllowance <= DeploySession {
		return
	}
	v.addf(key("readyTimeout"), "%s with appstack:fleet.drainSeconds %d: a fleet deploy's refresh may run "+
		"2 x readyTimeout + %s warmup + drainSeconds = %s before it is rolled back, and its rollback as long again, "+
		"%s in all; with %s for the rest of the deploy that is past the %s AWS session of a deploy job, after which "+
		"even the rollback's calls fail. Lower appstack:readyTimeout or appstack:fleet.drainSeconds so that "+
		"4 x readyTimeout + 2 x drainSeconds is at most %s", c.ReadyTimeout, int(drain/time.Second),
		rollout.DefaultInstanceWarmup, rollout.Deadline(c.ReadyTimeout, rollout.DefaultInstanceWarmup, drain),
		worst, DeployAllowance, DeploySession, DeploySession-DeployAllowance-2*rollout.DefaultInstanceWarmup)
}
