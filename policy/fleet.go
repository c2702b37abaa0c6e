package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"appstack/stacks"
)

// Resource type tokens of the fleet hosting mode (components/fleet).
const (
	LaunchTemplate      = "aws:ec2/launchTemplate:LaunchTemplate"
	AutoScalingGroup    = "aws:autoscaling/group:Group"
	ScalingPolicy       = "aws:autoscaling/policy:Policy"
	ScalingNotification = "aws:autoscaling/notification:Notification"
)

// The notification types a fleet's group must send to the stack's alarm topic: a host that cannot be launched
// or terminated (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_NotificationConfiguration.html).
const (
	launchErrorNotification    = "autoscaling:EC2_INSTANCE_LAUNCH_ERROR"
	terminateErrorNotification = "autoscaling:EC2_INSTANCE_TERMINATE_ERROR"
)

// providerGracePeriod is what terraform-provider-aws sends when healthCheckGracePeriod is not set
// (internal/service/autoscaling/group.go: "health_check_grace_period" Default 300).
const providerGracePeriod = 300

// rollbackNote is why a fleet's group must name a numbered template version whose image is an AMI id.
const rollbackNote = "an instance refresh can roll back only to a numbered launch template version whose " +
	"imageId is an AMI id: AutoRollback and RollbackInstanceRefresh are not supported with $Latest, $Default or " +
	"an SSM parameter (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_RefreshPreferences.html)"

// HostComponent is the type of components/host. Its launch template only tags the host's network interface at
// launch (the instance resource cannot); the instance's own arguments, which the APPSTACK-EC2 rules check,
// decide everything else it launches with, so the fleet's template rules do not apply to it.
const HostComponent = "appstack:components:Host"

// hostsInterfaceTemplate says whether r is a launch template of a single host: its parent is a Host component.
// The resource's URN names its parents' types (…$appstack:components:Host$aws:ec2/launchTemplate:…), and is
// what the policy pack reads: the engine's per-resource analysis may leave Parent empty.
func hostsInterfaceTemplate(r Resource) bool {
	return r.Type == LaunchTemplate &&
		(strings.Contains(r.Parent, HostComponent+"::") || strings.Contains(r.URN, "$"+HostComponent+"$"))
}

// numberedVersion is a launch template version number (versions count from 1).
var numberedVersion = regexp.MustCompile(`^[1-9][0-9]*$`)

