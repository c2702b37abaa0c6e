// Package fleet is the component that runs the services on an Auto Scaling group of hosts behind the front
// door: a launch template with the single host's boot script, the group across two or more Availability Zones,
// target tracking scaling, notifications, and the rolling deploy (components/rollout) that replaces the hosts
// when what they run changes. docs/fleet.md has the design and its sources.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/host"
	"appstack/components/instancetype"
	"appstack/components/readiness"
	"appstack/components/rollout"
	"appstack/components/tags"
	"appstack/components/targethealth"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Fleet"

// The scaling metrics: the names appstack:fleet.scaling.metric takes.
const (
	// CPU keeps the group's average CPU utilisation (percent) at the target.
	CPU = "cpu"
	// Requests keeps the front door's requests per host (per minute) at the target.
	Requests = "requests"
)

// Args configures a Fleet.
type Args struct {
	// Boot is what every host boots: Services, Arch, AMI, LogGroupName, Region, ReadyParameterPrefix and
	// ReadyTimeout are read, as host.New reads them. Required.
	Boot host.Args
	// AutoScaling builds the Auto Scaling client the rolling deploy calls as the deploy's identity
	// (awsclient.New). Required to deploy; a preview never calls it.
	AutoScaling rollout.NewClient
	// GroupName is the Auto Scaling group's name, fixed so that a deploy can read the group before it
	// registers it (1-255 characters). Required.
	GroupName string
	// InstanceTypes the group may launch, in order of preference. Required, 1-20.
	InstanceTypes []string
	// Min, Max and Desired size the group; Desired is set at creation only, scaling owns it afterwards.
	Min, Max, Desired int
	// OnDemandBase hosts are On-Demand before any is Spot; SpotPercent of the capacity above it is Spot.
	OnDemandBase, SpotPercent int
	// MinHealthyPercent of the desired capacity stays in service during a deploy and a replacement, 0-100 (0
	// replaces every host at once); the maximum is rollout.MaxHealthyPercent of it. Required: there is no default.
	MinHealthyPercent int
	// SubnetIDs place the hosts, in two or more Availability Zones. Required.
	SubnetIDs []string
	// PublicIP gives each host a public address: needed where no NAT gateway or VPC endpoint carries its
	// traffic to ECR, SSM and CloudWatch (a default VPC). Default false.
	PublicIP bool
	// SecurityGroupIDs and InstanceProfileName are the hosts'. Required.
	SecurityGroupIDs    pulumi.StringArrayInput
	InstanceProfileName pulumi.StringInput
	// TargetGroupArns are the front door's target groups, one per service: the group registers each host in
	// every one once it is in service, and replaces a host they find unhealthy. Required.
	TargetGroupArns pulumi.StringArrayInput
	// TargetGroupNames are the names of TargetGroupArns' groups, known before they exist: a deploy that would
	// attach a running group to a new target group (a service added, or a group replaced by a port or ready path
	// change) is refused; one that only detaches groups (a service removed) goes ahead. Optional: without it
	// nothing is compared.
	TargetGroupNames []string
	// TargetGroupServices are the services of TargetGroupNames, in the same order, for the refusal's message.
	// Optional.
	TargetGroupServices []string
	// ScalingMetric is CPU or Requests; ScalingTarget the value to keep it at. RequestsLabel is the resource
	// label of the target group whose requests per target count (frontdoor.FrontDoor.ResourceLabels). Required.
	ScalingMetric string
	ScalingTarget float64
	RequestsLabel pulumi.StringInput
	// Warmup is how long a new host's metrics are left out of scaling, and a refresh waits after a new host is
	// healthy before it goes on. Default 60s.
	Warmup time.Duration
	// Drain is how long a host leaving the fleet keeps its connections (the target groups' deregistration delay):
	// a deploy waits for it before old hosts go, and a destroy for every host. Default 0.
	Drain time.Duration
	// TargetHealth reads the hosts' health in TargetGroupArns (Elastic Load Balancing's DescribeTargetHealth):
	// a deploy resolves Rollout, which the hostnames follow, only once Min hosts of the version are healthy in
	// every one. Optional: by default a client for the deploy's own identity and region (the AWS provider's
	// configuration, rollout.ReadIdentity) from NewTargetHealth.
	TargetHealth targethealth.API
	// NewTargetHealth builds TargetHealth's default (awsclient.NewTargetHealth). Required to deploy, unless
	// TargetHealth is set.
	NewTargetHealth targethealth.NewClient
	// SignalStore reads the hosts' readiness signals under Boot.ReadyParameterPrefix, in bounded pages, and
	// prunes those of hosts no longer in the group after a rollout that served. Optional: by default a client for
	// the deploy's own identity from NewSignalStore.
	SignalStore rollout.SignalStore
	// NewSignalStore builds SignalStore's default (awsclient.NewSignalStore). Required to deploy, unless
	// SignalStore is set.
	NewSignalStore rollout.NewSignalStore
	// DependsOn are what no host may boot before (host.Args.DependsOn). Optional.
	DependsOn []pulumi.Resource
	// AlarmTopicArn receives launch and termination errors and the low-capacity alarm. Optional.
	AlarmTopicArn pulumi.StringInput
	// Tags go on the template, the group (propagated to its hosts) and the hosts' volumes. Optional.
	Tags map[string]string
}

