package offline

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The fleet's data source and computed fields: the Auto Scaling group the deploy reads before it declares it,
// and what AWS fills in for launch templates, groups and scaling policies.

// Group is an Auto Scaling group that exists: the launch template and numbered version it launches.
type Group struct {
	TemplateID, Version string
	// TargetGroupArns are the target groups the group registers its hosts in.
	TargetGroupArns []string
}

// fleetCall answers aws:autoscaling/getGroup from Groups. The provider's data source reports a group that
// DescribeAutoScalingGroups does not return as an empty result (terraform-provider-aws
// internal/service/autoscaling/group_data_source.go, findGroupByName and tfresource.NewEmptyResultError).
func (m *Mocks) fleetCall(args pulumi.MockCallArgs) (resource.PropertyMap, bool, error) {
	if args.Token != "aws:autoscaling/getGroup:getGroup" {
		return nil, false, nil
	}
	name := ""
	if v, ok := args.Args["name"]; ok && v.IsString() {
		name = v.StringValue()
	}
	g, ok := m.Groups[name]
	if !ok {
		return nil, true, fmt.Errorf("reading Auto Scaling Group (%s): empty result", name)
	}
	targets := []any{}
	for _, arn := range g.TargetGroupArns {
		targets = append(targets, arn)
	}
	return resource.NewPropertyMapFromMap(map[string]any{
		"name": name, "id": name, "targetGroupArns": targets,
		"mixedInstancesPolicies": []any{map[string]any{"launchTemplates": []any{map[string]any{
			"launchTemplateSpecifications": []any{map[string]any{
				"launchTemplateId": g.TemplateID, "version": g.Version}},
		}}}},
	}), true, nil
}

// fleetOutputs fills the computed fields of the fleet's resources and returns their id, or "" for a type it
// does not know.
func (m *Mocks) fleetOutputs(typ, name, h string, out resource.PropertyMap) string {
	set, str, arn := state(out).set, state(out).str, m.arn
	switch typ {
	case "aws:ec2/launchTemplate:LaunchTemplate":
		id := "lt-0" + h[:16]
		set("arn", arn("ec2", "launch-template/"+id))
		// A new template's first version; the mocks see every run as a first deploy.
		set("latestVersion", 1.0)
		set("defaultVersion", 1.0)
		if str("name") == "" {
			set("name", name+"-"+h[:7])
		}
		return id
	case "aws:autoscaling/group:Group":
		group := str("name")
		set("arn", arn("autoscaling", "autoScalingGroup:"+h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+
			h[20:32]+":autoScalingGroupName/"+group))
		return group
	case "aws:autoscaling/policy:Policy":
		set("arn", arn("autoscaling", "scalingPolicy:"+h[:8]+":autoScalingGroupName/"+str("autoscalingGroupName")+
			":policyName/"+name))
		if str("name") == "" {
			set("name", name)
		}
		return name
	case "aws:autoscaling/notification:Notification":
		return strings.TrimPrefix(str("topicArn"), "arn:")
	}
	return ""
}