// fleetRules are the rules of the fleet hosting mode: the launch template, the Auto Scaling group, and the target
// groups and notifications around it.
var fleetRules = []Rule{
	{ID: "APPSTACK-ASG-001", Mirrors: []string{"CKV_AWS_79", "CKV_AWS_341", "awsconfig:ec2-launch-template-imdsv2-check"},
		Severity: High, Title: "the launch template's hosts require IMDSv2 tokens, one hop, on an enabled endpoint",
		Types: []string{LaunchTemplate},
		Fix: "metadataOptions {httpEndpoint = enabled, httpTokens = required, httpPutResponseHopLimit = 1} " +
			"(components/fleet sets them; the boot needs the endpoint for the role's credentials)",
		Check: func(r Resource, _ *Stack) []string {
			if hostsInterfaceTemplate(r) {
				return nil
			}
			var out []string
			if t := str(r, "metadataOptions.httpTokens"); t != "required" {
				out = append(out, fmt.Sprintf("httpTokens is %q, not required", t))
			}
			if hops, ok := num(r, "metadataOptions.httpPutResponseHopLimit"); !ok || hops != 1 {
				out = append(out, fmt.Sprintf("hop limit is %v, not 1", hops))
			}
			// Unset, EC2 enables the endpoint; disabled, the host has no role credentials and never boots.
			if e := str(r, "metadataOptions.httpEndpoint"); e == "disabled" {
				out = append(out, "the metadata endpoint is disabled")
			}
			return out
		}},
	{ID: "APPSTACK-ASG-002", Mirrors: []string{"CKV_AWS_8", "AVD-AWS-0008"}, Severity: High,
		Title: "the launch template's volumes are encrypted", Types: []string{LaunchTemplate},
		Fix: "blockDeviceMappings[].ebs.encrypted = \"true\" for the root device and every other one (the " +
			"provider takes the string)",
		Check: func(r Resource, _ *Stack) []string {
			if hostsInterfaceTemplate(r) {
				return nil
			}
			devices := objects(r, "blockDeviceMappings")
			if unknown(r, "blockDeviceMappings") {
				return nil
			}
			if len(devices) == 0 {
				return []string{"no block device mapping: the root volume follows the AMI's snapshot, unencrypted " +
					"unless the account encrypts EBS by default"}
			}
			var out []string
			for i, d := range devices {
				if !truthy(d, "ebs.encrypted") {
					out = append(out, fmt.Sprintf("blockDeviceMappings[%d] (%s) is not encrypted", i, str(d, "deviceName")))
				}
			}
			return out
		}},
	{ID: stacks.FleetPublicIPRule,
		Mirrors:  []string{"CKV_AWS_88", "AVD-AWS-0009", "awsconfig:ec2-launch-template-public-ip-disabled"},
		Severity: Medium, Title: "the fleet's hosts get no public IP", Types: []string{LaunchTemplate},
		Fix: "networkInterfaces[0].associatePublicIpAddress = \"false\" with appstack:fleet.subnetIds in private " +
			"subnets that a NAT gateway or VPC endpoints serve; in a default VPC without NAT, waive the rule with " +
			"the reason",
		Check: func(r Resource, _ *Stack) []string {
			if hostsInterfaceTemplate(r) {
				return nil
			}
			nics := objects(r, "networkInterfaces")
			if unknown(r, "networkInterfaces") {
				return nil
			}
			if len(nics) == 0 {
				// EC2 assigns a public address by the subnet's MapPublicIpOnLaunch, which default subnets set.
				return []string{"no network interface says associatePublicIpAddress \"false\": the subnet decides, " +
					"and a default subnet assigns a public IP"}
			}
			var out []string
			for i, n := range nics {
				v := str(n, "associatePublicIpAddress")
				switch {
				case truthy(n, "associatePublicIpAddress"):
					out = append(out, fmt.Sprintf("networkInterfaces[%d] gets a public IP", i))
				case v != "false" && v != Unknown && !isFalse(n, "associatePublicIpAddress"):
					out = append(out, fmt.Sprintf("networkInterfaces[%d] leaves the public IP to the subnet", i))
				}
			}
			return out
		}},
	{ID: "APPSTACK-ASG-004", Mirrors: []string{"CKV2_AWS_15", "awsconfig:autoscaling-group-elb-healthcheck-required"},
		Severity: High, Title: "the group replaces a host its load balancer finds unhealthy",
		Types: []string{AutoScalingGroup},
		Fix: "healthCheckType = ELB when the group has targetGroupArns, and healthCheckGracePeriod > 0 " +
			"(components/fleet uses appstack:readyTimeout)",
		Check: func(r Resource, _ *Stack) []string {
			var out []string
			if hasTargetGroups(r) && !healthCheckTypes(r)["ELB"] {
				out = append(out, fmt.Sprintf("healthCheckType is %q: a host its target groups find unhealthy "+
					"stays in service", str(r, "healthCheckType")))
			}
			grace := float64(providerGracePeriod)
			if v, ok := input(r, "healthCheckGracePeriod"); ok && v.IsNumber() {
				grace = v.NumberValue()
			}
			if grace <= 0 {
				out = append(out, "healthCheckGracePeriod is 0: a booting host is judged before it can be ready")
			}
			return out
		}},
	{ID: "APPSTACK-ASG-005", Mirrors: []string{"awsconfig:autoscaling-multiple-az", "CT.AUTOSCALING.PR.1"},
		Severity: Medium, Title: "the group spans two or more subnets (Availability Zones)",
		Types: []string{AutoScalingGroup},
		Fix:   "appstack:fleet.subnetIds: two or more subnets in distinct Availability Zones",
		Check: func(r Resource, _ *Stack) []string {
			n, known := length(r, "vpcZoneIdentifiers")
			if _, ok := input(r, "vpcZoneIdentifiers"); !ok {
				n, known = length(r, "availabilityZones")
			}
			return when(known && n < 2, "the group spans %d subnet(s): one zone's outage takes the fleet down", n)
		}},
	{ID: "APPSTACK-ASG-006", Mirrors: []string{"appstack"}, Severity: Medium,
		Title: "a production group keeps two or more hosts", Types: []string{AutoScalingGroup},
		Fix: "appstack:fleet.min >= 2 in production",
		Check: func(r Resource, _ *Stack) []string {
			minSize, ok := num(r, "minSize")
			return when(environment(r) == productionEnv && ok && minSize < 2,
				"minSize is %v: a production fleet of one loses its capacity with its host", minSize)
		}},
	{ID: "APPSTACK-ASG-007", Mirrors: []string{"appstack", "aws:API_RefreshPreferences.AutoRollback"}, Severity: High,
		Title: "the group runs a numbered launch template version with an AMI id, so a refresh can roll back",
		Types: []string{AutoScalingGroup, LaunchTemplate},
		Fix: "the group's launch template version = the number it runs now (components/fleet reads it), and " +
			"imageId = an AMI id resolved at deploy time, never resolve:ssm:; " + rollbackNote,
		Check: func(r Resource, _ *Stack) []string {
			if r.Type == LaunchTemplate {
				image := str(r, "imageId")
				return when(strings.HasPrefix(image, "resolve:ssm:"), "imageId %q is an SSM parameter", image)
			}
			if _, ok := input(r, "launchConfiguration"); ok {
				return []string{"the group launches from a launch configuration, not a launch template"}
			}
			versions, found := templateVersions(r)
			if !found && !unknown(r, "launchTemplate") && !unknown(r, "mixedInstancesPolicy") {
				return []string{"the group names no launch template"}
			}
			var out []string
			for path, v := range versions {
				if v != Unknown && !numberedVersion.MatchString(v) {
					out = append(out, fmt.Sprintf("%s is %q, not a version number", path, v))
				}
			}
			slices.Sort(out)
			return out
		}},
	{ID: "APPSTACK-ASG-008", Mirrors: []string{"appstack", "terraform-provider-aws#34189"}, Severity: High,
		Title: "the group has no instanceRefresh block: appstack's rollout starts and watches the refresh",
		Types: []string{AutoScalingGroup},
		Fix: "remove instanceRefresh: the provider updates the group's launch template with " +
			"UpdateAutoScalingGroup before it starts the refresh, so its auto rollback returns to the new version " +
			"(hashicorp/terraform-provider-aws#34189), and it does not wait for the refresh; the rollout controller " +
			"(components/rollout) starts it with the new version as its desired configuration",
		Check: func(r Resource, _ *Stack) []string {
			_, ok := input(r, "instanceRefresh")
			return when(ok, "the group declares instanceRefresh")
		}},
	{ID: "APPSTACK-ASG-009", Severity: Medium,
		Mirrors: []string{"awsguard:required-tags", "kics:ba48df05-eaa1-4d64-905e-4a4b051e7587"},
		Title:   "the hosts and volumes a group launches carry the stack's tags from the launch",
		Types:   []string{AutoScalingGroup, LaunchTemplate},
		Fix: "group tags: every required tag with propagateAtLaunch = true; launch template tagSpecifications for " +
			"resourceType instance and volume with the stack's tags (what volumeTags is to a single host): the " +
			"stack's tag is how cost reports, clean-up and the CI roles' tag conditions find what it launched",
		Check: func(r Resource, _ *Stack) []string {
			if hostsInterfaceTemplate(r) {
				return nil
			}
			if unknown(r, "tags") || unknown(r, "tagSpecifications") {
				return nil
			}
			if r.Type == AutoScalingGroup {
				gt := groupTags(r)
				var missing []string
				for _, k := range RequiredTags {
					if t, ok := gt[k]; !ok || !t.propagate {
						missing = append(missing, k)
					}
				}
				return when(len(missing) > 0, "the tags %s are not propagated at launch", strings.Join(missing, ", "))
			}
			var out []string
			for _, kind := range []string{"instance", "volume"} {
				var missing []string
				spec, ok := tagSpecification(r, kind)
				for _, k := range RequiredTags {
					if !ok || str(spec, "tags."+k) == "" {
						missing = append(missing, k)
					}
				}
				if len(missing) > 0 {
					out = append(out, fmt.Sprintf("its %ss are launched without the tags %s (tagSpecifications)", kind,
						strings.Join(missing, ", ")))
				}
			}
			return out
		}},
	{ID: "APPSTACK-ASG-010", Mirrors: []string{"appstack", "aws:elb-deregistration-delay"}, Severity: Medium,
		Title: "a fleet's target groups drain a leaving host and check readiness on a stated path",
		Types: []string{TargetGroup, "aws:alb/targetGroup:TargetGroup"},
		Fix: "deregistrationDelay > 0 (a fleet: appstack:fleet.drainSeconds, default 300s) so a host leaving in a refresh or a scale-in " +
			"finishes its requests, and healthCheck.path = the service's readyPath",
		Check: func(r Resource, s *Stack) []string {
			if !s.fleetTargetGroup(r) {
				return nil
			}
			var out []string
			// Unset, ELB waits 300 s; 0 cuts in-flight requests and WebSockets at once (docs.aws.amazon.com/
			// elasticloadbalancing/latest/application/edit-target-group-attributes.html#deregistration-delay).
			if d, ok := num(r, "deregistrationDelay"); ok && d <= 0 {
				out = append(out, "deregistrationDelay is 0: a leaving host's requests are cut")
			}
			if str(r, "healthCheck.path") == "" {
				out = append(out, "no healthCheck.path: the load balancer checks / instead of the readiness path")
			}
			return out
		}},
	{ID: "APPSTACK-ASG-011", Mirrors: []string{"appstack"}, Severity: Low,
		Title: "with an alarm topic, the group reports hosts it cannot launch or terminate",
		Types: []string{AutoScalingGroup},
		Fix: "an aws:autoscaling/notification:Notification naming the group, with " + launchErrorNotification + " and " +
			terminateErrorNotification + ", to the alarm topic (components/fleet makes it when appstack:alarmEmail is set)",
		Check: func(r Resource, s *Stack) []string {
			if !s.has(Topic) {
				return nil
			}
			name := str(r, "name")
			for _, n := range s.Resources {
				if n.Type != ScalingNotification || str(n, "topicArn") == "" {
					continue
				}
				groups, _ := stringList(n, "groupNames")
				kinds, _ := stringList(n, "notifications")
				if (slices.Contains(groups, name) || slices.Contains(groups, Unknown)) &&
					slices.Contains(kinds, launchErrorNotification) && slices.Contains(kinds, terminateErrorNotification) {
					return nil
				}
			}
			return []string{"no notification sends its launch and terminate errors to the alarm topic"}
		}},
	{ID: "APPSTACK-ASG-012", Mirrors: []string{"aws:API_InstanceMaintenancePolicy", "aws:API_RefreshPreferences"},
		Severity: High, Title: "the group's healthy percentages are a pair Auto Scaling accepts, launching before terminating",
		Types: []string{AutoScalingGroup},
		Fix: "instanceMaintenancePolicy: minHealthyPercentage 0-100 and maxHealthyPercentage above 100 and at most 100 " +
			"points above it (components/fleet: min(200, min + 100))",
		Check: func(r Resource, _ *Stack) []string {
			lo, okLo := num(r, "instanceMaintenancePolicy.minHealthyPercentage")
			hi, okHi := num(r, "instanceMaintenancePolicy.maxHealthyPercentage")
			switch {
			case !okLo && !okHi:
				if _, set := input(r, "instanceMaintenancePolicy"); set {
					return nil // unknown in a preview
				}
				return []string{"no instance maintenance policy: a replacement of an unhealthy host terminates it " +
					"before its replacement is in service"}
			case okLo && okHi && hi-lo > 100:
				return []string{fmt.Sprintf("maxHealthyPercentage %v is more than 100 above minHealthyPercentage %v: "+
					"Auto Scaling refuses the pair", hi, lo)}
			case okHi && hi <= 100:
				return []string{fmt.Sprintf("maxHealthyPercentage %v: a replacement terminates a host before it "+
					"launches the next (want above 100)", hi)}
			}
			return nil
		}},
}