// Fleet is an Auto Scaling group of hosts behind the front door.
type Fleet struct {
	pulumi.ResourceState

	// GroupName is the Auto Scaling group's name.
	GroupName pulumi.StringOutput
	// TemplateID is the launch template's id; TemplateVersion the version the hosts run after this deploy.
	TemplateID      pulumi.IDOutput
	TemplateVersion pulumi.StringOutput
	// Fingerprint identifies what the hosts run.
	Fingerprint pulumi.StringOutput
	// Rollout says what the deploy did: "preview", the refresh that ran, or that the group ran the version.
	Rollout pulumi.StringOutput
	// Created says the group did not exist before this deploy. Rollout resolves, on a new group as on an
	// existing one, only once Min hosts of the version are ready and healthy in every target group.
	Created bool
}

func (a *Args) withDefaults() Args {
	out := *a
	if out.Warmup == 0 {
		out.Warmup = rollout.DefaultInstanceWarmup
	}
	if out.Boot.ReadyTimeout == 0 {
		out.Boot.ReadyTimeout = readiness.DefaultReadyTimeout
	}
	if out.Boot.RootVolumeGiB == 0 {
		ami := out.Boot.AMI
		if ami == "" {
			ami = host.AMIStandard
		}
		out.Boot.RootVolumeGiB = max(20, host.MinRootVolumeGiB[ami])
	}
	out.Boot.InstanceType = out.InstanceTypes[0]
	out.Boot.SecurityGroupIDs = out.SecurityGroupIDs
	out.Boot.InstanceProfileName = out.InstanceProfileName
	return out
}

func (a *Args) validate(name string) error {
	switch {
	case len(a.InstanceTypes) == 0 || len(a.InstanceTypes) > 20:
		return fmt.Errorf("fleet %q: InstanceTypes: want 1 to 20, got %d", name, len(a.InstanceTypes))
	case a.GroupName == "" || len(a.GroupName) > 255:
		return fmt.Errorf("fleet %q: GroupName %q: want 1 to 255 characters", name, a.GroupName)
	case a.Min < 1 || a.Max < a.Min || a.Desired < a.Min || a.Desired > a.Max:
		return fmt.Errorf("fleet %q: want 1 <= Min (%d) <= Desired (%d) <= Max (%d)", name, a.Min, a.Desired, a.Max)
	case a.OnDemandBase < 0 || a.SpotPercent < 0 || a.SpotPercent > 100:
		return fmt.Errorf("fleet %q: OnDemandBase %d, SpotPercent %d: want >= 0 and 0-100", name, a.OnDemandBase,
			a.SpotPercent)
	case a.MinHealthyPercent < 0 || a.MinHealthyPercent > 100:
		return fmt.Errorf("fleet %q: MinHealthyPercent %d: want 0 to 100", name, a.MinHealthyPercent)
	case len(a.SubnetIDs) < 2:
		return fmt.Errorf("fleet %q: SubnetIDs: want subnets in two or more Availability Zones, got %d", name,
			len(a.SubnetIDs))
	case a.SecurityGroupIDs == nil || a.InstanceProfileName == nil || a.TargetGroupArns == nil:
		return fmt.Errorf("fleet %q: SecurityGroupIDs, InstanceProfileName and TargetGroupArns are required", name)
	case a.ScalingMetric != CPU && a.ScalingMetric != Requests:
		return fmt.Errorf("fleet %q: ScalingMetric %q: want %s or %s", name, a.ScalingMetric, CPU, Requests)
	case a.ScalingMetric == Requests && a.RequestsLabel == nil:
		return fmt.Errorf("fleet %q: RequestsLabel is required to scale on requests", name)
	case a.ScalingTarget <= 0:
		return fmt.Errorf("fleet %q: ScalingTarget %g: want more than 0", name, a.ScalingTarget)
	}
	return nil
}

