package offline

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The fleet's data source and computed fields: the Auto Scaling group the deploy reads before it declares it,
// and what AWS fills in for launch templates, groups and scaling policies.

// fleetCall answers aws:autoscaling/getGroup. The mocks hold no groups, so every group is new: the provider's data
// source reports a group DescribeAutoScalingGroups does not return as an empty result (terraform-provider-aws
// internal/service/autoscaling/group_data_source.go, findGroupByName and tfresource.NewEmptyResultError).
func (m *Mocks) fleetCall(args pulumi.MockCallArgs) (resource.PropertyMap, bool, error) {
	if args.Token != "aws:autoscaling/getGroup:getGroup" {
		return nil, false, nil
	}
	name := ""
	if v, ok := args.Args["name"]; ok && v.IsString() {
		name = v.StringValue()
	}
	return nil, true, fmt.Errorf("reading Auto Scaling Group (%s): empty result", name)
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
