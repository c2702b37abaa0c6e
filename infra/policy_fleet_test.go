package infra_test

import (
	"encoding/base64"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/policy"
	"appstack/stacks"
)

// The fleet's rules break the program's own fleet (components/fleet: the launch template, the Auto Scaling
// group, its scaling policy) behind the documented example stack's front door, in private subnets, one property
// each. The notification rule needs an alarm topic: it breaks a fleet built here as the fleet design declares
// it, added to the example stack with an alarm e-mail.
func init() {
	lt, group, tg, note := policy.LaunchTemplate, policy.AutoScalingGroup, policy.TargetGroup, policy.ScalingNotification
	const mixedSpec = "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification"
	fleetConfig := map[string]string{}
	for k, v := range withSecret {
		if k != "appstack:alarmEmail" {
			fleetConfig[k] = v
		}
	}
	for k, v := range privateFleet {
		fleetConfig[k] = v
	}
	fleetFixture := func(rule, typ string, breakIt func(r *policy.Resource)) fixture {
		if typ == note {
			return fixture{rule: rule, stack: "example", fleet: true, typ: typ, breakIt: breakIt}
		}
		return fixture{rule: rule, stack: "example", changes: fleetConfig, typ: typ, breakIt: breakIt}
	}
	fixtures = append(fixtures,
		fleetFixture("APPSTACK-ASG-001", lt, setInput("metadataOptions.httpTokens", "optional")),
		fleetFixture("APPSTACK-ASG-001", lt, setInput("metadataOptions.httpPutResponseHopLimit", 2)),
		fleetFixture("APPSTACK-ASG-001", lt, setInput("metadataOptions.httpEndpoint", "disabled")),
		fleetFixture("APPSTACK-ASG-001", lt, deleteInput("metadataOptions")),
		fleetFixture("APPSTACK-ASG-002", lt, setInput("blockDeviceMappings[0].ebs.encrypted", "false")),
		fleetFixture("APPSTACK-ASG-002", lt, deleteInput("blockDeviceMappings")),
		fleetFixture("APPSTACK-ASG-002", lt, setInput("blockDeviceMappings", []any{rootDevice(),
			map[string]any{"deviceName": "/dev/xvdb", "ebs": map[string]any{"volumeSize": 10}}})),
		fleetFixture("APPSTACK-ASG-003", lt, setInput("networkInterfaces[0].associatePublicIpAddress", "true")),
		fleetFixture("APPSTACK-ASG-003", lt, setInput("networkInterfaces", []any{map[string]any{"deviceIndex": 0}})),
		fleetFixture("APPSTACK-ASG-003", lt, deleteInput("networkInterfaces")),
		fleetFixture("APPSTACK-ASG-004", group, setInput("healthCheckType", "EC2")),
		fleetFixture("APPSTACK-ASG-004", group, setInput("healthCheckGracePeriod", 0)),
		fleetFixture("APPSTACK-ASG-005", group, setInput("vpcZoneIdentifiers", []any{"subnet-0a"})),
		fleetFixture("APPSTACK-ASG-006", group, setInput("minSize", 1)),
		fleetFixture("APPSTACK-ASG-007", group, setInput(mixedSpec+".version", "$Latest")),
		fleetFixture("APPSTACK-ASG-007", group, setInput(mixedSpec+".version", "$Default")),
		fleetFixture("APPSTACK-ASG-007", group, func(r *policy.Resource) {
			r.Inputs = set(r.Inputs, []string{"mixedInstancesPolicy", "launchTemplate", "launchTemplateSpecification"},
				map[string]any{"launchTemplateId": "lt-0fleet"})
		}),
		fleetFixture("APPSTACK-ASG-007", group, func(r *policy.Resource) {
			deleteInput("mixedInstancesPolicy")(r)
			setInput("launchTemplate", map[string]any{"id": "lt-0fleet", "version": "$Latest"})(r)
		}),
		fleetFixture("APPSTACK-ASG-007", group, func(r *policy.Resource) {
			deleteInput("mixedInstancesPolicy")(r)
			setInput("launchConfiguration", "fleet-config")(r)
		}),
		fleetFixture("APPSTACK-ASG-007", lt,
			setInput("imageId", "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")),
		fleetFixture("APPSTACK-ASG-008", group, setInput("instanceRefresh", map[string]any{"strategy": "Rolling",
			"preferences": map[string]any{"autoRollback": true, "minHealthyPercentage": 100}})),
		fleetFixture("APPSTACK-ASG-009", group, setInput("tags", groupTagList("example", false))),
		fleetFixture("APPSTACK-ASG-009", group, setInput("tags[4].propagateAtLaunch", false)),
		fleetFixture("APPSTACK-ASG-009", lt, setInput("tagSpecifications", []any{
			map[string]any{"resourceType": "instance", "tags": stackTags("example")}})),
		fleetFixture("APPSTACK-ASG-009", lt, setInput("tagSpecifications[0].tags.stack", "")),
		fleetFixture("APPSTACK-ASG-010", tg, setInput("deregistrationDelay", 0)),
		fleetFixture("APPSTACK-ASG-010", tg, func(r *policy.Resource) {
			r.Inputs = r.Inputs.Copy()
			hc := r.Inputs["healthCheck"].ObjectValue().Copy()
			delete(hc, "path")
			r.Inputs["healthCheck"] = resource.NewProperty(hc)
		}),
		fleetFixture("APPSTACK-ASG-012", group, setInput("instanceMaintenancePolicy.minHealthyPercentage", 90)),
		fleetFixture("APPSTACK-ASG-012", group, setInput("instanceMaintenancePolicy.maxHealthyPercentage", 100)),
		fleetFixture("APPSTACK-ASG-012", group, deleteInput("instanceMaintenancePolicy")),
		fleetFixture("APPSTACK-ASG-011", note, setInput("notifications", []any{"autoscaling:EC2_INSTANCE_LAUNCH"})),
		fleetFixture("APPSTACK-ASG-011", note, setInput("notifications", []any{"autoscaling:EC2_INSTANCE_LAUNCH_ERROR"})),
		fleetFixture("APPSTACK-ASG-011", note, setInput("groupNames", []any{"another-group"})),
		fleetFixture("APPSTACK-ASG-011", note, deleteInput("topicArn")),
		fleetFixture("APPSTACK-TAG-001", group, setInput("tags", groupTagList("example", true)[1:])),
		fleetFixture("APPSTACK-TAG-001", lt, deleteInput("tags")),
		fleetFixture("APPSTACK-EC2-004", lt, setInput("userData", base64.StdEncoding.EncodeToString(
			[]byte("#!/bin/bash\nexport AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n")))),
		fleetFixture("APPSTACK-EC2-004", lt, setInput("userData", gzipBase64("#!/bin/bash\necho canary-secret-value\n"))),
		fleetFixture("APPSTACK-SEC-001", group, setInput("tags[0].value", "canary-secret-value")),
	)
}