// New creates the launch template, the group, its scaling policy and notifications, and in an update rolls the
// new template version out to the group.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Fleet, error) {
	if args == nil {
		return nil, fmt.Errorf("fleet %q: args are required", name)
	}
	if len(args.InstanceTypes) == 0 {
		return nil, fmt.Errorf("fleet %q: InstanceTypes: want 1 to 20, got 0", name)
	}
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, err
	}
	boot, err := host.BootForLaunchTemplate(name, &a.Boot)
	if err != nil {
		return nil, err
	}
	// The group's current launch template version, read through the provider before anything is registered:
	// the group is declared with the version it runs, so Pulumi never moves it (the rollout does).
	current, err := currentVersion(ctx, a.GroupName)
	if err != nil {
		return nil, fmt.Errorf("fleet %q: %w", name, err)
	}
	if err := a.sameTargetGroups(name, current); err != nil {
		return nil, err
	}
	c := &Fleet{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	ami := ssm.LookupParameterOutput(ctx, ssm.LookupParameterOutputArgs{Name: pulumi.String(boot.AMIParameter)},
		parent).Value()

	template, err := a.launchTemplate(ctx, name, boot, ami, parent)
	if err != nil {
		return nil, err
	}
	latest := template.LatestVersion.ApplyT(strconv.Itoa).(pulumi.StringOutput)
	// A new group starts on the template's newest version. An existing one is declared with the template and
	// version it runs, as read (known in a preview too), so Pulumi never moves it: the rollout below carries the
	// newest version to it, and Auto Scaling writes it to the group only when the refresh succeeds.
	created := current.templateID == ""
	groupTemplate, groupVersion := template.ID().ToStringOutput(), latest
	if !created {
		groupTemplate = pulumi.String(current.templateID).ToStringOutput()
		groupVersion = pulumi.String(current.version).ToStringOutput()
	}
	group, err := a.group(ctx, name, groupTemplate, groupVersion, parent)
	if err != nil {
		return nil, err
	}
	if err := a.scaling(ctx, name, group, parent); err != nil {
		return nil, err
	}
	if err := a.notifications(ctx, name, group, parent); err != nil {
		return nil, err
	}

	c.Created = created
	c.GroupName = group.Name
	c.TemplateID = template.ID()
	c.Fingerprint = boot.Fingerprint
	c.Rollout = a.rollout(ctx, c, name, group, template, latest, boot.Fingerprint, created)
	c.TemplateVersion = pulumi.All(c.Rollout, latest).ApplyT(func(v []any) string { return v[1].(string) }).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"groupName":       c.GroupName,
		"templateId":      c.TemplateID,
		"templateVersion": c.TemplateVersion,
		"fingerprint":     c.Fingerprint,
		"rollout":         c.Rollout,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// groupState is what the group runs now, and the names of the target groups it registers its hosts in; empty
// when it does not exist yet.
type groupState struct {
	templateID, version string
	targetGroups        []string
}

// sameTargetGroups refuses to attach a running group to a target group it does not use yet. Auto Scaling would
// register the serving hosts in it at once, and with health check type ELB a host unhealthy in any attached group
// is replaced: a new group checks them on a port or path their version may not serve, or for a service it does not
// run, so that they are replaced with the version they run while the refresh runs. Detaching a group (its service
// removed) leaves the hosts in the others, and goes ahead. Each refusal names its cause: a target group's name is
// <prefix>-<service>-<hash>, so a new name that keeps a current one's part before the hash is the same service's
// group replaced (a port or ready path change), and one that keeps none is a service added.
func (a *Args) sameTargetGroups(name string, current groupState) error {
	if current.templateID == "" || len(a.TargetGroupNames) == 0 || len(current.targetGroups) == 0 {
		return nil
	}
	stem := func(tg string) string {
		if i := strings.LastIndex(tg, "-"); i > 0 {
			return tg[:i]
		}
		return tg
	}
	service := func(i int) string {
		if i < len(a.TargetGroupServices) {
			return a.TargetGroupServices[i]
		}
		return a.TargetGroupNames[i]
	}
	var problems []string
	for i, tg := range a.TargetGroupNames {
		if slices.Contains(current.targetGroups, tg) {
			continue
		}
		old := slices.IndexFunc(current.targetGroups, func(c string) bool {
			return stem(c) == stem(tg) && !slices.Contains(a.TargetGroupNames, c)
		})
		if old >= 0 {
			problems = append(problems, fmt.Sprintf("service %q's target group would be replaced, %s by %s "+
				"(appstack:services[].port or appstack:services[].readyPath changed): the running hosts would be "+
				"checked on the new port and path at once, and replaced with the version they run if they fail",
				service(i), current.targetGroups[old], tg))
			continue
		}
		problems = append(problems, fmt.Sprintf("service %q is added (target group %s): the running hosts, which "+
			"do not run it, would be registered in its target group, fail its health checks and be replaced with "+
			"the version they run", service(i), tg))
	}
	if len(problems) == 0 {
		return nil // only detached groups: their services were removed
	}
	return fmt.Errorf("fleet %q: group %s is running, and Auto Scaling's ELB health check counts every target "+
		"group attached to it: %s. A running fleet cannot take a new target group in place; make the change in two "+
		"deploys: move the stack to a single host (appstack:hosting: single) with the change, then back to the "+
		"fleet, whose new group waits for its first hosts (docs/fleet.md). Removing a service needs no such step",
		name, a.GroupName, strings.Join(problems, "; "))
}

// targetGroupName is a target group's name from its ARN (...:targetgroup/<name>/<id>).
func targetGroupName(arn string) string {
	_, rest, _ := strings.Cut(arn, ":targetgroup/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// currentVersion reads the group with the aws:autoscaling/getGroup invoke (DescribeAutoScalingGroups through the
// provider, with the deploy's identity). A group that does not exist yet is no error.
func currentVersion(ctx *pulumi.Context, group string) (groupState, error) {
	res, err := autoscaling.LookupGroup(ctx, &autoscaling.LookupGroupArgs{Name: group})
	switch {
	case err != nil && notFound(err):
		return groupState{}, nil
	case err != nil && ctx.DryRun():
		_ = ctx.Log.Warn(fmt.Sprintf("cannot read Auto Scaling group %s (%v): this preview assumes it is new",
			group, err), nil)
		return groupState{}, nil
	case err != nil:
		return groupState{}, fmt.Errorf("reading Auto Scaling group %s (the deploy needs "+
			"autoscaling:DescribeAutoScalingGroups): %w", group, err)
	}
	var targets []string
	for _, arn := range res.TargetGroupArns {
		targets = append(targets, targetGroupName(arn))
	}
	for _, p := range res.MixedInstancesPolicies {
		for _, lt := range p.LaunchTemplates {
			for _, spec := range lt.LaunchTemplateSpecifications {
				return groupState{templateID: spec.LaunchTemplateId, version: spec.Version, targetGroups: targets}, nil
			}
		}
	}
	for _, lt := range res.LaunchTemplates {
		return groupState{templateID: lt.Id, version: lt.Version, targetGroups: targets}, nil
	}
	return groupState{}, nil
}

// notFound recognises the provider's answer for a group that does not exist: the data source's finder returns
// an empty result, which terraform-provider-aws reports as "couldn't find resource" / "empty result".
func notFound(err error) bool {
	msg := err.Error()
	for _, s := range []string{"couldn't find resource", "empty result"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (a *Args) launchTemplate(ctx *pulumi.Context, name string, boot *host.LaunchTemplateBoot,
	ami pulumi.StringOutput, parent pulumi.ResourceOption) (*ec2.LaunchTemplate, error) {
	return ec2.NewLaunchTemplate(ctx, name+"-template", &ec2.LaunchTemplateArgs{
		Description: pulumi.String("appstack fleet host: boots the services by digest and signals readiness"),
		// An AMI id, never resolve:ssm:<parameter>: Auto Scaling cannot roll back a refresh whose template takes
		// its image from an SSM parameter (API_RefreshPreferences, AutoRollback).
		ImageId:            ami,
		UserData:           boot.UserDataBase64,
		IamInstanceProfile: &ec2.LaunchTemplateIamInstanceProfileArgs{Name: a.InstanceProfileName},
		// IMDSv2 only, one hop, as on the single host.
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint:            pulumi.String("enabled"),
			HttpTokens:              pulumi.String("required"),
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{&ec2.LaunchTemplateBlockDeviceMappingArgs{
			// Amazon Linux 2023's root device.
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeType:          pulumi.String("gp3"),
				VolumeSize:          pulumi.Int(a.Boot.RootVolumeGiB),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		NetworkInterfaces: ec2.LaunchTemplateNetworkInterfaceArray{&ec2.LaunchTemplateNetworkInterfaceArgs{
			DeviceIndex:              pulumi.Int(0),
			AssociatePublicIpAddress: pulumi.String(strconv.FormatBool(a.PublicIP)),
			SecurityGroups:           a.SecurityGroupIDs,
			DeleteOnTermination:      pulumi.String("true"),
		}},
		Monitoring:   &ec2.LaunchTemplateMonitoringArgs{Enabled: pulumi.Bool(a.Boot.DetailedMonitoring)},
		EbsOptimized: pulumi.String(strconv.FormatBool(instancetype.EBSOptimizable(a.InstanceTypes...))),
		// The hosts and their volumes are tagged in the launch itself: the deploy roles launch only tagged
		// volumes (bootstrap: Ec2LaunchTagged), as for the single host's volumeTags.
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"),
				Tags: tags.With(a.Tags, name)},
			&ec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"),
				Tags: tags.With(a.Tags, name)},
		},
		// Each change is a new numbered version; the rollout names the number.
		UpdateDefaultVersion: pulumi.Bool(true),
		Tags:                 tags.With(a.Tags, name),
	}, parent,
		// A newer AMI alone does not roll the fleet, as it does not replace a single host; see docs/fleet.md.
		pulumi.IgnoreChanges([]string{"imageId"}),
		pulumi.DependsOn(a.DependsOn))
}

// policy is the group's mixed instances policy: the one the rollout gives a refresh (sdkPolicy), for the
// provider, naming templateID and version, so that the group and a refresh never disagree.
func (a *Args) policy(templateID, version pulumi.StringOutput) *autoscaling.GroupMixedInstancesPolicyArgs {
	p := a.sdkPolicy("", "")
	var overrides autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArray
	for _, o := range p.LaunchTemplate.Overrides {
		overrides = append(overrides, &autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs{
			InstanceType: pulumi.StringPtrFromPtr(o.InstanceType)})
	}
	d := p.InstancesDistribution
	return &autoscaling.GroupMixedInstancesPolicyArgs{
		LaunchTemplate: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs{
			LaunchTemplateSpecification: &autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs{
				LaunchTemplateId: templateID,
				Version:          version,
			},
			Overrides: overrides,
		},
		InstancesDistribution: &autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs{
			OnDemandBaseCapacity:                pulumi.Int(int(aws.ToInt32(d.OnDemandBaseCapacity))),
			OnDemandPercentageAboveBaseCapacity: pulumi.Int(int(aws.ToInt32(d.OnDemandPercentageAboveBaseCapacity))),
			OnDemandAllocationStrategy:          pulumi.StringPtrFromPtr(d.OnDemandAllocationStrategy),
			SpotAllocationStrategy:              pulumi.StringPtrFromPtr(d.SpotAllocationStrategy),
		},
	}
}

func (a *Args) group(ctx *pulumi.Context, name string, templateID, version pulumi.StringOutput,
	parent pulumi.ResourceOption) (*autoscaling.Group, error) {
	// A group's tags are a list, each propagated to the hosts it launches.
	groupTags := autoscaling.GroupTagArray{}
	all := tags.With(a.Tags, name)
	for _, k := range slices.Sorted(maps.Keys(all)) {
		groupTags = append(groupTags, &autoscaling.GroupTagArgs{Key: pulumi.String(k), Value: all[k],
			PropagateAtLaunch: pulumi.Bool(true)})
	}
	readySeconds := int(a.Boot.ReadyTimeout / time.Second)
	return autoscaling.NewGroup(ctx, name+"-group", &autoscaling.GroupArgs{
		Name:               pulumi.String(a.GroupName),
		MinSize:            pulumi.Int(a.Min),
		MaxSize:            pulumi.Int(a.Max),
		DesiredCapacity:    pulumi.Int(a.Desired),
		VpcZoneIdentifiers: pulumi.ToStringArray(a.SubnetIDs),
		TargetGroupArns:    a.TargetGroupArns,
		// The load balancer's health checks (readyPath) count: a host they find unhealthy after the grace period
		// is replaced, as is one whose EC2 status checks fail.
		HealthCheckType:        pulumi.String("ELB"),
		HealthCheckGracePeriod: pulumi.Int(readySeconds),
		DefaultInstanceWarmup:  pulumi.Int(int(a.Warmup / time.Second)),
		MixedInstancesPolicy:   a.policy(templateID, version),
		// Spot hosts at elevated risk of interruption are replaced before they are interrupted.
		CapacityRebalance: pulumi.Bool(a.SpotPercent > 0),
		// Replacing an unhealthy host (and any scale-in) launches the new one first.
		InstanceMaintenancePolicy: &autoscaling.GroupInstanceMaintenancePolicyArgs{
			MinHealthyPercentage: pulumi.Int(a.MinHealthyPercent),
			MaxHealthyPercentage: pulumi.Int(rollout.MaxHealthyPercent(a.MinHealthyPercent)),
		},
		EnabledMetrics: autoscaling.MetricArray{autoscaling.MetricGroupInServiceInstances,
			autoscaling.MetricGroupDesiredCapacity, autoscaling.MetricGroupMinSize},
		// The provider's capacity wait would hold a failed first launch for its whole timeout and then fail
		// without the reason; the rollout waits for the first hosts' readiness signals instead.
		WaitForCapacityTimeout: pulumi.String("0"),
		Tags:                   groupTags,
	}, parent,
		// Target tracking owns the desired capacity once the group exists.
		pulumi.IgnoreChanges([]string{"desiredCapacity"}),
		// The provider deletes a group by scaling it to zero and waiting, 10 minutes by default
		// (terraform-provider-aws internal/service/autoscaling/group.go, drainGroup): every host drains first.
		pulumi.Timeouts(&pulumi.CustomTimeouts{Delete: (a.Drain + 2*a.Boot.ReadyTimeout).String()}),
		pulumi.DependsOn(a.DependsOn))
}

func (a *Args) scaling(ctx *pulumi.Context, name string, group *autoscaling.Group,
	parent pulumi.ResourceOption) error {
	metric := &autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs{
		PredefinedMetricType: pulumi.String("ASGAverageCPUUtilization"),
	}
	if a.ScalingMetric == Requests {
		metric = &autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs{
			PredefinedMetricType: pulumi.String("ALBRequestCountPerTarget"),
			ResourceLabel:        a.RequestsLabel,
		}
	}
	_, err := autoscaling.NewPolicy(ctx, name+"-scaling", &autoscaling.PolicyArgs{
		AutoscalingGroupName: group.Name,
		PolicyType:           pulumi.String("TargetTrackingScaling"),
		TargetTrackingConfiguration: &autoscaling.PolicyTargetTrackingConfigurationArgs{
			PredefinedMetricSpecification: metric,
			TargetValue:                   pulumi.Float64(a.ScalingTarget),
		},
	}, parent)
	return err
}

// notifications carry the single host's alarms over: Auto Scaling reports hosts it failed to launch or
// terminate, and an alarm fires when fewer hosts are in service than the minimum.
func (a *Args) notifications(ctx *pulumi.Context, name string, group *autoscaling.Group,
	parent pulumi.ResourceOption) error {
	var actions pulumi.Array
	if a.AlarmTopicArn != nil {
		_, err := autoscaling.NewNotification(ctx, name+"-notifications", &autoscaling.NotificationArgs{
			GroupNames: pulumi.StringArray{group.Name},
			Notifications: autoscaling.NotificationTypeArray{
				autoscaling.NotificationTypeInstanceLaunchError,
				autoscaling.NotificationTypeInstanceTerminateError,
			},
			TopicArn: a.AlarmTopicArn,
		}, parent)
		if err != nil {
			return err
		}
		actions = pulumi.Array{a.AlarmTopicArn}
	}
	_, err := cloudwatch.NewMetricAlarm(ctx, name+"-capacity", &cloudwatch.MetricAlarmArgs{
		AlarmDescription:   pulumi.String("appstack: fewer hosts in service than the fleet's minimum"),
		Namespace:          pulumi.String("AWS/AutoScaling"),
		MetricName:         pulumi.String("GroupInServiceInstances"),
		Dimensions:         pulumi.StringMap{"AutoScalingGroupName": group.Name},
		Statistic:          pulumi.String("Minimum"),
		Period:             pulumi.Int(60),
		EvaluationPeriods:  pulumi.Int(5),
		Threshold:          pulumi.Float64(float64(a.Min)),
		ComparisonOperator: pulumi.String("LessThanThreshold"),
		// Auto Scaling publishes the group's metrics every minute once collection is on; until the first one
		// (a new group) the alarm keeps its state, INSUFFICIENT_DATA, instead of firing on every new stack.
		TreatMissingData: pulumi.String("missing"),
		AlarmActions:     actions,
		OkActions:        actions,
		Tags:             tags.With(a.Tags, name),
	}, parent)
	return err
}

// rollout rolls the template's newest version out to the group once both exist (never in a preview): see
// components/rollout. It waits for the group's update, so it sees the group as this deploy left it. It resolves,
// and the hostnames move to the fleet, only once Min hosts of the version have signalled ready and are healthy in
// every target group: on a new group after its first launch, after a refresh, and on a group that runs the
// version already, since the retry of a failed deploy finds the group on the version with only failed hosts. The
// state this reads (signals, the group, target health) outlives a failed deploy, so a retry that fails again
// routes nothing either.
func (a *Args) rollout(ctx *pulumi.Context, c *Fleet, name string, group *autoscaling.Group,
	template *ec2.LaunchTemplate, latest, fingerprint pulumi.StringOutput, created bool) pulumi.StringOutput {
	log := func(line string) { _ = ctx.Log.Info(line, &pulumi.LogArgs{Resource: c}) }
	return pulumi.All(group.Name, group.ID(), template.ID(), latest, fingerprint,
		a.TargetGroupArns.ToStringArrayOutput()).ApplyTWithContext(ctx.Context(),
		func(goctx context.Context, v []any) (string, error) {
			if ctx.DryRun() {
				return "preview", nil
			}
			if offline, _ := ctx.Value(readiness.NoSettle).(bool); offline {
				return "offline: not rolled out", nil
			}
			groupName, templateID := v[0].(string), string(v[2].(pulumi.ID))
			req := rollout.Request{
				Group:             groupName,
				Policy:            a.sdkPolicy(templateID, v[3].(string)),
				MinHealthyPercent: a.MinHealthyPercent,
				InstanceWarmup:    a.Warmup,
				Fingerprint:       v[4].(string),
				// The new hosts boot within the ready timeout and warm up; old hosts then drain before they go.
				Timeout:      rollout.Deadline(a.Boot.ReadyTimeout, a.Warmup, a.Drain),
				ReadyTimeout: a.Boot.ReadyTimeout,
				Min:          a.Min,
			}
			identity, err := rollout.ReadIdentity(func(k string) (string, bool) { return ctx.GetConfig(k) })
			if err != nil {
				return "", fmt.Errorf("fleet %q: %w", name, err)
			}
			client, err := identity.Client(goctx, a.AutoScaling)
			if err != nil {
				return "", fmt.Errorf("fleet %q: %w", name, err)
			}
			health, err := a.health(goctx, identity, v[5].([]string))
			if err != nil {
				return "", fmt.Errorf("fleet %q: %w", name, err)
			}
			store, err := a.signalStore(goctx, identity)
			if err != nil {
				return "", fmt.Errorf("fleet %q: %w", name, err)
			}
			prefix := a.Boot.ReadyParameterPrefix
			r := &rollout.Rollout{API: client, Log: log, Health: health,
				Signals: func(goctx context.Context) (map[string]string, error) {
					return rollout.ListSignals(goctx, store, prefix)
				}}
			var res rollout.Result
			if created {
				res, err = r.WaitFirstLaunch(goctx, rollout.FirstLaunch{Group: groupName, Version: v[3].(string),
					Fingerprint: req.Fingerprint, Min: a.Min, Timeout: a.Boot.ReadyTimeout})
			} else {
				res, err = r.Run(goctx, req)
			}
			if err != nil {
				var rerr *rollout.Error
				if errors.As(err, &rerr) {
					return "", fmt.Errorf("fleet %q: %w", name, err)
				}
				return "", fmt.Errorf("fleet %q: rolling deploy: %w", name, err)
			}
			log(res.Summary)
			// The version serves: the signals of hosts no longer in the group go. A failed prune leaves them
			// for the next deploy, and fails nothing that served.
			if _, err := r.Prune(goctx, store, groupName, prefix); err != nil {
				_ = ctx.Log.Warn(fmt.Sprintf("fleet %q: %v", name, err), &pulumi.LogArgs{Resource: c})
			}
			return res.Summary, nil
		}).(pulumi.StringOutput)
}

// signalStore is the SSM client the rollout reads and prunes the hosts' readiness signals with, for the deploy's
// identity.
func (a *Args) signalStore(ctx context.Context, identity rollout.Identity) (rollout.SignalStore, error) {
	if a.SignalStore != nil {
		return a.SignalStore, nil
	}
	if a.NewSignalStore == nil {
		return nil, rollout.ErrNoSignalStore
	}
	return a.NewSignalStore(ctx, identity)
}

// health reads the hosts' health in the target groups arns through a.TargetHealth, or a client for the deploy's
// identity. Auto Scaling registers each host on the target group's own port.
func (a *Args) health(ctx context.Context, identity rollout.Identity, arns []string) (rollout.Health, error) {
	api := a.TargetHealth
	if api == nil {
		var err error
		if api, err = a.NewTargetHealth.Build(ctx, identity); err != nil {
			return nil, err
		}
	}
	var targets []targethealth.Target
	for _, arn := range arns {
		targets = append(targets, targethealth.Target{GroupArn: arn})
	}
	return func(ctx context.Context, ids []string) ([]string, string, error) {
		return targethealth.Hosts(ctx, api, ids, targets)
	}, nil
}

// sdkPolicy is the fleet's mixed instances policy for the Auto Scaling API, naming templateID and version: what
// a refresh carries as its desired configuration, and the one source of the group's (policy).
func (a *Args) sdkPolicy(templateID, version string) *astypes.MixedInstancesPolicy {
	var overrides []astypes.LaunchTemplateOverrides
	for _, t := range a.InstanceTypes {
		overrides = append(overrides, astypes.LaunchTemplateOverrides{InstanceType: aws.String(t)})
	}
	return &astypes.MixedInstancesPolicy{
		LaunchTemplate: &astypes.LaunchTemplate{
			LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{
				LaunchTemplateId: aws.String(templateID), Version: aws.String(version)},
			Overrides: overrides,
		},
		InstancesDistribution: &astypes.InstancesDistribution{
			OnDemandBaseCapacity:                aws.Int32(int32(a.OnDemandBase)),
			OnDemandPercentageAboveBaseCapacity: aws.Int32(int32(100 - a.SpotPercent)),
			// "prioritized" takes InstanceTypes in the stack's order for On-Demand; Spot goes where capacity
			// is deepest for its price, which AWS recommends to lower interruptions.
			OnDemandAllocationStrategy: aws.String("prioritized"),
			SpotAllocationStrategy:     aws.String("price-capacity-optimized"),
		},
	}
}
