// Package frontdoor is the component that serves the services over HTTPS on their own hostnames: an
// Application Load Balancer with an ACM certificate per hostname (DNS-validated in the stack's Route 53 zone,
// renewed by ACM), an HTTP listener that only redirects to HTTPS, one target group per service health-checked
// on its readyPath, DNS alias records, and the access-log bucket. The host registers in the target groups
// (components/host); the front door's security group is the only source the host's service ports admit.
package frontdoor

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/elb"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/network"
	"appstack/components/tags"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:FrontDoor"

// TLSPolicy is the listener's security policy: TLS 1.3 and 1.2 only, forward-secret ciphers — AWS's
// recommended policy for HTTPS listeners (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
const TLSPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// HSTS is the Strict-Transport-Security header the HTTPS listener adds to every response (one year; browsers
// then refuse plain HTTP for the hostname and, with includeSubDomains, for every name under it).
const HSTS = "max-age=31536000; includeSubDomains"

// HSTSApex is the header when a service is served on the zone's apex: there includeSubDomains would force HTTPS
// for a year on every name of the domain, services outside this stack included (RFC 6797 section 6.1.2), so only
// the hostnames themselves are bound.
const HSTSApex = "max-age=31536000"

// hsts is the header for the services: HSTSApex when one of them is served on the zone's apex, else HSTS.
func (a *Args) hsts() string {
	for _, s := range a.Services {
		if s.Hostname == a.Domain {
			return HSTSApex
		}
	}
	return HSTS
}

// DefaultDeregistrationDelay is how long a target leaving a group keeps its requests unless Args says otherwise:
// a single host is deregistered only once its replacement serves, so its drain need not be long.
const DefaultDeregistrationDelay = 30 * time.Second

// Health check timing: a target is in service after HealthyThreshold passing checks HealthCheckInterval apart.
const (
	HealthCheckInterval = 5 * time.Second
	HealthyThreshold    = 2
)

// newLogDeliveryRegions are the regions opened in or after August 2022, where Elastic Load Balancing writes
// access logs as the service principal logdelivery.elasticloadbalancing.amazonaws.com; older regions write as a
// regional ELB account (elb.getServiceAccount). https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
var newLogDeliveryRegions = []string{"ap-south-2", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6",
	"ap-southeast-7", "ap-east-2", "ca-west-1", "eu-south-2", "eu-central-2", "il-central-1", "me-central-1",
	"mx-central-1"}

