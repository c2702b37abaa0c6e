package offline

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"appstack/policy"
)

// keyProperties are the inputs the tree shows for each resource type: the ones a reviewer checks.
var keyProperties = map[string][]string{
	"aws:ec2/instance:Instance": {"instanceType", "metadataOptions.httpTokens",
		"metadataOptions.httpPutResponseHopLimit", "rootBlockDevice.volumeType", "rootBlockDevice.volumeSize",
		"rootBlockDevice.encrypted", "monitoring", "userDataReplaceOnChange", "userData", "userDataBase64"},
	"aws:ec2/securityGroup:SecurityGroup": {"description"},
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {"ipProtocol", "fromPort", "toPort", "cidrIpv4",
		"cidrIpv6"},
	"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {"ipProtocol", "fromPort", "toPort", "cidrIpv4"},
	"aws:ecr/repository:Repository": {"imageTagMutability", "imageScanningConfiguration.scanOnPush",
		"encryptionConfigurations[0].encryptionType", "forceDelete"},
	"aws:dynamodb/table:Table": {"billingMode", "hashKey", "rangeKey", "pointInTimeRecovery.enabled",
		"serverSideEncryption.enabled", "deletionProtectionEnabled", "ttl.attributeName"},
	"aws:kms/key:Key":                                   {"enableKeyRotation", "deletionWindowInDays"},
	"aws:ssm/parameter:Parameter":                       {"name", "type", "value"},
	"aws:cloudwatch/logGroup:LogGroup":                  {"retentionInDays"},
	"aws:iam/rolePolicy:RolePolicy":                     {"policy"},
	"aws:iam/role:Role":                                 {"assumeRolePolicy"},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {"policyArn"},
	"docker:index/image:Image":                          {"imageName", "build.platform"},
	"aws:ec2/eip:Eip":                                   {"domain"},
	"aws:ec2/eipAssociation:EipAssociation":             {"allowReassociation"},
	"aws:cloudwatch/metricAlarm:MetricAlarm":            {"metricName", "alarmActions[0]"},
	"aws:sns/topic:Topic":                               {"kmsMasterKeyId"},
	"aws:sns/topicSubscription:TopicSubscription":       {"protocol"},
	"aws:ec2/launchTemplate:LaunchTemplate": {"metadataOptions.httpTokens", "metadataOptions.httpPutResponseHopLimit",
		"blockDeviceMappings[0].ebs.volumeType", "blockDeviceMappings[0].ebs.volumeSize",
		"blockDeviceMappings[0].ebs.encrypted", "networkInterfaces[0].associatePublicIpAddress"},
	"aws:autoscaling/group:Group": {"minSize", "maxSize", "desiredCapacity", "healthCheckType",
		"healthCheckGracePeriod", "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version",
		"mixedInstancesPolicy.instancesDistribution.onDemandBaseCapacity",
		"mixedInstancesPolicy.instancesDistribution.onDemandPercentageAboveBaseCapacity",
		"instanceMaintenancePolicy.minHealthyPercentage", "instanceMaintenancePolicy.maxHealthyPercentage"},
	"aws:autoscaling/policy:Policy": {"policyType",
		"targetTrackingConfiguration.predefinedMetricSpecification.predefinedMetricType",
		"targetTrackingConfiguration.targetValue"},
	"aws:autoscaling/notification:Notification": {"notifications"},
}

// WriteTree prints every resource as a tree under its parent: type, name, key properties and options.
func (r *Result) WriteTree(w io.Writer) error {
	children := map[string][]Resource{}
	for _, res := range r.Resources {
		children[res.Parent] = append(children[res.Parent], res)
	}
	for _, list := range children {
		slices.SortFunc(list, func(a, b Resource) int {
			// Components first, then by type and name, so the order never depends on registration timing.
			if a.Custom != b.Custom {
				if !a.Custom {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Type+" "+a.Name, b.Type+" "+b.Name)
		})
	}
	var roots []string
	for parent := range children {
		if !r.known(parent) {
			roots = append(roots, parent)
		}
	}
	slices.Sort(roots)
	tw := &treeWriter{w: w, children: children}
	for _, root := range roots {
		name := "stack"
		if root != "" {
			name = resource.URN(root).Name()
		}
		tw.printf("%s (pulumi:pulumi:Stack)\n", name)
		tw.walk(root, "")
	}
	return tw.err
}

func (r *Result) known(urn string) bool {
	for _, res := range r.Resources {
		if res.URN == urn {
			return true
		}
	}
	return false
}

type treeWriter struct {
	w        io.Writer
	children map[string][]Resource
	err      error
}

func (t *treeWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *treeWriter) walk(parent, indent string) {
	list := t.children[parent]
	for i, res := range list {
		branch, next := "├─ ", "│  "
		if i == len(list)-1 {
			branch, next = "└─ ", "   "
		}
		t.printf("%s%s%s (%s)%s\n", indent, branch, res.Name, res.Type, describe(res))
		t.walk(res.URN, indent+next)
	}
}

// describe renders a resource's key properties and options on one line.
func describe(res Resource) string {
	var parts []string
	for _, path := range keyProperties[res.Type] {
		if v, ok := Lookup(res.Inputs, path); ok {
			parts = append(parts, path+"="+summarize(res.Type, path, v))
		}
	}
	if res.Import != "" {
		parts = append(parts, "[import "+res.Import+"]")
	}
	if res.Protect {
		parts = append(parts, "[protect]")
	}
	if res.RetainOnDelete {
		parts = append(parts, "[retainOnDelete]")
	}
	if len(res.IgnoreChanges) > 0 {
		parts = append(parts, "[ignoreChanges: "+strings.Join(res.IgnoreChanges, ",")+"]")
	}
	if len(parts) == 0 {
		return ""
	}
	return "  " + strings.Join(parts, " ")
}

// summarize shortens a property for one line: secrets hidden, scripts and policies reduced to what matters.
func summarize(typ, path string, v resource.PropertyValue) string {
	if v.IsSecret() {
		return "[secret]"
	}
	switch {
	case path == "userData" && v.IsString():
		return fmt.Sprintf("<boot script, %d bytes>", len(v.StringValue()))
	case path == "userDataBase64" && v.IsString():
		return fmt.Sprintf("<gzipped boot script, %d bytes of base64>", len(v.StringValue()))
	case (path == "policy" || path == "assumeRolePolicy") && v.IsString():
		return policySummary(v.StringValue())
	case v.IsString():
		s := v.StringValue()
		if strings.ContainsAny(s, " \t\n\"") {
			return strconv.Quote(s)
		}
		return s
	case v.IsNumber():
		return strconv.FormatFloat(v.NumberValue(), 'f', -1, 64)
	case v.IsBool():
		return strconv.FormatBool(v.BoolValue())
	case v.IsComputed() || v.IsOutput():
		return "<computed>"
	}
	return v.String()
}

// Lookup finds a property by a path such as "rootBlockDevice.encrypted" or "rules[0].port" (policy.Lookup, the
// rules' own reading).
func Lookup(pm resource.PropertyMap, path string) (resource.PropertyValue, bool) {
	return policy.Lookup(pm, path)
}