// objects are the objects of an array input, each readable with the path helpers.
func objects(r Resource, path string) []Resource {
	v, ok := input(r, path)
	if !ok || !v.IsArray() {
		return nil
	}
	var out []Resource
	for _, x := range v.ArrayValue() {
		if x.IsSecret() {
			x = x.SecretValue().Element
		}
		if x.IsObject() {
			out = append(out, Resource{Type: r.Type, Inputs: x.ObjectValue()})
		}
	}
	return out
}

// stringList are the values of an array input, an unknown element as Unknown; known is false when the whole array
// is not known yet.
func stringList(r Resource, path string) (out []string, known bool) {
	v, ok := input(r, path)
	if !ok {
		return nil, true
	}
	if !v.IsArray() {
		return nil, !isUnknown(v)
	}
	for _, x := range v.ArrayValue() {
		switch {
		case x.IsSecret() && x.SecretValue().Element.IsString():
			out = append(out, x.SecretValue().Element.StringValue())
		case x.IsString():
			out = append(out, x.StringValue())
		case computed(x):
			out = append(out, Unknown)
		}
	}
	return out, true
}

// length is the length of an array input; known is false when the array is not known yet.
func length(r Resource, path string) (int, bool) {
	v, ok := input(r, path)
	switch {
	case !ok:
		return 0, true
	case v.IsArray():
		return len(v.ArrayValue()), true
	}
	return 0, !isUnknown(v)
}