// bucketPrefixRE is what S3 accepts at the start of a bucket name, with room for the provider's 26-character
// unique suffix (bucket_prefix).
var bucketPrefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,36}$`)

// LogDeliveryService is the service principal that writes access logs in the newer regions.
const LogDeliveryService = "logdelivery.elasticloadbalancing.amazonaws.com"

// Service is one service behind the front door.
type Service struct {
	// Name names the service's target group, certificate and record. Required.
	Name string
	// Port is the host port the service listens on. Required.
	Port int
	// Hostname is the service's DNS name inside Domain. Required.
	Hostname string
	// ReadyPath is what the target group's health check requests. Required, starts with /.
	ReadyPath string
}

// Args configures a FrontDoor.
type Args struct {
	// Domain is the public Route 53 hosted zone the hostnames live in. Required.
	Domain string
	// ZoneID is that zone's id (route53.LookupZone). Required.
	ZoneID string
	// Services are the services to serve, one hostname each. Required.
	Services []Service
	// VpcID is the VPC of the load balancer and its target groups. Required.
	VpcID string
	// SubnetIDs are the load balancer's subnets, in at least two Availability Zones. Required.
	SubnetIDs []string
	// IngressCidrs may reach ports 443 and 80. Required.
	IngressCidrs []string
	// PublicIngressReason must be set for a whole-internet CIDR in IngressCidrs. Optional.
	PublicIngressReason string
	// IdleTimeout closes a connection idle this long (1s-4000s). Default 10 minutes.
	IdleTimeout time.Duration
	// DeregistrationDelay is how long a target leaving a group keeps its in-flight requests and connections,
	// 0-3600s. Default (nil) DefaultDeregistrationDelay.
	DeregistrationDelay *time.Duration
	// DeletionProtection refuses to delete the load balancer until it is turned off. Default false; production.
	DeletionProtection bool
	// Region picks how Elastic Load Balancing is allowed to write the access logs. Required.
	Region string
	// AccountID is the stack's AWS account, the only one whose log path the bucket accepts. Required.
	AccountID pulumi.StringInput
	// LogBucketPrefix starts the access-log bucket's name (S3 adds a unique suffix): lower-case letters, digits,
	// dots and dashes, at most 37 characters. It should name project and stack, so that IAM can scope a stack's
	// deploy role to its own bucket. Required.
	LogBucketPrefix string
	// TargetGroupPrefix starts every target group's name, followed by a dash: the stack's name, since the deploy
	// roles manage, and attach Auto Scaling groups to, only target groups named for their own stacks (bootstrap:
	// FrontDoorPolicy, FleetPolicy). 1-24 letters, digits and dashes. Optional: without it the names start with the
	// service.
	TargetGroupPrefix string
	// DeferRouting leaves the listener rules to a later call of Route, which can hold them until the hosts
	// serve. Default false: New creates them.
	DeferRouting bool
	// ForFleet says the target groups serve an Auto Scaling group. A fleet's groups are named apart from a single
	// host's, so moving a stack between the two creates new groups instead of changing the serving ones in place.
	// Default false: a single host.
	ForFleet bool
	// LogRetentionDays expires access logs after this many days. Default 14.
	LogRetentionDays int
	// ForceDestroyLogs lets a destroy delete the access-log bucket with its logs. Default false; ephemeral.
	ForceDestroyLogs bool
	// AlarmTopicArn is told when a service has no healthy target. Optional: the alarm is still in CloudWatch.
	AlarmTopicArn pulumi.StringInput
	// Tags go on every taggable resource. Optional.
	Tags map[string]string
}

// FrontDoor is the load balancer, its listeners, certificates, target groups and DNS records.
type FrontDoor struct {
	pulumi.ResourceState

	// SecurityGroupID is the load balancer's security group: the only source the host admits.
	SecurityGroupID pulumi.IDOutput
	// TargetGroupArns maps each service to its target group's ARN.
	TargetGroupArns map[string]pulumi.StringOutput
	// TargetGroupNames maps each service to its target group's name, known before the group exists.
	TargetGroupNames map[string]string
	// ResourceLabels maps each service to app/<load balancer>/<id>/targetgroup/<target group>/<id>, the label that
	// names its requests per target to a target tracking policy (PredefinedMetricSpecification.ResourceLabel).
	ResourceLabels map[string]pulumi.StringOutput
	// URLs maps each service to https://<hostname>/.
	URLs pulumi.StringMapOutput

	https  *lb.Listener
	routes []route
	tags   pulumi.StringMap
	// DNSName is the load balancer's own name, which the alias records point at.
	DNSName pulumi.StringOutput
	// LogBucket is the access logs' bucket.
	LogBucket pulumi.StringOutput
}

func (a *Args) withDefaults() Args {
	out := *a
	if out.IdleTimeout == 0 {
		out.IdleTimeout = 10 * time.Minute
	}
	if out.DeregistrationDelay == nil {
		out.DeregistrationDelay = new(DefaultDeregistrationDelay)
	}
	if out.LogRetentionDays == 0 {
		out.LogRetentionDays = 14
	}
	return out
}

func (a *Args) validate(name string) error {
	switch {
	case a.Domain == "" || a.ZoneID == "":
		return fmt.Errorf("frontdoor %q: Domain and ZoneID are required", name)
	case len(a.Services) == 0:
		return fmt.Errorf("frontdoor %q: at least one service is required", name)
	case a.VpcID == "":
		return fmt.Errorf("frontdoor %q: VpcID is required", name)
	case len(a.SubnetIDs) < 2:
		return fmt.Errorf("frontdoor %q: an Application Load Balancer needs subnets in two or more Availability "+
			"Zones; got %d subnet(s)", name, len(a.SubnetIDs))
	case len(a.IngressCidrs) == 0:
		return fmt.Errorf("frontdoor %q: IngressCidrs is required", name)
	case a.IdleTimeout < time.Second || a.IdleTimeout > 4000*time.Second:
		return fmt.Errorf("frontdoor %q: IdleTimeout %s: want 1s to 4000s", name, a.IdleTimeout)
	case *a.DeregistrationDelay < 0 || *a.DeregistrationDelay > time.Hour:
		return fmt.Errorf("frontdoor %q: DeregistrationDelay %s: want 0 to 3600s", name, *a.DeregistrationDelay)
	case a.TargetGroupPrefix != "" && (len(a.TargetGroupPrefix) > MaxTargetGroupPrefix ||
		!targetGroupPrefixRE.MatchString(a.TargetGroupPrefix)):
		return fmt.Errorf("frontdoor %q: TargetGroupPrefix %q: want 1-%d letters, digits and dashes", name,
			a.TargetGroupPrefix, MaxTargetGroupPrefix)
	case a.Region == "" || a.AccountID == nil:
		return fmt.Errorf("frontdoor %q: Region and AccountID are required", name)
	case !bucketPrefixRE.MatchString(a.LogBucketPrefix):
		return fmt.Errorf("frontdoor %q: LogBucketPrefix %q: want 1-37 lower-case letters, digits, . and -, "+
			"starting with a letter or digit", name, a.LogBucketPrefix)
	}
	if len(a.Services) > 25 {
		// A certificate per hostname: an HTTPS listener takes at most 25 (the default quota) besides its default.
		return fmt.Errorf("frontdoor %q: %d services: a listener holds at most 25 certificates", name,
			len(a.Services))
	}
	seen, slots := map[string]bool{}, map[int]string{}
	for _, s := range a.Services {
		if other, taken := slots[prioritySlot(s.Name)]; taken && other != s.Name {
			return fmt.Errorf("frontdoor %q: services %q and %q would share listener rule priority %d (a hash of "+
				"the service's name, so that it never changes while the service exists): rename the newer one", name,
				other, s.Name, RoutePriority(s.Name))
		}
		slots[prioritySlot(s.Name)] = s.Name
		switch {
		case s.Name == "" || s.Port < 1 || s.Port > 65535:
			return fmt.Errorf("frontdoor %q: every service needs a Name and a TCP Port", name)
		case s.Hostname != a.Domain && !strings.HasSuffix(s.Hostname, "."+a.Domain):
			return fmt.Errorf("frontdoor %q: service %q: hostname %q is outside the zone %s", name, s.Name,
				s.Hostname, a.Domain)
		case seen[s.Hostname]:
			return fmt.Errorf("frontdoor %q: service %q: hostname %q is taken by another service", name, s.Name,
				s.Hostname)
		case !strings.HasPrefix(s.ReadyPath, "/"):
			return fmt.Errorf("frontdoor %q: service %q: ReadyPath must start with /", name, s.Name)
		}
		seen[s.Hostname] = true
	}
	for _, c := range a.IngressCidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("frontdoor %q: %q is not a CIDR block", name, c)
		}
		if p.Bits() == 0 && strings.TrimSpace(a.PublicIngressReason) == "" {
			return fmt.Errorf("frontdoor %q: %q opens the front door to the whole internet and needs "+
				"PublicIngressReason", name, c)
		}
	}
	return nil
}

// New creates the front door.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*FrontDoor, error) {
	if args == nil {
		return nil, fmt.Errorf("frontdoor %q: args are required", name)
	}
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, err
	}
	c := &FrontDoor{TargetGroupArns: map[string]pulumi.StringOutput{}, ResourceLabels: map[string]pulumi.StringOutput{},
		TargetGroupNames: map[string]string{}, tags: tags.With(a.Tags, name)}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)

	logs, logPolicy, err := a.logBucket(ctx, c, name)
	if err != nil {
		return nil, err
	}
	sg, err := a.securityGroup(ctx, c, name)
	if err != nil {
		return nil, err
	}
	alb, err := lb.NewLoadBalancer(ctx, name+"-alb", &lb.LoadBalancerArgs{
		LoadBalancerType: pulumi.String("application"),
		Internal:         pulumi.Bool(false),
		SecurityGroups:   pulumi.StringArray{sg.ID()},
		Subnets:          pulumi.ToStringArray(a.SubnetIDs),
		// WebSockets need no switch (ALB upgrades them natively); a quiet one stays open this long.
		IdleTimeout: pulumi.Int(int(a.IdleTimeout / time.Second)),
		// Requests with header names that are not valid HTTP are dropped rather than passed to the services.
		DropInvalidHeaderFields:  pulumi.Bool(true),
		DesyncMitigationMode:     pulumi.String("defensive"),
		EnableDeletionProtection: pulumi.Bool(a.DeletionProtection),
		EnableHttp2:              pulumi.Bool(true),
		AccessLogs: &lb.LoadBalancerAccessLogsArgs{
			Bucket:  logs.Bucket,
			Prefix:  pulumi.String("alb"),
			Enabled: pulumi.Bool(true),
		},
		Tags: tags.With(a.Tags, name),
		// The load balancer checks at creation that it may write to the bucket.
	}, parent, pulumi.DependsOn([]pulumi.Resource{logPolicy}))
	if err != nil {
		return nil, err
	}

	certs := make([]pulumi.StringOutput, len(a.Services))
	for i, s := range a.Services {
		if certs[i], err = a.certificate(ctx, c, name+"-"+s.Name, s.Hostname); err != nil {
			return nil, err
		}
	}
	https, err := lb.NewListener(ctx, name+"-https", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(443),
		Protocol:        pulumi.String("HTTPS"),
		SslPolicy:       pulumi.String(TLSPolicy),
		CertificateArn:  certs[0],
		// A request for a hostname the stack does not serve gets a 404, never some service.
		DefaultActions: lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{
			Type: pulumi.String("fixed-response"),
			FixedResponse: &lb.ListenerDefaultActionFixedResponseArgs{
				ContentType: pulumi.String("text/plain"),
				MessageBody: pulumi.String("not found"),
				StatusCode:  pulumi.String("404"),
			},
		}},
		RoutingHttpResponseStrictTransportSecurityHeaderValue: pulumi.String(a.hsts()),
		RoutingHttpResponseXContentTypeOptionsHeaderValue:     pulumi.String("nosniff"),
		Tags: tags.With(a.Tags, name),
	}, parent)
	if err != nil {
		return nil, err
	}
	_, err = lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(80),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{
			Type: pulumi.String("redirect"),
			Redirect: &lb.ListenerDefaultActionRedirectArgs{
				Protocol:   pulumi.String("HTTPS"),
				Port:       pulumi.String("443"),
				StatusCode: pulumi.String("HTTP_301"),
			},
		}},
		Tags: tags.With(a.Tags, name),
	}, parent)
	if err != nil {
		return nil, err
	}

	urls := pulumi.StringMap{}
	for i, s := range a.Services {
		if i > 0 {
			_, err = lb.NewListenerCertificate(ctx, name+"-"+s.Name+"-cert-attach", &lb.ListenerCertificateArgs{
				ListenerArn:    https.Arn,
				CertificateArn: certs[i],
			}, parent)
			if err != nil {
				return nil, err
			}
		}
		c.TargetGroupNames[s.Name] = a.targetGroupName(ctx, name, s)
		tg, err := lb.NewTargetGroup(ctx, name+"-"+s.Name+"-tg", &lb.TargetGroupArgs{
			Name:                pulumi.String(c.TargetGroupNames[s.Name]),
			VpcId:               pulumi.String(a.VpcID),
			TargetType:          pulumi.String("instance"),
			Port:                pulumi.Int(s.Port),
			Protocol:            pulumi.String("HTTP"),
			ProtocolVersion:     pulumi.String("HTTP1"),
			DeregistrationDelay: pulumi.Int(int(*a.DeregistrationDelay / time.Second)),
			HealthCheck: &lb.TargetGroupHealthCheckArgs{
				Enabled:            pulumi.Bool(true),
				Path:               pulumi.String(s.ReadyPath),
				Protocol:           pulumi.String("HTTP"),
				Port:               pulumi.String("traffic-port"),
				Matcher:            pulumi.String("200"),
				Interval:           pulumi.Int(int(HealthCheckInterval / time.Second)),
				Timeout:            pulumi.Int(4),
				HealthyThreshold:   pulumi.Int(HealthyThreshold),
				UnhealthyThreshold: pulumi.Int(3),
			},
			Tags: tags.With(a.Tags, name),
		}, parent)
		if err != nil {
			return nil, err
		}
		c.TargetGroupArns[s.Name] = tg.Arn
		c.ResourceLabels[s.Name] = pulumi.Sprintf("%s/%s", alb.ArnSuffix, tg.ArnSuffix)
		if err := a.noHealthyTarget(ctx, c, name+"-"+s.Name, alb, tg); err != nil {
			return nil, err
		}
		c.routes = append(c.routes, route{name: name + "-" + s.Name + "-rule", priority: RoutePriority(s.Name),
			hostname: s.Hostname, targetGroup: tg.Arn})
		if a.DeferRouting {
			if err := a.warm(ctx, c, name+"-"+s.Name, https, WarmPriority(s.Name), tg); err != nil {
				return nil, err
			}
		}
		_, err = route53.NewRecord(ctx, name+"-"+s.Name+"-dns", &route53.RecordArgs{
			ZoneId: pulumi.String(a.ZoneID),
			Name:   pulumi.String(s.Hostname),
			Type:   pulumi.String("A"),
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{
				Name:                 alb.DnsName,
				ZoneId:               alb.ZoneId,
				EvaluateTargetHealth: pulumi.Bool(true),
			}},
		}, parent)
		if err != nil {
			return nil, err
		}
		urls[s.Name] = pulumi.String("https://" + s.Hostname + "/")
	}

	c.https = https
	if !a.DeferRouting {
		if err := c.Route(ctx, nil); err != nil {
			return nil, err
		}
	}
	c.SecurityGroupID = sg.ID()
	c.URLs = urls.ToStringMapOutput()
	c.DNSName = alb.DnsName
	c.LogBucket = logs.Bucket
	tgs := pulumi.StringMap{}
	for k, v := range c.TargetGroupArns {
		tgs[k] = v
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"securityGroupId": sg.ID(),
		"targetGroupArns": tgs,
		"urls":            c.URLs,
		"dnsName":         alb.DnsName,
		"logBucket":       logs.Bucket,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// noHealthyTarget alarms when a service has had no healthy target for three minutes while requests came: every
// request to it fails.
// Three one-minute periods ride out a host switch, when the new target passes its first health check within one
// interval.
func (a *Args) noHealthyTarget(ctx *pulumi.Context, c *FrontDoor, name string, alb *lb.LoadBalancer,
	tg *lb.TargetGroup) error {
	var actions pulumi.Array
	if a.AlarmTopicArn != nil {
		actions = pulumi.Array{a.AlarmTopicArn}
	}
	_, err := cloudwatch.NewMetricAlarm(ctx, name+"-unhealthy", &cloudwatch.MetricAlarmArgs{
		AlarmDescription: pulumi.String("appstack: the front door has no healthy target for this service"),
		Namespace:        pulumi.String("AWS/ApplicationELB"),
		MetricName:       pulumi.String("HealthyHostCount"),
		Dimensions: pulumi.StringMap{
			"LoadBalancer": alb.ArnSuffix,
			"TargetGroup":  tg.ArnSuffix,
		},
		Statistic:          pulumi.String("Minimum"),
		Period:             pulumi.Int(60),
		EvaluationPeriods:  pulumi.Int(3),
		Threshold:          pulumi.Float64(1),
		ComparisonOperator: pulumi.String("LessThanThreshold"),
		// Elastic Load Balancing reports its metrics only while requests flow through the load balancer
		// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
		// no data is a quiet service — every new stack and every idle review stack — not a failing one, and a
		// request that finds no healthy target is itself reported, as HealthyHostCount 0.
		TreatMissingData: pulumi.String("notBreaching"),
		AlarmActions:     actions,
		OkActions:        actions,
		Tags:             tags.With(a.Tags, name),
	}, pulumi.Parent(c))
	return err
}

// warm keeps a target group in use from its creation with a rule no request matches (a host name under the
// reserved .invalid domain, RFC 6761): a target group that no load balancer uses is not health-checked, its
// targets stay "unused" (Target.NotInUse, API_TargetHealth), so without it a fleet's new target groups would
// start their health checks only when Route moves the hostnames to them.
func (a *Args) warm(ctx *pulumi.Context, c *FrontDoor, name string, https *lb.Listener, priority int,
	tg *lb.TargetGroup) error {
	_, err := lb.NewListenerRule(ctx, name+"-warm", &lb.ListenerRuleArgs{
		ListenerArn: https.Arn,
		Priority:    pulumi.Int(priority),
		Conditions: lb.ListenerRuleConditionArray{&lb.ListenerRuleConditionArgs{
			HostHeader: &lb.ListenerRuleConditionHostHeaderArgs{Values: pulumi.StringArray{
				pulumi.Sprintf("%s.warm.invalid", tg.Name)}},
		}},
		Actions: lb.ListenerRuleActionArray{&lb.ListenerRuleActionArgs{
			Type:           pulumi.String("forward"),
			TargetGroupArn: tg.Arn,
		}},
		Tags: tags.With(a.Tags, name),
	}, pulumi.Parent(c))
	return err
}

// Listener rule priorities. A rule's priority is unique on its listener: CreateRule and SetRulePriorities refuse
// one in use with PriorityInUse (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_SetRulePriorities.html).
// The provider changes a rule's priority in place with SetRulePriorities (terraform-provider-aws
// internal/service/elbv2/listener_rule.go: priority is not ForceNew), and Pulumi deletes a removed service's rule
// only at the end of the update: priorities numbered by position (1, 2, ...) would move the next service's rule
// onto the removed one's priority while it is still held, and a service inserted first would be created on a
// priority in use. So each service's priorities follow from its name alone, and never change while it exists.
// The hostnames' rules each match one hostname, and no two services share one, so their order does not matter.
const (
	// FirstRoutePriority is the lowest priority a hostname's rule takes: above the 1-25 and 1000-1024 that
	// earlier versions numbered by position, so that no rule moves onto a priority another still holds.
	FirstRoutePriority = 2000
	// PrioritySlots is how many priorities each kind of rule may take.
	PrioritySlots = 20000
	// WarmRulePriority is the lowest priority of the rules that keep deferred target groups in use, after every
	// hostname's rule; the last is below 50000, the highest a listener rule may have.
	WarmRulePriority = FirstRoutePriority + PrioritySlots
)

// prioritySlot is a service's place among PrioritySlots: a hash of its name.
func prioritySlot(service string) int {
	sum := sha256.Sum256([]byte(service))
	return int(binary.BigEndian.Uint32(sum[:4]) % PrioritySlots)
}

// RoutePriority is the priority of a service's hostname rule, from its name alone.
func RoutePriority(service string) int { return FirstRoutePriority + prioritySlot(service) }

// WarmPriority is the priority of the rule that keeps a service's target group in use, from its name alone.
func WarmPriority(service string) int { return WarmRulePriority + prioritySlot(service) }

// route is a hostname's listener rule, created by Route.
type route struct {
	name        string
	priority    int
	hostname    string
	targetGroup pulumi.StringOutput
}

// Route creates each hostname's listener rule, forwarding to its service's target group. With serving set, a
// rule names its target group only once serving resolves: a fleet's first hosts are then in service, so a
// target group that has no healthy host yet (a stack's first fleet deploy, which replaces a single host's target
// groups) takes no traffic. New calls it unless Args.DeferRouting is set; call it once.
func (c *FrontDoor) Route(ctx *pulumi.Context, serving pulumi.StringInput) error {
	for _, r := range c.routes {
		target := r.targetGroup
		if serving != nil {
			target = pulumi.All(r.targetGroup, serving).ApplyT(func(v []any) string {
				return v[0].(string)
			}).(pulumi.StringOutput)
		}
		_, err := lb.NewListenerRule(ctx, r.name, &lb.ListenerRuleArgs{
			ListenerArn: c.https.Arn,
			Priority:    pulumi.Int(r.priority),
			Conditions: lb.ListenerRuleConditionArray{&lb.ListenerRuleConditionArgs{
				HostHeader: &lb.ListenerRuleConditionHostHeaderArgs{Values: pulumi.StringArray{
					pulumi.String(r.hostname)}},
			}},
			Actions: lb.ListenerRuleActionArray{&lb.ListenerRuleActionArgs{
				Type:           pulumi.String("forward"),
				TargetGroupArn: target,
			}},
			Tags: c.tags,
		}, pulumi.Parent(c))
		if err != nil {
			return err
		}
	}
	return nil
}

// targetGroupName is the name of a service's target group. A fleet's group (ForFleet)
// and a single host's never share a name: a stack that moves
// from one host to a fleet gets new target groups, which its deferred rules take over only once the fleet serves.
func (a *Args) targetGroupName(ctx *pulumi.Context, component string, s Service) string {
	if a.ForFleet {
		return PrefixedTargetGroupName(a.TargetGroupPrefix, TargetGroupName(ctx.Project(), ctx.Stack(), component, s,
			a.VpcID))
	}
	return PrefixedTargetGroupName(a.TargetGroupPrefix, TargetGroupName(ctx.Project(), ctx.Stack(),
		component+"\x00routed-with-the-group", s, a.VpcID))
}

// TargetGroupName is a target group's name: AWS allows 32 characters, fewer than the provider's automatic name
// (the resource's name plus 7 random characters) needs for a long service name. It is the service's name cut to
// 21 characters and 10 hex digits of a hash of the stack and of every input whose change replaces the group (port,
// protocol, VPC), so that a replacement, created before the old group is deleted, never takes the old name. The
// hash also covers the ready path, which the provider would change in place (the health check is no ForceNew
// field: terraform-provider-aws internal/service/elbv2/target_group.go): the serving host would at once be checked
// on a path it may not answer, where a new group takes requests only once it holds a healthy target. The ready
// path is left out of the hash when it is UnhashedReadyPath, so that groups named before it counted keep their
// names.
func TargetGroupName(project, stack, component string, s Service, vpcID string) string {
	parts := []string{project, stack, component, s.Name, strconv.Itoa(s.Port), "HTTP", "HTTP1", "instance", vpcID}
	if s.ReadyPath != UnhashedReadyPath {
		parts = append(parts, "readyPath="+s.ReadyPath)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	prefix := s.Name
	if len(prefix) > 21 {
		prefix = strings.TrimRight(prefix[:21], "-")
	}
	return prefix + "-" + hex.EncodeToString(sum[:])[:10]
}

// UnhashedReadyPath is the ready path that leaves a target group's name as it was before the ready path counted:
// appstack's default readyPath.
const UnhashedReadyPath = "/ready"

// PrefixedTargetGroupName puts prefix and a dash before a TargetGroupName, shortening its service part so that
// the whole stays within AWS's 32 characters and keeps its 10-digit hash. An empty prefix changes nothing.
func PrefixedTargetGroupName(prefix, name string) string {
	if prefix == "" {
		return name
	}
	i := strings.LastIndex(name, "-")
	service, hash := name[:i], name[i+1:]
	room := MaxTargetGroupName - len(prefix) - 1 - 1 - len(hash)
	if room < 1 {
		return prefix + "-" + hash[:min(len(hash), MaxTargetGroupName-len(prefix)-1)]
	}
	if len(service) > room {
		service = strings.TrimRight(service[:room], "-")
	}
	return prefix + "-" + service + "-" + hash
}

// MaxTargetGroupName is the longest target group name Elastic Load Balancing accepts.
const MaxTargetGroupName = 32

// MaxTargetGroupPrefix leaves a prefixed name at least 7 hash digits.
const MaxTargetGroupPrefix = 24

var targetGroupPrefixRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)

// certificate requests an ACM certificate for hostname, validated by a DNS record in the zone: ACM renews it
// by itself for as long as that record stays. It depends on nothing of the host, so a new host never asks for
// a new certificate.
func (a *Args) certificate(ctx *pulumi.Context, c *FrontDoor, name, hostname string) (pulumi.StringOutput, error) {
	cert, err := acm.NewCertificate(ctx, name+"-cert", &acm.CertificateArgs{
		DomainName:       pulumi.String(hostname),
		ValidationMethod: pulumi.String("DNS"),
		KeyAlgorithm:     pulumi.String("RSA_2048"),
		Tags:             tags.With(a.Tags, name),
	}, pulumi.Parent(c))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	opt := cert.DomainValidationOptions.Index(pulumi.Int(0))
	record, err := route53.NewRecord(ctx, name+"-cert-validation", &route53.RecordArgs{
		ZoneId:  pulumi.String(a.ZoneID),
		Name:    opt.ResourceRecordName().Elem(),
		Type:    opt.ResourceRecordType().Elem(),
		Records: pulumi.StringArray{opt.ResourceRecordValue().Elem()},
		Ttl:     pulumi.Int(300),
		// ACM gives the same validation record to every certificate of a name: a replacement certificate
		// finds it already there.
		AllowOverwrite: pulumi.Bool(true),
	}, pulumi.Parent(c))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	// The listener takes the ARN from here, so it waits until ACM has issued the certificate.
	valid, err := acm.NewCertificateValidation(ctx, name+"-cert-issued", &acm.CertificateValidationArgs{
		CertificateArn:        cert.Arn,
		ValidationRecordFqdns: pulumi.StringArray{record.Fqdn},
	}, pulumi.Parent(c))
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return valid.CertificateArn, nil
}

// securityGroup admits 443 and 80 from IngressCidrs. Its egress to the host's service ports is declared by the
// host's network component, which knows the host's group.
func (a *Args) securityGroup(ctx *pulumi.Context, c *FrontDoor, name string) (*ec2.SecurityGroup, error) {
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		Description:         pulumi.String("appstack front door: HTTPS and HTTP in, service ports to the host out"),
		VpcId:               pulumi.String(a.VpcID),
		RevokeRulesOnDelete: pulumi.Bool(true),
		Tags:                tags.With(a.Tags, name),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	for _, port := range []int{443, 80} {
		for _, cidr := range a.IngressCidrs {
			if err := network.CidrIngress(ctx, name, sg.ID().ToStringOutput(), port, cidr,
				fmt.Sprintf("front door port %d from %s", port, cidr), a.Tags, pulumi.Parent(c)); err != nil {
				return nil, err
			}
		}
	}
	return sg, nil
}

// logBucket is the access logs' bucket: private, owner-enforced, SSE-S3 encrypted (the only encryption ALB log
// delivery supports), TLS only, expiring logs after LogRetentionDays, writable by Elastic Load Balancing only
// under this account's prefix.
func (a *Args) logBucket(ctx *pulumi.Context, c *FrontDoor, name string) (*s3.Bucket, *s3.BucketPolicy, error) {
	parent := pulumi.Parent(c)
	bucket, err := s3.NewBucket(ctx, name+"-logs", &s3.BucketArgs{
		BucketPrefix: pulumi.String(a.LogBucketPrefix),
		ForceDestroy: pulumi.Bool(a.ForceDestroyLogs),
		Tags:         tags.With(a.Tags, name+"-logs"),
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, name+"-logs-private", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, parent); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-logs-owner", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfiguration(ctx, name+"-logs-sse",
		&s3.BucketServerSideEncryptionConfigurationArgs{
			Bucket: bucket.ID(),
			Rules: s3.BucketServerSideEncryptionConfigurationRuleArray{
				&s3.BucketServerSideEncryptionConfigurationRuleArgs{
					ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs{
						SseAlgorithm: pulumi.String("AES256"),
					},
				}},
		}, parent); err != nil {
		return nil, nil, err
	}
	if _, err := s3.NewBucketLifecycleConfiguration(ctx, name+"-logs-expiry", &s3.BucketLifecycleConfigurationArgs{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationRuleArray{&s3.BucketLifecycleConfigurationRuleArgs{
			Id:         pulumi.String("expire-access-logs"),
			Status:     pulumi.String("Enabled"),
			Filter:     &s3.BucketLifecycleConfigurationRuleFilterArgs{},
			Expiration: &s3.BucketLifecycleConfigurationRuleExpirationArgs{Days: pulumi.Int(a.LogRetentionDays)},
		}},
	}, parent); err != nil {
		return nil, nil, err
	}
	var writer pulumi.StringOutput
	principalKind := "Service"
	if slices.Contains(newLogDeliveryRegions, a.Region) {
		writer = pulumi.String(LogDeliveryService).ToStringOutput()
	} else {
		principalKind = "AWS"
		account, err := elb.GetServiceAccount(ctx, &elb.GetServiceAccountArgs{Region: pulumi.StringRef(a.Region)},
			parent)
		if err != nil {
			return nil, nil, fmt.Errorf("frontdoor %q: the Elastic Load Balancing account of %s: %w", name, a.Region,
				err)
		}
		writer = pulumi.String(account.Arn).ToStringOutput()
	}
	doc := pulumi.All(bucket.Arn, a.AccountID, writer).ApplyT(func(v []any) (string, error) {
		return LogBucketPolicy(v[0].(string), v[1].(string), principalKind, v[2].(string))
	}).(pulumi.StringOutput)
	policy, err := s3.NewBucketPolicy(ctx, name+"-logs-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: doc,
	}, parent)
	if err != nil {
		return nil, nil, err
	}
	return bucket, policy, nil
}

// LogBucketPolicy lets the log writer (principalKind "AWS" with the regional ELB account, or "Service" with
// LogDeliveryService) put objects under alb/AWSLogs/<account>/ and refuses every request without TLS.
func LogBucketPolicy(bucketArn, account, principalKind, writer string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{
			{
				"Sid":       "ElbWritesAccessLogs",
				"Effect":    "Allow",
				"Principal": map[string]string{principalKind: writer},
				"Action":    "s3:PutObject",
				"Resource":  bucketArn + "/alb/AWSLogs/" + account + "/*",
			},
			{
				"Sid":       "TlsOnly",
				"Effect":    "Deny",
				"Principal": "*",
				"Action":    "s3:*",
				"Resource":  []string{bucketArn, bucketArn + "/*"},
				"Condition": map[string]any{"Bool": map[string]string{"aws:SecureTransport": "false"}},
			},
		},
	}
	out, err := json.Marshal(doc)
	return string(out), err
}

// slug turns a CIDR into a name fragment: 203.0.113.0/24 -> 203-0-113-0-24.
