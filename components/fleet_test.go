package components_test

import (
	"compress/gzip"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/fleet"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const (
	templateType     = "aws:ec2/launchTemplate:LaunchTemplate"
	groupType        = "aws:autoscaling/group:Group"
	scalingType      = "aws:autoscaling/policy:Policy"
	notificationType = "aws:autoscaling/notification:Notification"
)

func fleetArgs() *fleet.Args {
	boot := *hostArgs()
	boot.ReadyTimeout = 10 * time.Minute
	return &fleet.Args{
		Boot:                boot,
		GroupName:           "appstack-test-app",
		InstanceTypes:       []string{"t3.small", "t3a.small"},
		Min:                 2,
		Max:                 4,
		Desired:             2,
		OnDemandBase:        2,
		MinHealthyPercent:   100,
		SubnetIDs:           []string{"subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"},
		SecurityGroupIDs:    pulumi.StringArray{pulumi.String("sg-1")},
		InstanceProfileName: pulumi.String("profile"),
		TargetGroupArns: pulumi.StringArray{pulumi.String("arn:aws:elasticloadbalancing:ap-southeast-1:" +
			"123456789012:targetgroup/web/0123456789abcdef")},
		ScalingMetric: fleet.CPU,
		ScalingTarget: 60,
		Tags:          map[string]string{"app": "appstack"},
	}
}

func runFleet(t *testing.T, args *fleet.Args, groups map[string]offline.Group) *offline.Result {
	t.Helper()
	res, err := offline.Run(program(fleet.New, "f", args), offline.Options{Stack: "test",
		Config: map[string]string{"aws:region": offlinetest.Region}, Groups: groups})
	require.NoError(t, err)
	return res
}

func TestTheLaunchTemplateBootsTheSingleHostsScriptHardened(t *testing.T) {
	res := runFleet(t, fleetArgs(), nil)
	lt := offlinetest.One(t, res, templateType)
	assert.Equal(t, "required", offlinetest.Str(t, lt, "metadataOptions.httpTokens"), "IMDSv2 only")
	assert.Equal(t, 1.0, offlinetest.Num(t, lt, "metadataOptions.httpPutResponseHopLimit"))
	assert.Equal(t, "enabled", offlinetest.Str(t, lt, "metadataOptions.httpEndpoint"))
	assert.Equal(t, "true", offlinetest.Str(t, lt, "blockDeviceMappings[0].ebs.encrypted"))
	assert.Equal(t, "gp3", offlinetest.Str(t, lt, "blockDeviceMappings[0].ebs.volumeType"))
	assert.Equal(t, "false", offlinetest.Str(t, lt, "networkInterfaces[0].associatePublicIpAddress"),
		"no public address unless the subnets have no NAT")
	assert.Equal(t, []any{"sg-1"}, offlinetest.Prop(t, lt, "networkInterfaces[0].securityGroups").Mappable())
	assert.Equal(t, "profile", offlinetest.Str(t, lt, "iamInstanceProfile.name"))
	assert.Regexp(t, `^ami-0[0-9a-f]{16}$`, offlinetest.Str(t, lt, "imageId"),
		"an AMI id: Auto Scaling cannot roll back a template whose image is an SSM parameter")
	assert.Equal(t, []string{"imageId"}, lt.IgnoreChanges)
	assert.True(t, offlinetest.Bool(t, lt, "updateDefaultVersion"))
	for i, kind := range []string{"instance", "volume"} {
		assert.Equal(t, kind, offlinetest.Str(t, lt, "tagSpecifications["+string(rune('0'+i))+"].resourceType"))
		assert.Equal(t, "appstack", offlinetest.Str(t, lt, "tagSpecifications["+string(rune('0'+i))+"].tags.app"),
			"hosts and volumes are tagged in the launch: the deploy roles launch only tagged volumes")
	}

	raw, err := base64.StdEncoding.DecodeString(offlinetest.Str(t, lt, "userData"))
	require.NoError(t, err, "a launch template's user data is base64")
	script := string(raw)
	if zr, err := gzip.NewReader(strings.NewReader(script)); err == nil {
		b, err := io.ReadAll(zr)
		require.NoError(t, err)
		script = string(b)
	}
	assert.Contains(t, script, digestRef("web", 1), "the hosts run the image by digest")
	assert.Contains(t, script, "/appstack/test/app/ready", "and signal readiness where the rollout reads it")
	assert.NotContains(t, script, "attempt=1", "every fleet host is new: boot attempt 0")

	public := fleetArgs()
	public.PublicIP = true
	lt = offlinetest.One(t, runFleet(t, public, nil), templateType)
	assert.Equal(t, "true", offlinetest.Str(t, lt, "networkInterfaces[0].associatePublicIpAddress"))
}