// fleetGroupName is the group's fixed physical name, <project>-<stack>-<app>.
const fleetGroupName = "appstack-example-app"

func stackTags(stack string) map[string]any {
	env := "production"
	if stack != "example" && stack != "production" {
		env = stack
	}
	return map[string]any{"app": "app", "environment": env, "stack": stack, "managed-by": "appstack"}
}

// groupTagList is an Auto Scaling group's tags: a list of {key, value, propagateAtLaunch}.
func groupTagList(stack string, propagate bool) []any {
	t := stackTags(stack)
	var out []any
	for _, k := range []string{"app", "environment", "stack", "managed-by"} {
		out = append(out, map[string]any{"key": k, "value": t[k], "propagateAtLaunch": propagate})
	}
	return out
}

func rootDevice() map[string]any {
	return map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{"volumeType": "gp3", "volumeSize": 20,
		"encrypted": "true", "deleteOnTermination": "true"}}
}

// fleet is a passing fleet as the fleet design declares it, in the given stack, registering its hosts with the
// target groups of resources. Its hosts are in private subnets that a NAT gateway serves.
func fleet(resources []policy.Resource, stack string) []policy.Resource {
	var targetGroups []any
	for _, r := range resources {
		if r.Type == policy.TargetGroup {
			targetGroups = append(targetGroups, r.Outputs["arn"].StringValue())
		}
	}
	t := stackTags(stack)
	mk := func(typ, name string, inputs map[string]any) policy.Resource {
		return policy.Resource{Type: typ, Name: name,
			URN:    "urn:pulumi:" + stack + "::appstack::appstack:components:Fleet$" + typ + "::" + name,
			Inputs: resource.NewPropertyMapFromMap(inputs)}
	}
	return []policy.Resource{
		mk(policy.LaunchTemplate, "app-fleet-template", map[string]any{
			"imageId":            "ami-0123456789abcdef0",
			"userData":           base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\necho boot\n")),
			"iamInstanceProfile": map[string]any{"name": "app-identity-profile"},
			"metadataOptions": map[string]any{"httpEndpoint": "enabled", "httpTokens": "required",
				"httpPutResponseHopLimit": 1},
			"blockDeviceMappings": []any{rootDevice()},
			"networkInterfaces": []any{map[string]any{"deviceIndex": 0, "associatePublicIpAddress": "false",
				"securityGroups": []any{"sg-0host"}}},
			"tagSpecifications": []any{map[string]any{"resourceType": "instance", "tags": t},
				map[string]any{"resourceType": "volume", "tags": t}},
			"updateDefaultVersion": true,
			"tags":                 t,
		}),
		mk(policy.AutoScalingGroup, "app-fleet-group", map[string]any{
			"name": fleetGroupName, "minSize": 2, "maxSize": 6, "desiredCapacity": 2,
			"vpcZoneIdentifiers":     []any{"subnet-0a", "subnet-0b"},
			"targetGroupArns":        targetGroups,
			"healthCheckType":        "ELB",
			"healthCheckGracePeriod": 600,
			"defaultInstanceWarmup":  60,
			"mixedInstancesPolicy": map[string]any{
				"launchTemplate": map[string]any{
					"launchTemplateSpecification": map[string]any{"launchTemplateId": "lt-0fleet", "version": "3"},
					"overrides": []any{map[string]any{"instanceType": "t3.small"},
						map[string]any{"instanceType": "t3a.small"}},
				},
				"instancesDistribution": map[string]any{"onDemandBaseCapacity": 2,
					"onDemandPercentageAboveBaseCapacity": 100, "spotAllocationStrategy": "price-capacity-optimized"},
			},
			"instanceMaintenancePolicy": map[string]any{"minHealthyPercentage": 100, "maxHealthyPercentage": 200},
			"enabledMetrics":            []any{"GroupInServiceInstances", "GroupDesiredCapacity"},
			"tags":                      groupTagList(stack, true),
		}),
		mk(policy.ScalingPolicy, "app-fleet-scaling", map[string]any{
			"autoscalingGroupName": fleetGroupName, "policyType": "TargetTrackingScaling",
			"targetTrackingConfiguration": map[string]any{"targetValue": 60,
				"predefinedMetricSpecification": map[string]any{"predefinedMetricType": "ASGAverageCPUUtilization"}},
		}),
		mk(policy.ScalingNotification, "app-fleet-notification", map[string]any{
			"groupNames": []any{fleetGroupName}, "topicArn": "arn:aws:sns:ap-southeast-1:123456789012:app-alarms",
			"notifications": []any{"autoscaling:EC2_INSTANCE_LAUNCH_ERROR", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR"},
		}),
	}
}

func fleetFindings(t *testing.T, changes map[string]string, edit func(fleet []policy.Resource)) (open,
	waived []policy.Finding) {
	t.Helper()
	resources, waivers := evaluate(t, "example", changes, "appstack:secrets")
	f := fleet(resources, "example")
	if edit != nil {
		edit(f)
	}
	return policy.Review(append(resources, f...), waivers)
}

func TestAFleetAsDesignedPassesEveryRule(t *testing.T) {
	t.Run("with an alarm topic and a secret", func(t *testing.T) {
		open, _ := fleetFindings(t, withSecret, nil)
		assert.Empty(t, open)
	})
	t.Run("without an alarm topic there is no notification to ask for", func(t *testing.T) {
		open, _ := fleetFindings(t, nil, func(f []policy.Resource) { f[3] = policy.Resource{} })
		assert.Empty(t, open)
	})
}

func TestFleetRulesFollowTheStacksEnvironment(t *testing.T) {
	resources, _ := evaluate(t, "staging", nil)
	f := fleet(resources, "staging")
	setInput("minSize", 1)(&f[1])
	setInput("vpcZoneIdentifiers", []any{"subnet-0a", "subnet-0b"})(&f[1])
	assert.Zero(t, count(policy.Evaluate(f), "APPSTACK-ASG-006"), "a staging fleet of one is allowed")
	setInput("tags", groupTagList("production", true))(&f[1])
	assert.Equal(t, 1, count(policy.Evaluate(f), "APPSTACK-ASG-006"), "a production fleet of one is not")
}

// A fleet in a default VPC without a NAT gateway gets public addresses; the stack accepts that only with a
// waiver that says why, as the single host does with APPSTACK-EC2-010.
func TestAFleetWithPublicAddressesNeedsAWaiver(t *testing.T) {
	resources, waivers := evaluate(t, "example", nil)
	f := fleet(resources, "example")
	setInput("networkInterfaces[0].associatePublicIpAddress", "true")(&f[0])
	all := append(resources, f...)

	open, _ := policy.Review(all, waivers)
	require.Len(t, open, 1)
	assert.Equal(t, "APPSTACK-ASG-003", open[0].Rule)
	assert.Equal(t, "app-fleet-template", open[0].Name)

	reason := "the default VPC has no NAT gateway; the hosts' ports admit only the front door"
	open, waived := policy.Review(all, append(waivers, stacks.Waiver{Rule: "APPSTACK-ASG-003", Reason: reason}))
	assert.Empty(t, open)
	require.Equal(t, 1, count(waived, "APPSTACK-ASG-003"))
	assert.Equal(t, reason, waived[0].Waiver, "the fleet's finding, waived with its reason")
	assert.Empty(t, policy.CheckWaivers([]stacks.Waiver{{Rule: "APPSTACK-ASG-003", Reason: reason}}))
}

// A first preview knows neither the template's latest version nor the target groups' ARNs nor the boot script
// (it names image digests): an unknown value is not a broken one.
func TestFleetRulesJudgeAPreviewsUnknownsAsSet(t *testing.T) {
	resources, waivers := evaluate(t, "example", nil)
	f := fleet(resources, "example")
	unknown := resource.MakeComputed(resource.NewProperty(""))
	setInput("mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version", unknown)(&f[1])
	setInput("targetGroupArns", unknown)(&f[1])
	setInput("userData", unknown)(&f[0])
	open, _ := policy.Review(append(resources, f...), waivers)
	assert.Empty(t, open)

	setInput("healthCheckType", "EC2")(&f[1])
	open, _ = policy.Review(append(resources, f...), waivers)
	require.Len(t, open, 1, "target groups not known yet still need ELB health checks")
	assert.Equal(t, "APPSTACK-ASG-004", open[0].Rule)

	// Whole inputs not known yet.
	f = fleet(resources, "example")
	for _, path := range []string{"blockDeviceMappings", "networkInterfaces", "tagSpecifications", "tags"} {
		setInput(path, unknown)(&f[0])
	}
	setInput("mixedInstancesPolicy", unknown)(&f[1])
	setInput("tags", unknown)(&f[1])
	open, _ = policy.Review(append(resources, f...), waivers)
	assert.Empty(t, open)
}

func TestFleetRulesThatDependOnTheRestOfTheStack(t *testing.T) {
	resources, _ := evaluate(t, "example", nil)
	t.Run("a group without target groups may use EC2 health checks", func(t *testing.T) {
		f := fleet(resources, "example")
		deleteInput("targetGroupArns")(&f[1])
		setInput("healthCheckType", "EC2")(&f[1])
		assert.Zero(t, count(policy.Evaluate(append(resources, f...)), "APPSTACK-ASG-004"))
	})
	t.Run("ELB may be one of several health check types", func(t *testing.T) {
		f := fleet(resources, "example")
		setInput("healthCheckType", "EC2, ELB,EBS")(&f[1])
		assert.Zero(t, count(policy.Evaluate(append(resources, f...)), "APPSTACK-ASG-004"))
		setInput("healthCheckType", "EC2,EBS")(&f[1])
		assert.Equal(t, 1, count(policy.Evaluate(append(resources, f...)), "APPSTACK-ASG-004"))
	})
	t.Run("a target group no group uses is not judged as a fleet's", func(t *testing.T) {
		tgs := 0
		for i := range resources {
			if resources[i].Type == policy.TargetGroup {
				setInput("deregistrationDelay", 0)(&resources[i])
				tgs++
			}
		}
		require.Positive(t, tgs)
		assert.Zero(t, count(policy.Evaluate(resources), "APPSTACK-ASG-010"))
		f := fleet(resources, "example")
		assert.Equal(t, tgs, count(policy.Evaluate(append(resources, f...)), "APPSTACK-ASG-010"))
	})
}

func TestGroupTagsAreAList(t *testing.T) {
	resources, _ := evaluate(t, "example", nil)
	f := fleet(resources, "example")
	// The map form is what every other resource takes; pulumi-aws's GroupArgs.Tags is []GroupTag.
	setInput("tags", stackTags("example"))(&f[1])
	findings := policy.Evaluate(f)
	assert.Equal(t, 1, count(findings, "APPSTACK-TAG-001"), "%v", findings)
	assert.Equal(t, 1, count(findings, "APPSTACK-ASG-009"), "%v", findings)
}

// privateFleet places the example stack's fleet in private subnets that a NAT gateway serves.
var privateFleet = map[string]string{
	"appstack:hosting":            "fleet",
	"appstack:vpcId":              "vpc-0123456789abcdef0",
	"appstack:subnetId":           "subnet-0123456789abcdef0",
	"appstack:frontDoorSubnetIds": `["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]`,
	"appstack:fleet":              `{"subnetIds":["subnet-0123456789abcdef3","subnet-0123456789abcdef4"]}`,
}

// The program's own fleet (components/fleet) passes the fleet's rules; in the default VPC its hosts need public
// addresses, which the stack must waive with its reason.
func TestTheProgramsFleetPassesTheFleetRules(t *testing.T) {
	t.Run("in private subnets", func(t *testing.T) {
		resources, waivers := evaluate(t, "example", privateFleet)
		require.Positive(t, indexOf(resources, policy.AutoScalingGroup)+1, "the program declares a fleet")
		open, _ := policy.Review(resources, waivers)
		assert.Empty(t, open)
	})
	t.Run("in the default VPC", func(t *testing.T) {
		resources, waivers := evaluate(t, "example", map[string]string{"appstack:hosting": "fleet"})
		open, _ := policy.Review(resources, waivers)
		require.Len(t, open, 1)
		assert.Equal(t, "APPSTACK-ASG-003", open[0].Rule)
		open, _ = policy.Review(resources, append(waivers, stacks.Waiver{Rule: "APPSTACK-ASG-003",
			Reason: "the default VPC has no NAT gateway; the hosts' ports admit only the front door"}))
		assert.Empty(t, open)
	})
	t.Run("with an alarm topic, its notification", func(t *testing.T) {
		changes := map[string]string{"appstack:alarmEmail": "ops@example.com"}
		for k, v := range privateFleet {
			changes[k] = v
		}
		resources, _ := evaluate(t, "example", changes)
		require.Positive(t, indexOf(resources, policy.ScalingNotification)+1)
		for _, f := range policy.Evaluate(resources) {
			assert.NotContains(t, f.Rule, "APPSTACK-ASG-", "%v", f)
		}
	})
}
