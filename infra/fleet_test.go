package infra

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const (
	groupType        = "aws:autoscaling/group:Group"
	launchTmplType   = "aws:ec2/launchTemplate:LaunchTemplate"
	listenerRuleType = "aws:lb/listenerRule:ListenerRule"
	kmsKeyType       = "aws:kms/key:Key"
)

// withFleet is staging's configuration on a fleet behind the front door.
func withFleet(t *testing.T, changes map[string]string) map[string]string {
	cfg := withDomain(t, map[string]string{"appstack:hosting": "fleet"})
	for k, v := range changes {
		cfg[k] = v
	}
	return cfg
}

func TestAFleetServesEveryServiceThroughTheFrontDoorsTargetGroups(t *testing.T) {
	cfg := withFleet(t, map[string]string{"appstack:alarmEmail": "ops@example.com"})
	res := mustRun(t, "staging", cfg)
	var open []string
	for _, f := range openFindings(t, res, cfg) {
		open = append(open, f.Rule)
	}
	assert.Equal(t, []string{"APPSTACK-ASG-003"}, open,
		"only the public addresses of the default VPC are open (the example stack waives them)")
	assert.Empty(t, res.OfType(instanceType), "a fleet has no single host")
	assert.Empty(t, res.OfType(eipType), "nor an Elastic IP: its address is the front door")
	assert.Empty(t, res.OfType(attachmentType), "the group registers its hosts itself")

	group := offlinetest.One(t, res, groupType)
	var groupTargets []string
	for _, v := range offlinetest.Prop(t, group, "targetGroupArns").ArrayValue() {
		groupTargets = append(groupTargets, v.StringValue())
	}
	var doorTargets []string
	for _, tg := range res.OfType(targetGroupType) {
		doorTargets = append(doorTargets, tg.ID)
		assert.Equal(t, 300.0, offlinetest.Num(t, tg, "deregistrationDelay"),
			"an old host keeps its requests and WebSockets five minutes before it goes")
		assert.Equal(t, "/ready", offlinetest.Str(t, tg, "healthCheck.path"))
		assert.Regexp(t, `^staging-`, offlinetest.Str(t, tg, "name"),
			"named for the stack: the deploy roles attach groups only to their own stacks' target groups")
	}
	require.NotEmpty(t, doorTargets)
	assert.ElementsMatch(t, doorTargets, groupTargets, "every service's target group, and only those")
	for _, rule := range res.OfType(listenerRuleType) {
		assert.Contains(t, doorTargets, offlinetest.Str(t, rule, "actions[0].targetGroupArn"),
			"each hostname forwards to a target group the fleet's hosts register in")
	}
	assert.GreaterOrEqual(t, len(offlinetest.Prop(t, group, "vpcZoneIdentifiers").ArrayValue()), 2,
		"the default VPC's default subnets, one per zone")
	lt := offlinetest.One(t, res, launchTmplType)
	assert.Equal(t, "true", offlinetest.Str(t, lt, "networkInterfaces[0].associatePublicIpAddress"),
		"the default VPC has no NAT: the hosts reach AWS over public addresses")
	assert.Equal(t, "appstack-staging-app", offlinetest.Str(t, group, "name"))

	var policy struct{ Statement []map[string]any }
	key := offlinetest.One(t, res, kmsKeyType)
	require.NoError(t, json.Unmarshal([]byte(offlinetest.Str(t, key, "policy")), &policy))
	var slr bool
	for _, st := range policy.Statement {
		slr = slr || st["Sid"] == "ServiceLinkedRolesEncrypt"
	}
	assert.True(t, slr, "Auto Scaling's notifications reach the encrypted alarm topic")

	assert.NotContains(t, res.Exports, "publicIp")
	assert.Equal(t, "appstack-staging-app", res.Exports["fleetGroup"])
	assert.Equal(t, "1", res.Exports["templateVersion"])
	assert.Equal(t, "offline: not rolled out", res.Exports["rollout"])
}

func TestAFleetInPrivateSubnetsHasNoPublicAddresses(t *testing.T) {
	res := mustRun(t, "staging", withFleet(t, map[string]string{
		"appstack:vpcId":              "vpc-0123456789abcdef0",
		"appstack:subnetId":           "subnet-0123456789abcdef0",
		"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`,
		"appstack:fleet":              `{"subnetIds":["subnet-0123456789abcdef3","subnet-0123456789abcdef4"]}`,
	}))
	lt := offlinetest.One(t, res, launchTmplType)
	assert.Equal(t, "false", offlinetest.Str(t, lt, "networkInterfaces[0].associatePublicIpAddress"))
	group := offlinetest.One(t, res, groupType)
	assert.Equal(t, []any{"subnet-0123456789abcdef3", "subnet-0123456789abcdef4"},
		offlinetest.Prop(t, group, "vpcZoneIdentifiers").Mappable())
}

// The mocks place subnets ending in 0 and 3 in zone a, 1 and 4 in b, 2 in c.
func TestAFleetsSubnetsMustBeInTheFrontDoorsZonesAndSpanTwo(t *testing.T) {
	try := func(fleetSubnets string) error {
		_, err := run(t, "staging", withFleet(t, map[string]string{
			"appstack:vpcId":              "vpc-0123456789abcdef0",
			"appstack:subnetId":           "subnet-0123456789abcdef0",
			"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`,
			"appstack:fleet":              `{"subnetIds":` + fleetSubnets + `}`,
		}))
		return err
	}
	err := try(`["subnet-0123456789abcdef3","subnet-0123456789abcdef2"]`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "appstack:fleet.subnetIds: subnet subnet-0123456789abcdef2 is in ap-southeast-1c, "+
		"where the front door has no subnet")
	err = try(`["subnet-0123456789abcdef3","subnet-0123456789abcdef0"]`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "appstack:fleet.subnetIds: the subnets are all in one Availability Zone")
}