func TestTheGroupSpansZonesBehindTheFrontDoorAndReplacesUnhealthyHosts(t *testing.T) {
	res := runFleet(t, fleetArgs(), nil)
	g := offlinetest.One(t, res, groupType)
	assert.Equal(t, "appstack-test-app", offlinetest.Str(t, g, "name"))
	assert.Equal(t, 2.0, offlinetest.Num(t, g, "minSize"))
	assert.Equal(t, 4.0, offlinetest.Num(t, g, "maxSize"))
	assert.Equal(t, 2.0, offlinetest.Num(t, g, "desiredCapacity"))
	assert.Equal(t, []string{"desiredCapacity"}, g.IgnoreChanges, "target tracking owns the capacity")
	assert.Equal(t, (20 * time.Minute).String(), g.DeleteTimeout,
		"a destroy waits for every host to drain (twice the ready timeout, no drain here)")
	assert.Len(t, offlinetest.Prop(t, g, "vpcZoneIdentifiers").ArrayValue(), 2)
	assert.Len(t, offlinetest.Prop(t, g, "targetGroupArns").ArrayValue(), 1)
	assert.Equal(t, "ELB", offlinetest.Str(t, g, "healthCheckType"),
		"a host failing the front door's readiness checks is replaced")
	assert.Equal(t, 600.0, offlinetest.Num(t, g, "healthCheckGracePeriod"), "a booting host gets its ready timeout")
	assert.Equal(t, 100.0, offlinetest.Num(t, g, "instanceMaintenancePolicy.minHealthyPercentage"))
	assert.Equal(t, 200.0, offlinetest.Num(t, g, "instanceMaintenancePolicy.maxHealthyPercentage"))
	assert.Equal(t, "0", offlinetest.Str(t, g, "waitForCapacityTimeout"),
		"the rollout waits for the first hosts' signals, failing fast with the boot's reason")
	_, refresh := offline.Lookup(g.Inputs, "instanceRefresh")
	assert.False(t, refresh, "the provider's instance refresh moves the group first and cannot roll back")

	lt := offlinetest.One(t, res, templateType)
	spec := "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification."
	assert.Equal(t, lt.ID, offlinetest.Str(t, g, spec+"launchTemplateId"))
	assert.Equal(t, "1", offlinetest.Str(t, g, spec+"version"), "a new group starts on the template's version")
	assert.Equal(t, "t3.small", offlinetest.Str(t, g, "mixedInstancesPolicy.launchTemplate.overrides[0].instanceType"))
	assert.Equal(t, "t3a.small", offlinetest.Str(t, g, "mixedInstancesPolicy.launchTemplate.overrides[1].instanceType"))
	dist := "mixedInstancesPolicy.instancesDistribution."
	assert.Equal(t, 2.0, offlinetest.Num(t, g, dist+"onDemandBaseCapacity"))
	assert.Equal(t, 100.0, offlinetest.Num(t, g, dist+"onDemandPercentageAboveBaseCapacity"), "no Spot unless asked")
	assert.False(t, offlinetest.Bool(t, g, "capacityRebalance"))

	tags := map[string]bool{}
	for _, tag := range offlinetest.Prop(t, g, "tags").ArrayValue() {
		m := tag.ObjectValue()
		assert.True(t, m["propagateAtLaunch"].BoolValue(), "%v reaches the hosts", m["key"])
		tags[m["key"].StringValue()] = true
	}
	assert.True(t, tags["app"] && tags["Name"])

	spot := fleetArgs()
	spot.OnDemandBase, spot.SpotPercent = 1, 50
	g = offlinetest.One(t, runFleet(t, spot, nil), groupType)
	assert.Equal(t, 50.0, offlinetest.Num(t, g, dist+"onDemandPercentageAboveBaseCapacity"))
	assert.Equal(t, "price-capacity-optimized", offlinetest.Str(t, g, dist+"spotAllocationStrategy"))
	assert.True(t, offlinetest.Bool(t, g, "capacityRebalance"), "Spot hosts at risk are replaced before they go")

	half := fleetArgs()
	half.MinHealthyPercent = 50
	g = offlinetest.One(t, runFleet(t, half, nil), groupType)
	assert.Equal(t, 150.0, offlinetest.Num(t, g, "instanceMaintenancePolicy.maxHealthyPercentage"),
		"Auto Scaling refuses a maximum more than 100 above the minimum")
}

