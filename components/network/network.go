// Package network is the component that owns the host's security group and its rules.
package network

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/tags"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Network"

// shellPorts are never opened: shell access goes through SSM Session Manager.
var shellPorts = map[int]string{22: "SSH", 3389: "RDP"}

// Args configures a Network.
type Args struct {
	// VpcID is the VPC the group belongs to. Optional: the region's default VPC.
	VpcID string
	// Ports are the TCP ports opened to IngressCidrs. Required; never 22 or 3389.
	Ports []int
	// IngressCidrs may reach Ports. Required.
	IngressCidrs []string
	// PublicIngressReason must be set for a whole-internet CIDR in IngressCidrs. Optional.
	PublicIngressReason string
	// FrontDoorSecurityGroupID, when set, is the only source Ports admit (the front door's load balancer), and
	// that group gets egress to Ports on this group; IngressCidrs is then not used. Optional.
	FrontDoorSecurityGroupID pulumi.StringInput
	// Tags go on the group and every rule. Optional.
	Tags map[string]string
}

// Network is a security group that admits only service ports from chosen CIDRs and lets out only HTTPS.
type Network struct {
	pulumi.ResourceState

	// SecurityGroupID is the group's id, for vpcSecurityGroupIds.
	SecurityGroupID pulumi.IDOutput
}

func (a *Args) validate(name string) error {
	if len(a.Ports) == 0 || (len(a.IngressCidrs) == 0 && a.FrontDoorSecurityGroupID == nil) {
		return fmt.Errorf("network %q: Ports and IngressCidrs (or FrontDoorSecurityGroupID) are required", name)
	}

	for _, p := range a.Ports {
		if p < 1 || p > 65535 {
			return fmt.Errorf("network %q: %d is not a TCP port", name, p)
		}
		if what := shellPorts[p]; what != "" {
			return fmt.Errorf("network %q: port %d (%s) is never opened; use SSM Session Manager", name, p, what)
		}
	}
	for _, c := range a.cidrs() {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return fmt.Errorf("network %q: %q is not a CIDR block", name, c)
		}
		if p.Bits() == 0 && strings.TrimSpace(a.PublicIngressReason) == "" {
			return fmt.Errorf("network %q: %q opens the ports to the whole internet and needs PublicIngressReason",
				name, c)
		}
	}
	return nil
}

// cidrs are the networks the service ports admit directly: none behind a front door, whose own rules decide who
// reaches it.
func (a *Args) cidrs() []string {
	if a.FrontDoorSecurityGroupID != nil {
		return nil
	}
	return a.IngressCidrs
}

// New creates the security group and one standalone rule per port and CIDR.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Network, error) {
	if err := args.validate(name); err != nil {
		return nil, err
	}
	c := &Network{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	description := "appstack host: service ports in, HTTPS out"
	if args.FrontDoorSecurityGroupID != nil {
		description = "appstack host: service ports from the front door only, HTTPS out"
	}
	sgArgs := &ec2.SecurityGroupArgs{
		Description: pulumi.String(description),
		// Rules are standalone resources below; AWS's default allow-all egress rule is removed on create.
		RevokeRulesOnDelete: pulumi.Bool(true),
		Tags:                tags.With(args.Tags, name),
	}
	if args.VpcID != "" {
		sgArgs.VpcId = pulumi.String(args.VpcID)
	}
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", sgArgs, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	for _, port := range args.Ports {
		for _, cidr := range args.cidrs() {
			if err := CidrIngress(ctx, name, sg.ID().ToStringOutput(), port, cidr, fmt.Sprintf("service port %d from %s", port, cidr),
				args.Tags, pulumi.Parent(c)); err != nil {
				return nil, err
			}
		}
	}
	if args.FrontDoorSecurityGroupID != nil {
		if err := frontDoorRules(ctx, c, name, args, sg.ID()); err != nil {
			return nil, err
		}
	}
	// The host needs only HTTPS out: ECR, S3 (image layers), SSM, CloudWatch Logs and the AL2023 package
	// mirrors. DNS, NTP and instance metadata use link-local addresses that security groups do not filter.
	_, err = vpc.NewSecurityGroupEgressRule(ctx, name+"-out-https", &vpc.SecurityGroupEgressRuleArgs{
		SecurityGroupId: sg.ID(),
		IpProtocol:      pulumi.String("tcp"),
		FromPort:        pulumi.Int(443),
		ToPort:          pulumi.Int(443),
		CidrIpv4:        pulumi.String("0.0.0.0/0"),
		Description:     pulumi.String("HTTPS to AWS APIs and package mirrors"),
		Tags:            tags.With(args.Tags, name),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.SecurityGroupID = sg.ID()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"securityGroupId": sg.ID()}); err != nil {
		return nil, err
	}
	return c, nil
}

// frontDoorRules admit each service port on the host only from the front door's group, and let the front door
// reach exactly those ports on the host's group.
func frontDoorRules(ctx *pulumi.Context, c *Network, name string, args *Args, hostSG pulumi.IDOutput) error {
	for _, port := range args.Ports {
		_, err := vpc.NewSecurityGroupIngressRule(ctx, fmt.Sprintf("%s-in-%d-frontdoor", name, port),
			&vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId:           hostSG,
				IpProtocol:                pulumi.String("tcp"),
				FromPort:                  pulumi.Int(port),
				ToPort:                    pulumi.Int(port),
				ReferencedSecurityGroupId: args.FrontDoorSecurityGroupID,
				Description:               pulumi.Sprintf("service port %d from the front door", port),
				Tags:                      tags.With(args.Tags, name),
			}, pulumi.Parent(c))
		if err != nil {
			return err
		}
		_, err = vpc.NewSecurityGroupEgressRule(ctx, fmt.Sprintf("%s-frontdoor-out-%d", name, port),
			&vpc.SecurityGroupEgressRuleArgs{
				SecurityGroupId:           args.FrontDoorSecurityGroupID,
				IpProtocol:                pulumi.String("tcp"),
				FromPort:                  pulumi.Int(port),
				ToPort:                    pulumi.Int(port),
				ReferencedSecurityGroupId: hostSG,
				Description:               pulumi.Sprintf("front door to the host's service port %d", port),
				Tags:                      tags.With(args.Tags, name),
			}, pulumi.Parent(c))
		if err != nil {
			return err
		}
	}
	return nil
}

// CidrIngress admits TCP port from cidr (IPv4 or IPv6) into the security group, as a standalone rule named
// <name>-in-<port>-<cidr as a slug> that carries tags (with its own Name) and the description.
func CidrIngress(ctx *pulumi.Context, name string, group pulumi.StringInput, port int, cidr, description string,
	tagSet map[string]string, opts ...pulumi.ResourceOption) error {
	rule := &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: group,
		IpProtocol:      pulumi.String("tcp"),
		FromPort:        pulumi.Int(port),
		ToPort:          pulumi.Int(port),
		Description:     pulumi.String(description),
		Tags:            tags.With(tagSet, name),
	}
	if strings.Contains(cidr, ":") {
		rule.CidrIpv6 = pulumi.String(cidr)
	} else {
		rule.CidrIpv4 = pulumi.String(cidr)
	}
	slug := strings.NewReplacer(".", "-", "/", "-", ":", "-").Replace(cidr) // 203.0.113.0/24 -> 203-0-113-0-24
	_, err := vpc.NewSecurityGroupIngressRule(ctx, fmt.Sprintf("%s-in-%d-%s", name, port, slug), rule, opts...)
	return err
}
