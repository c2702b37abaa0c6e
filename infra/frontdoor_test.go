package infra

import (
	"maps"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const (
	loadBalancerType = "aws:lb/loadBalancer:LoadBalancer"
	listenerType     = "aws:lb/listener:Listener"
	targetGroupType  = "aws:lb/targetGroup:TargetGroup"
	attachmentType   = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
	certificateType  = "aws:acm/certificate:Certificate"
	recordType       = "aws:route53/record:Record"
	egressType       = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	securityGrpType  = "aws:ec2/securityGroup:SecurityGroup"
)

// withDomain is staging's configuration with a domain.
func withDomain(t *testing.T, changes map[string]string) map[string]string {
	cfg := maps.Clone(stackFile(t, "staging").Config)
	cfg["appstack:domain"] = "example.com"
	for k, v := range changes {
		cfg[k] = v
	}
	return cfg
}

func TestTheExampleStackPreviewsTheFrontDoorWithNoOpenFindings(t *testing.T) {
	cfg := stackFile(t, "example").Config
	res := mustRun(t, "example", cfg)
	assert.Empty(t, openFindings(t, res, cfg))
	assert.Len(t, res.OfType(loadBalancerType), 1)
	assert.Equal(t, map[string]string{"web": "https://web.example.com/", "api": "https://api.example.com/"},
		res.Exports["serviceUrls"])
	assert.Equal(t, map[string]string{"web": "https://web.example.com/health",
		"api": "https://api.example.com/health"}, res.Exports["healthUrls"])
	alb := offlinetest.One(t, res, loadBalancerType)
	assert.True(t, offlinetest.Bool(t, alb, "enableDeletionProtection"), "production protects its front door")
}

func TestWithADomainTheHostAdmitsOnlyTheFrontDoor(t *testing.T) {
	res := mustRun(t, "staging", withDomain(t, nil))
	alb := offlinetest.One(t, res, loadBalancerType)
	albGroups := offlinetest.Prop(t, alb, "securityGroups").ArrayValue()
	require.Len(t, albGroups, 1)
	albSG := albGroups[0].StringValue()
	hostSG, ok := res.Named(securityGrpType, "app-network-sg")
	require.True(t, ok)

	var hostRules, doorRules int
	for _, r := range res.OfType(ingressType) {
		sg := offlinetest.Str(t, r, "securityGroupId")
		switch sg {
		case hostSG.ID:
			hostRules++
			assert.Equal(t, albSG, offlinetest.Str(t, r, "referencedSecurityGroupId"), r.Name)
			_, v4 := offline.Lookup(r.Inputs, "cidrIpv4")
			_, v6 := offline.Lookup(r.Inputs, "cidrIpv6")
			assert.False(t, v4 || v6, "%s admits a CIDR on the host", r.Name)
		case albSG:
			doorRules++
			port := offlinetest.Num(t, r, "fromPort")
			assert.Contains(t, []float64{443, 80}, port)
			assert.Equal(t, "0.0.0.0/0", offlinetest.Str(t, r, "cidrIpv4"), "the front door faces ingressCidrs")
		}
	}
	assert.Equal(t, 1, hostRules, "one service port, from the front door")
	assert.Equal(t, 2, doorRules, "443 and 80 from each ingress CIDR")
	out, ok := res.Named(egressType, "app-network-frontdoor-out-8080")
	require.True(t, ok, "the front door may reach the service port")
	assert.Equal(t, hostSG.ID, offlinetest.Str(t, out, "referencedSecurityGroupId"))

	// The front door spans the default VPC's default subnets, looked up through the provider.
	assert.Len(t, offlinetest.Prop(t, alb, "subnets").ArrayValue(), 3)
	var tokens []string
	for _, inv := range res.Invokes {
		tokens = append(tokens, inv.Token)
	}
	assert.Subset(t, tokens, []string{"aws:route53/getZone:getZone", "aws:ec2/getVpc:getVpc",
		"aws:ec2/getSubnets:getSubnets"})

	bucket := offlinetest.One(t, res, "aws:s3/bucket:Bucket")
	assert.Equal(t, "appstack-staging-alb-logs-", offlinetest.Str(t, bucket, "bucketPrefix"),
		"the log bucket names project and stack, so a deploy role's S3 rights can name its own")

	urls := res.Exports["serviceUrls"].(map[string]string)
	assert.Equal(t, "https://web.example.com/", urls["web"])
	health := res.Exports["healthUrls"].(map[string]string)
	assert.Equal(t, "https://web.example.com/health", health["web"])
}

func TestTheTargetsTakeTheGatedInstanceID(t *testing.T) {
	res := mustRun(t, "staging", withDomain(t, nil))
	instance := offlinetest.One(t, res, instanceType)
	att := offlinetest.One(t, res, attachmentType)
	assert.Equal(t, instance.ID, offlinetest.Str(t, att, "targetId"))
	assert.Equal(t, float64(8080), offlinetest.Num(t, att, "port"))
	tg := offlinetest.One(t, res, targetGroupType)
	assert.Equal(t, tg.ID, offlinetest.Str(t, att, "targetGroupArn"))
	assert.Equal(t, "/ready", offlinetest.Str(t, tg, "healthCheck.path"), "health-checked on readyPath")
}

func TestAnEphemeralStackGetsItsOwnHostnames(t *testing.T) {
	cfg := withDomain(t, map[string]string{"appstack:environment": "ephemeral"})
	res := mustRun(t, "pr-7", cfg)
	assert.Equal(t, "https://web.pr-7.example.com/", res.Exports["serviceUrls"].(map[string]string)["web"])
	cert := offlinetest.One(t, res, certificateType)
	assert.Equal(t, "web.pr-7.example.com", offlinetest.Str(t, cert, "domainName"))
	dns, ok := res.Named(recordType, "app-frontdoor-web-dns")
	require.True(t, ok)
	assert.Equal(t, "web.pr-7.example.com", offlinetest.Str(t, dns, "name"))
	alb := offlinetest.One(t, res, loadBalancerType)
	assert.False(t, offlinetest.Bool(t, alb, "enableDeletionProtection"))
	assert.Empty(t, openFindings(t, res, cfg))
}

func TestADomainWithoutAHostedZoneFailsNamingTheKey(t *testing.T) {
	t.Chdir(offlinetest.Root())
	res, err := offline.Run(Program, offline.Options{Stack: "staging", Config: withDomain(t, nil),
		Zones: []string{"another.example"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `appstack:domain: no public Route 53 hosted zone "example.com" in this account`)
	assert.Contains(t, err.Error(), "no matching Route 53 Hosted Zone found", "the provider's own reason")
	assert.Empty(t, res.OfType(loadBalancerType), "nothing of the front door is registered")

	_, err = offline.Run(Program, offline.Options{Stack: "staging", Config: withDomain(t, nil),
		Zones: []string{"example.com"}})
	assert.NoError(t, err, "the same stack deploys once the account holds the zone")
}

func TestAChosenVPCUsesTheConfiguredFrontDoorSubnets(t *testing.T) {
	cfg := withDomain(t, map[string]string{
		"appstack:vpcId":              "vpc-0123456789abcdef0",
		"appstack:subnetId":           "subnet-0123456789abcdef0",
		"appstack:frontDoorSubnetIds": `["subnet-0aaaaaaaaaaaaaaaa","subnet-0bbbbbbbbbbbbbbbb"]`,
	})
	res := mustRun(t, "staging", cfg)
	alb := offlinetest.One(t, res, loadBalancerType)
	var subnets []string
	for _, v := range offlinetest.Prop(t, alb, "subnets").ArrayValue() {
		subnets = append(subnets, v.StringValue())
	}
	assert.Equal(t, []string{"subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"}, subnets)
	assert.Equal(t, "vpc-0123456789abcdef0", offlinetest.Str(t, offlinetest.One(t, res, targetGroupType), "vpcId"))
	for _, inv := range res.Invokes {
		assert.NotEqual(t, "aws:ec2/getSubnets:getSubnets", inv.Token, "configured subnets are not looked up")
	}
}

func TestWithoutADomainTheStackServesPlainHTTPAsBefore(t *testing.T) {
	res := mustRun(t, "staging", stackFile(t, "staging").Config)
	for _, typ := range []string{loadBalancerType, listenerType, targetGroupType, attachmentType, certificateType,
		recordType} {
		assert.Empty(t, res.OfType(typ), typ)
	}
	assert.True(t, strings.HasPrefix(res.Exports["serviceUrls"].(map[string]string)["web"], "http://"))
	for _, inv := range res.Invokes {
		assert.NotEqual(t, "aws:route53/getZone:getZone", inv.Token)
	}
}

// Every target group's name starts with its stack's, a single host's too: the deploy roles create, change and
// attach Auto Scaling groups only to target groups named for their own stacks (bootstrap FrontDoorPolicy,
// FleetPolicy), so a review stack can never take a name that production's roles trust.
func TestEveryTargetGroupIsNamedForItsStack(t *testing.T) {
	for _, tc := range []struct{ stack, env string }{{"staging", "staging"}, {"pr-7", "ephemeral"}} {
		res := mustRun(t, tc.stack, withDomain(t, map[string]string{"appstack:environment": tc.env}))
		name := offlinetest.Str(t, offlinetest.One(t, res, targetGroupType), "name")
		assert.Regexp(t, `^`+tc.stack+`-web-[0-9a-f]{10}$`, name, "a single host's target group")
		assert.LessOrEqual(t, len(name), 32, "CreateTargetGroup refuses longer names")
	}
	single := offlinetest.Str(t, offlinetest.One(t, mustRun(t, "staging", withDomain(t, nil)), targetGroupType), "name")
	fleet := offlinetest.Str(t, offlinetest.One(t, mustRun(t, "staging", withFleet(t, nil)), targetGroupType), "name")
	assert.NotEqual(t, single, fleet, "moving to a fleet still gets new target groups")

	long := "review-of-a-very-long-branch-name"
	_, err := run(t, long, withDomain(t, map[string]string{"appstack:environment": "ephemeral"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `appstack:domain: the stack's name "`+long+`" starts its target groups' names`)
}