func TestAnExistingGroupIsDeclaredWithTheVersionItRuns(t *testing.T) {
	first := runFleet(t, fleetArgs(), nil)
	templateID := offlinetest.One(t, first, templateType).ID
	spec := "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version"

	res := runFleet(t, fleetArgs(), map[string]offline.Group{
		"appstack-test-app": {TemplateID: templateID, Version: "7"}})
	assert.Equal(t, "7", offlinetest.Str(t, offlinetest.One(t, res, groupType), spec),
		"Pulumi never moves the group's version: the rollout does, and can roll back")

	other := runFleet(t, fleetArgs(), map[string]offline.Group{
		"appstack-test-app": {TemplateID: "lt-0ffffffffffffffff", Version: "7"}})
	g := offlinetest.One(t, other, groupType)
	assert.Equal(t, "7", offlinetest.Str(t, g, spec))
	assert.Equal(t, "lt-0ffffffffffffffff", offlinetest.Str(t, g,
		"mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.launchTemplateId"),
		"a group on another template stays on it too: only the rollout moves it, and can roll back")
}

func TestTheFleetScalesOnCPUOrRequestsPerHost(t *testing.T) {
	p := offlinetest.One(t, runFleet(t, fleetArgs(), nil), scalingType)
	assert.Equal(t, "TargetTrackingScaling", offlinetest.Str(t, p, "policyType"))
	assert.Equal(t, "ASGAverageCPUUtilization",
		offlinetest.Str(t, p, "targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType"))
	assert.Equal(t, 60.0, offlinetest.Num(t, p, "targetTrackingConfiguration.targetValue"))
	assert.Equal(t, "appstack-test-app", offlinetest.Str(t, p, "autoscalingGroupName"))

	requests := fleetArgs()
	requests.ScalingMetric, requests.ScalingTarget = fleet.Requests, 1000
	requests.RequestsLabel = pulumi.String("app/door/0123/targetgroup/web/4567")
	p = offlinetest.One(t, runFleet(t, requests, nil), scalingType)
	assert.Equal(t, "ALBRequestCountPerTarget",
		offlinetest.Str(t, p, "targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType"))
	assert.Equal(t, "app/door/0123/targetgroup/web/4567",
		offlinetest.Str(t, p, "targetTrackingConfiguration.predefinedMetricSpecification.resourceLabel"))
}