// unknown reports whether a whole input is not known yet (a preview's value wired from another resource).
func unknown(r Resource, path string) bool {
	v, ok := input(r, path)
	return ok && isUnknown(v)
}

// healthCheckTypes are a group's health check types: HealthCheckType is "a comma-separated value string of one
// or more health check types" (EC2, EBS, ELB, VPC_LATTICE; docs.aws.amazon.com/autoscaling/ec2/APIReference/
// API_UpdateAutoScalingGroup.html).
func healthCheckTypes(r Resource) map[string]bool {
	out := map[string]bool{}
	for _, t := range strings.Split(str(r, "healthCheckType"), ",") {
		out[strings.ToUpper(strings.TrimSpace(t))] = true
	}
	return out
}

// isUnknown reports whether input read v as a value a preview does not know yet.
func isUnknown(v resource.PropertyValue) bool { return v.IsString() && v.StringValue() == Unknown }

// truthy reads a boolean the provider may take as a string ("true"), as pulumi-aws does for a launch template's
// ebs.encrypted and associatePublicIpAddress.
func truthy(r Resource, path string) bool {
	return boolean(r, path) || str(r, path) == "true"
}

func isFalse(r Resource, path string) bool {
	v, ok := input(r, path)
	return ok && v.IsBool() && !v.BoolValue()
}

