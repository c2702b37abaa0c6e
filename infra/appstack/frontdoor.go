package appstack

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/frontdoor"
	"appstack/stacks"
)

// doorPlacement is what the front door needs from the account: the zone, the VPC and two or more subnets.
type doorPlacement struct {
	zoneID    string
	vpcID     string
	subnetIDs []string
	hostnames map[string]string
}

var stackLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// placeFrontDoor looks up, through the provider, the public hosted zone named by appstack:domain and, in the
// default VPC, the VPC and its default subnets (one per Availability Zone).
func placeFrontDoor(ctx *pulumi.Context, cfg *stacks.Config) (*doorPlacement, error) {
	key := stacks.Namespace + ":domain"
	if cfg.Environment == stacks.Ephemeral && !stackLabelRE.MatchString(ctx.Stack()) {
		return nil, fmt.Errorf("%s: the ephemeral stack's name %q goes into its hostnames and is not a DNS label",
			key, ctx.Stack())
	}
	zone, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{
		Name:        pulumi.StringRef(cfg.Domain),
		PrivateZone: pulumi.BoolRef(false),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: no public Route 53 hosted zone %q in this account (create it, or delegate the "+
			"domain to one, before deploying): %w", key, cfg.Domain, err)
	}
	if len(ctx.Stack()) > frontdoor.MaxTargetGroupPrefix || !stackLabelRE.MatchString(ctx.Stack()) {
		return nil, fmt.Errorf("%s: the stack's name %q starts its target groups' names, which allow %d "+
			"lower-case letters, digits and dashes before the service", key, ctx.Stack(),
			frontdoor.MaxTargetGroupPrefix)
	}
	p := &doorPlacement{zoneID: zone.ZoneId, vpcID: cfg.VpcID, subnetIDs: cfg.FrontDoorSubnetIDs,
		hostnames: cfg.Hostnames(ctx.Stack())}
	if cfg.VpcID != "" {
		return p, nil
	}
	vpc, err := ec2.LookupVpc(ctx, &ec2.LookupVpcArgs{Default: pulumi.BoolRef(true)})
	if err != nil {
		return nil, fmt.Errorf("%s: the front door needs the default VPC, or appstack:vpcId, appstack:subnetId and "+
			"appstack:frontDoorSubnetIds: %w", key, err)
	}
	subnets, err := ec2.GetSubnets(ctx, &ec2.GetSubnetsArgs{Filters: []ec2.GetSubnetsFilter{
		{Name: "vpc-id", Values: []string{vpc.Id}},
		{Name: "default-for-az", Values: []string{"true"}},
	}})
	if err != nil {
		return nil, fmt.Errorf("%s: listing the default VPC's subnets: %w", key, err)
	}
	if len(subnets.Ids) < 2 {
		return nil, fmt.Errorf("%s: the default VPC %s has %d default subnet(s); the front door needs two "+
			"Availability Zones: set appstack:vpcId, appstack:subnetId and appstack:frontDoorSubnetIds", key,
			vpc.Id, len(subnets.Ids))
	}
	p.vpcID = vpc.Id
	p.subnetIDs = append([]string(nil), subnets.Ids...)
	sort.Strings(p.subnetIDs)
	return p, nil
}

// newFrontDoor creates the front door for every service.
func newFrontDoor(ctx *pulumi.Context, name string, cfg *stacks.Config, p *doorPlacement,
	account pulumi.StringOutput, alarmTopic pulumi.StringInput, tagSet map[string]string,
	opts ...pulumi.ResourceOption) (*frontdoor.FrontDoor, error) {
	var services []frontdoor.Service
	for _, s := range cfg.Services {
		services = append(services, frontdoor.Service{Name: s.Name, Port: s.Port, Hostname: p.hostnames[s.Name],
			ReadyPath: s.ReadyPath})
	}
	return frontdoor.New(ctx, name+"-frontdoor", &frontdoor.Args{
		Domain:              cfg.Domain,
		ZoneID:              p.zoneID,
		Services:            services,
		VpcID:               p.vpcID,
		SubnetIDs:           p.subnetIDs,
		IngressCidrs:        cfg.IngressCidrs,
		PublicIngressReason: publicReason(cfg),
		IdleTimeout:         cfg.IdleTimeout,
		DeletionProtection:  cfg.Protect,
		Region:              cfg.Region,
		AccountID:           account,
		LogBucketPrefix:     LogBucketPrefix(ctx.Project(), ctx.Stack()),
		LogRetentionDays:    cfg.LogRetentionDays,
		ForceDestroyLogs:    cfg.ForceDelete,
		AlarmTopicArn:       alarmTopic,
		DeregistrationDelay: deregistrationDelay(cfg),
		// Every target group's name starts with the stack's: the deploy roles create, change and attach Auto
		// Scaling groups only to target groups named for their own stacks (bootstrap FrontDoorPolicy, FleetPolicy).
		TargetGroupPrefix: ctx.Stack(),
		// A fleet's groups are named apart from a single host's, so a move between the two makes new groups.
		ForFleet: cfg.IsFleet(),
		// The hostnames' rules wait until what they forward to serves (appstack.New calls Route): a fleet's rollout,
		// or the single host healthy in every target group. A replaced target group (a port change, a rename)
		// thus takes requests only once it holds a healthy target, and the old one keeps them until then.
		DeferRouting: true,
		Tags:         tagSet,
	}, opts...)
}

// deregistrationDelay is how long a target leaving the front door keeps its requests and connections: a
// fleet's appstack:fleet.drainSeconds; nil otherwise, the front door's default, since a single host is
// deregistered only once its replacement serves.
func deregistrationDelay(cfg *stacks.Config) *time.Duration {
	if !cfg.IsFleet() {
		return nil
	}
	return new(time.Duration(*cfg.FleetShape().DrainSeconds) * time.Second)
}

// LogBucketPrefix starts the name of a stack's access-log bucket: <project>-<stack>-alb-logs-, lower case,
// so that a deploy role's S3 rights can name its own stacks' buckets (bootstrap: FrontDoorBucketPrefix).
func LogBucketPrefix(project, stack string) string {
	clean := func(s string) string {
		return strings.Trim(nonBucketRE.ReplaceAllString(strings.ToLower(s), "-"), "-.")
	}
	prefix := clean(project) + "-" + clean(stack) + "-alb-logs-"
	if len(prefix) > 37 {
		prefix = prefix[:37]
	}
	return prefix
}

var nonBucketRE = regexp.MustCompile(`[^a-z0-9.-]+`)

// accountID reads the account from any ARN of it.
func accountID(s string) (string, error) {
	a, err := arn.Parse(s)
	if err != nil || a.AccountID == "" {
		return "", fmt.Errorf("cannot read the account from ARN %q", s)
	}
	return a.AccountID, nil
}