func TestTheFleetsAlarmsAndNotificationsReachTheTopic(t *testing.T) {
	quiet := runFleet(t, fleetArgs(), nil)
	assert.Empty(t, quiet.OfType(notificationType), "no topic, no notification")

	args := fleetArgs()
	args.AlarmTopicArn = pulumi.String("arn:aws:sns:ap-southeast-1:123456789012:alarms")
	res := runFleet(t, args, nil)
	n := offlinetest.One(t, res, notificationType)
	assert.ElementsMatch(t, []any{"autoscaling:EC2_INSTANCE_LAUNCH_ERROR", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR"},
		offlinetest.Prop(t, n, "notifications").Mappable())
	alarm, ok := res.Named(alarmType, "f-capacity")
	require.True(t, ok)
	assert.Equal(t, "GroupInServiceInstances", offlinetest.Str(t, alarm, "metricName"))
	assert.Equal(t, 2.0, offlinetest.Num(t, alarm, "threshold"), "fewer hosts in service than the minimum")
	assert.Equal(t, "missing", offlinetest.Str(t, alarm, "treatMissingData"),
		"a new group has no data yet: the alarm waits for it instead of firing on every new stack")
	assert.Equal(t, []any{"arn:aws:sns:ap-southeast-1:123456789012:alarms"},
		offlinetest.Prop(t, alarm, "alarmActions").Mappable())
}

func TestABadFleetIsRefusedNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*fleet.Args)
		want   string
	}{
		{"one subnet", func(a *fleet.Args) { a.SubnetIDs = a.SubnetIDs[:1] }, "two or more Availability Zones"},
		{"desired above max", func(a *fleet.Args) { a.Desired = 5 }, "Desired (5) <= Max (4)"},
		{"requests without a label", func(a *fleet.Args) { a.ScalingMetric = fleet.Requests },
			"RequestsLabel is required"},
		{"no instance type", func(a *fleet.Args) { a.InstanceTypes = nil }, "InstanceTypes: want 1 to 20"},
		{"no group name", func(a *fleet.Args) { a.GroupName = "" }, "GroupName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := fleetArgs()
			tc.change(args)
			_, err := offline.Run(program(fleet.New, "f", args), offline.Options{Stack: "test",
				Config: map[string]string{"aws:region": offlinetest.Region}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Auto Scaling's ELB health check counts every target group attached to the group: a running fleet may drop a
// removed service's group, but a new group would check the serving hosts for a service, port or path their version
// does not serve and replace them. The refusal names its cause, before anything is registered.
func TestARunningFleetDropsARemovedServiceAndNamesWhyItRefusesANewGroup(t *testing.T) {
	arn := func(name string) string {
		return "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/" + name + "/0123456789abcdef"
	}
	args := fleetArgs()
	args.TargetGroupArns = pulumi.StringArray{pulumi.String(arn("test-web-aaaaaaaaaa")),
		pulumi.String(arn("test-api-bbbbbbbbbb"))}
	args.TargetGroupNames = []string{"test-web-aaaaaaaaaa", "test-api-bbbbbbbbbb"}
	args.TargetGroupServices = []string{"web", "api"}
	running := func(names ...string) map[string]offline.Group {
		var arns []string
		for _, n := range names {
			arns = append(arns, arn(n))
		}
		return map[string]offline.Group{"appstack-test-app": {TemplateID: "lt-0running", Version: "3",
			TargetGroupArns: arns}}
	}
	run := func(groups map[string]offline.Group) (*offline.Result, error) {
		return offline.Run(program(fleet.New, "f", args), offline.Options{Stack: "test",
			Config: map[string]string{"aws:region": offlinetest.Region}, Groups: groups})
	}

	t.Run("the same target groups deploy", func(t *testing.T) {
		_, err := run(running("test-web-aaaaaaaaaa", "test-api-bbbbbbbbbb"))
		require.NoError(t, err)
	})
	t.Run("a removed service's group is detached", func(t *testing.T) {
		res, err := run(running("test-web-aaaaaaaaaa", "test-admin-cccccccccc", "test-api-bbbbbbbbbb"))
		require.NoError(t, err)
		g := offlinetest.One(t, res, groupType)
		assert.Equal(t, arn("test-web-aaaaaaaaaa"), offlinetest.Str(t, g, "targetGroupArns[0]"))
		assert.Equal(t, arn("test-api-bbbbbbbbbb"), offlinetest.Str(t, g, "targetGroupArns[1]"))
	})
	t.Run("an added service is refused, named", func(t *testing.T) {
		res, err := run(running("test-web-aaaaaaaaaa"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `service "api" is added`)
		assert.NotContains(t, err.Error(), "port", "no port changed")
		assert.Contains(t, err.Error(), "appstack:hosting: single")
		assert.Empty(t, res.OfType(groupType), "refused before anything is registered")
	})
	t.Run("a replaced group is refused, naming the port and the ready path", func(t *testing.T) {
		_, err := run(running("test-web-aaaaaaaaaa", "test-api-dddddddddd"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `service "api"'s target group would be replaced, test-api-dddddddddd by `+
			`test-api-bbbbbbbbbb`)
		assert.Contains(t, err.Error(), "appstack:services[].port or appstack:services[].readyPath changed")
		assert.NotContains(t, err.Error(), "is added")
	})
}