// hasTargetGroups reports whether a group registers its hosts with target groups (a value not known yet counts).
func hasTargetGroups(r Resource) bool {
	arns, known := stringList(r, "targetGroupArns")
	return !known || len(arns) > 0
}

// templateVersions are the launch template versions a group names, by input path: the launch template's, or
// the mixed instances policy's and its overrides'. found is false when the group names no launch template.
func templateVersions(r Resource) (versions map[string]string, found bool) {
	versions = map[string]string{}
	version := func(spec Resource, prefix string) {
		v, ok := input(spec, "version")
		switch {
		case !ok:
			versions[prefix+".version"] = "$Default" // the provider's default
		case v.IsNumber():
			versions[prefix+".version"] = fmt.Sprint(v.NumberValue())
		case v.IsString():
			versions[prefix+".version"] = v.StringValue()
		}
	}
	if lt, ok := input(r, "launchTemplate"); ok && lt.IsObject() {
		found = true
		version(Resource{Inputs: lt.ObjectValue()}, "launchTemplate")
	}
	const mixed = "mixedInstancesPolicy.launchTemplate"
	if spec, ok := input(r, mixed+".launchTemplateSpecification"); ok && spec.IsObject() {
		found = true
		version(Resource{Inputs: spec.ObjectValue()}, mixed+".launchTemplateSpecification")
	}
	for i, o := range objects(r, mixed+".overrides") {
		if spec, ok := input(o, "launchTemplateSpecification"); ok && spec.IsObject() {
			version(Resource{Inputs: spec.ObjectValue()},
				fmt.Sprintf("%s.overrides[%d].launchTemplateSpecification", mixed, i))
		}
	}
	return versions, found
}

// groupTag is one entry of an Auto Scaling group's tags, which pulumi-aws takes as a list of
// {key, value, propagateAtLaunch} rather than a map.
type groupTag struct {
	value     string
	propagate bool
}

func groupTags(r Resource) map[string]groupTag {
	out := map[string]groupTag{}
	for _, t := range objects(r, "tags") {
		if k := str(t, "key"); k != "" {
			out[k] = groupTag{value: str(t, "value"), propagate: truthy(t, "propagateAtLaunch")}
		}
	}
	return out
}

// tagValue is a resource's tag: from its tags map, or from an Auto Scaling group's list (the only form the
// provider takes for a group: pulumi-aws autoscaling.GroupArgs.Tags is a GroupTagArray).
func tagValue(r Resource, key string) string {
	if r.Type == AutoScalingGroup {
		return groupTags(r)[key].value
	}
	return str(r, "tags."+key)
}

// tagSpecification is a launch template's tag specification for one resource type.
func tagSpecification(r Resource, kind string) (Resource, bool) {
	for _, spec := range objects(r, "tagSpecifications") {
		if str(spec, "resourceType") == kind {
			return spec, true
		}
	}
	return Resource{}, false
}

// has reports whether the stack declares a resource of type typ.
func (s *Stack) has(typ string) bool {
	return slices.ContainsFunc(s.Resources, func(r Resource) bool { return r.Type == typ })
}

// fleetTargetGroup reports whether an Auto Scaling group of the stack registers its hosts with target group tg,
// matched by the ARN the group names.
func (s *Stack) fleetTargetGroup(tg Resource) bool {
	arn := tg.Outputs["arn"]
	if !arn.IsString() || arn.StringValue() == "" {
		return false
	}
	for _, g := range s.Resources {
		if g.Type != AutoScalingGroup {
			continue
		}
		if arns, _ := stringList(g, "targetGroupArns"); slices.Contains(arns, arn.StringValue()) {
			return true
		}
	}
	return false
}
