package appstack

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/fleet"
	"appstack/components/frontdoor"
	"appstack/components/host"
	"appstack/stacks"
)

// newFleet runs the services on an Auto Scaling group behind the front door, booting each host as the single
// host boots.
func newFleet(ctx *pulumi.Context, name string, cfg *stacks.Config, door *doorPlacement, fd *frontdoor.FrontDoor,
	boot host.Args, clients Clients, parent pulumi.ResourceOption) (*fleet.Fleet, error) {
	if door == nil || fd == nil {
		return nil, fmt.Errorf("appstack %q: appstack:hosting: fleet needs the front door (appstack:domain)", name)
	}
	shape := cfg.FleetShape()
	subnets, public := shape.SubnetIDs, false
	if len(subnets) == 0 {
		// Without private subnets the hosts share the front door's public subnets, and reach ECR, SSM and
		// CloudWatch over their own public addresses (the policy asks for a waiver of the public addresses).
		subnets, public = door.subnetIDs, true
	}
	var arns pulumi.StringArray
	var names, services []string
	for _, s := range cfg.Services {
		arns = append(arns, fd.TargetGroupArns[s.Name])
		names = append(names, fd.TargetGroupNames[s.Name])
		services = append(services, s.Name)
	}
	return fleet.New(ctx, name+"-fleet", &fleet.Args{
		Boot:                boot,
		AutoScaling:         clients.AutoScaling,
		NewTargetHealth:     clients.TargetHealth,
		NewSignalStore:      clients.Signals,
		GroupName:           GroupName(ctx.Project(), ctx.Stack(), name),
		InstanceTypes:       shape.InstanceTypes,
		Min:                 shape.Min,
		Max:                 shape.Max,
		Desired:             shape.Desired,
		OnDemandBase:        *shape.OnDemandBase,
		SpotPercent:         shape.SpotPercent,
		MinHealthyPercent:   *shape.MinHealthyPercent,
		SubnetIDs:           subnets,
		PublicIP:            public,
		SecurityGroupIDs:    boot.SecurityGroupIDs,
		InstanceProfileName: boot.InstanceProfileName,
		TargetGroupArns:     arns,
		TargetGroupNames:    names,
		TargetGroupServices: services,
		ScalingMetric:       shape.Scaling.Metric,
		ScalingTarget:       shape.Scaling.Target,
		// Requests per target count on the first service's target group.
		RequestsLabel: fd.ResourceLabels[cfg.Services[0].Name],
		// The same drain the front door's target groups keep.
		Drain:         *deregistrationDelay(cfg),
		DependsOn:     boot.DependsOn,
		AlarmTopicArn: boot.AlarmTopicArn,
		Tags:          boot.Tags,
	}, parent)
}

// checkFleetSubnets looks up, through the provider, the Availability Zones of appstack:fleet.subnetIds and of
// the front door's subnets: the hosts must span two or more zones, and only zones the load balancer has enabled,
// since a target in any other zone is never routed to ("unused", Target.NotInUse: API_TargetHealth).
func checkFleetSubnets(ctx *pulumi.Context, cfg *stacks.Config, door *doorPlacement) error {
	ids := cfg.FleetShape().SubnetIDs
	if len(ids) == 0 {
		return nil // the front door's own subnets
	}
	key := stacks.Namespace + ":fleet.subnetIds"
	zoneOf := func(id string) (string, error) {
		sn, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: pulumi.StringRef(id)})
		if err != nil {
			return "", fmt.Errorf("%s: subnet %s: %w", key, id, err)
		}
		return sn.AvailabilityZone, nil
	}
	doorZones := map[string]bool{}
	for _, id := range door.subnetIDs {
		z, err := zoneOf(id)
		if err != nil {
			return err
		}
		doorZones[z] = true
	}
	zones := map[string]bool{}
	for _, id := range ids {
		z, err := zoneOf(id)
		if err != nil {
			return err
		}
		if !doorZones[z] {
			return fmt.Errorf("%s: subnet %s is in %s, where the front door has no subnet: the load balancer "+
				"would never route to its hosts (add a front door subnet in %s to appstack:frontDoorSubnetIds)",
				key, id, z, z)
		}
		zones[z] = true
	}
	if len(zones) < 2 {
		return fmt.Errorf("%s: the subnets are all in one Availability Zone; a fleet spreads over two or more",
			key)
	}
	return nil
}

// GroupName is a stack's Auto Scaling group name, <project>-<stack>-<app>: fixed, so that a deploy reads the
// group before it declares it, and distinct for every stack and app of an account and region.
func GroupName(project, stack, app string) string {
	n := project + "-" + stack + "-" + app
	if len(n) > 255 {
		n = n[:255]
	}
	return n
}