// Moving a stack from one host to a fleet keeps its data: the tables, repositories, stack key, secrets and the
// front door keep their logical names (so Pulumi updates or keeps them rather than replacing them); the host,
// its Elastic IP and its target group attachments are what go.
func TestMovingToAFleetKeepsTheStacksData(t *testing.T) {
	single := mustRun(t, "staging", withDomain(t, nil))
	fleet := mustRun(t, "staging", withFleet(t, nil))
	urns := func(res *offline.Result) map[string]string {
		out := map[string]string{}
		for _, r := range res.Resources {
			out[r.URN] = r.Type
		}
		return out
	}
	before, after := urns(single), urns(fleet)
	kept := []string{"aws:dynamodb/table:Table", "aws:ecr/repository:Repository", "aws:kms/key:Key",
		"aws:ssm/parameter:Parameter", "aws:lb/loadBalancer:LoadBalancer", "aws:lb/targetGroup:TargetGroup",
		"aws:acm/certificate:Certificate", "aws:route53/record:Record", "aws:cloudwatch/logGroup:LogGroup"}
	for urn, typ := range before {
		for _, k := range kept {
			if typ == k {
				assert.Contains(t, after, urn, "%s stays", urn)
			}
		}
	}
	for _, tbl := range fleet.OfType("aws:dynamodb/table:Table") {
		match, ok := single.Named(tbl.Type, tbl.Name)
		require.True(t, ok)
		assert.Equal(t, match.Inputs, tbl.Inputs, "the table's inputs do not change, so it is not replaced")
	}
}

func TestTheFleetExampleStackPreviewsWithNoOpenFindings(t *testing.T) {
	cfg := stackFile(t, "fleet").Config
	res := mustRun(t, "fleet", cfg)
	assert.Empty(t, openFindings(t, res, cfg))
	group := offlinetest.One(t, res, groupType)
	assert.Equal(t, 2.0, offlinetest.Num(t, group, "minSize"))
	assert.Equal(t, 6.0, offlinetest.Num(t, group, "maxSize"))
	assert.Equal(t, 50.0, offlinetest.Num(t, group,
		"mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity"))
}

func TestAFleetWithoutItsWaiverHasTheOpenPublicAddressFinding(t *testing.T) {
	cfg := withFleet(t, nil)
	res := mustRun(t, "staging", cfg)
	var ids []string
	for _, f := range openFindings(t, res, cfg) {
		ids = append(ids, f.Rule)
	}
	assert.Contains(t, ids, "APPSTACK-ASG-003", "public addresses on fleet hosts need a stated reason")
}

// The retry of a failed first deploy finds its group existing: the hostnames' rules must still wait for the
// rollout, since the group's hosts have never served. A rollout that fails (here: no Auto Scaling client) leaves
// every hostname's rule where it was.
func TestAFleetsHostnamesMoveOnlyAfterARolloutSucceedsEvenWhenTheGroupExists(t *testing.T) {
	t.Chdir(offlinetest.Root())
	res, err := offline.Run(Program, offline.Options{Stack: "staging", Config: withFleet(t, nil), Settle: true,
		Groups: map[string]offline.Group{"appstack-staging-app": {TemplateID: "lt-0failedfirst", Version: "1"}}})
	require.Error(t, err, "the rollout cannot run without an Auto Scaling client")
	for _, rule := range res.OfType(listenerRuleType) {
		assert.Contains(t, rule.Name, "-warm", "%s forwards a hostname although no rollout succeeded", rule.Name)
	}
}

// A running fleet's port change replaces its target groups, and moving the group to them in place would take
// its hosts out of the groups the hostnames use at once: the deploy is refused, naming the key, before anything
// is registered. The same group on its own target groups deploys.
func TestARunningFleetDoesNotChangeTargetGroupsInPlace(t *testing.T) {
	t.Chdir(offlinetest.Root())
	cfg := withFleet(t, nil)
	first := mustRun(t, "staging", cfg)
	var arns []string
	for _, tg := range first.OfType(targetGroupType) {
		arns = append(arns, "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/"+
			offlinetest.Str(t, tg, "name")+"/0123456789abcdef")
	}
	running := map[string]offline.Group{"appstack-staging-app": {TemplateID: "lt-0running", Version: "3",
		TargetGroupArns: arns}}
	_, err := offline.Run(Program, offline.Options{Stack: "staging", Config: cfg, Groups: running})
	require.NoError(t, err, "the same target groups")

	var services []map[string]any
	require.NoError(t, json.Unmarshal([]byte(cfg["appstack:services"]), &services))
	services[0]["port"] = 9090
	raw, err := json.Marshal(services)
	require.NoError(t, err)
	cfg["appstack:services"] = string(raw)
	res, err := offline.Run(Program, offline.Options{Stack: "staging", Config: cfg, Groups: running})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "appstack:services[].port")
	assert.Contains(t, err.Error(), "cannot take a new target group in place")
	assert.Empty(t, res.OfType(groupType), "refused before anything is registered")
}
