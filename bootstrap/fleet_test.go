package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fleet's grants: each deploy role runs its own stacks' Auto Scaling groups and launch templates only, on a
// numbered template version, and passes what Auto Scaling checks of it when a group launches from a template;
// each property fails when the statement or condition that makes it hold is taken away.
func TestDeployRolesRunOnlyTheirOwnFleets(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	group := func(name string) string {
		return a.arn("autoscaling", region, "autoScalingGroup:1b2c3d4e-0000-4000-8000-000000000001:autoScalingGroupName/"+name)
	}
	template := a.arn("ec2", region, "launch-template/lt-0123456789abcdef0")
	slr := a.arn("iam", "", "role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
	const (
		newTag   = "aws:RequestTag/stack"
		ownTag   = "aws:ResourceTag/stack"
		ownGroup = "autoscaling:ResourceTag/stack"
		version  = "autoscaling:LaunchTemplateVersionSpecified"
		targets  = "autoscaling:TargetGroupARNs"
	)
	targetGroup := func(name string) string {
		return a.arn("elasticloadbalancing", region, "targetgroup/"+name+"/0123456789abcdef")
	}
	reviewTG, productionTG := targetGroup("pr-7-web-0123456789"), targetGroup("production-web-0123456789")
	for _, p := range []property{
		// Groups.
		{name: "the staging role creates its group, tagged as its own, on a numbered template version", role: Staging,
			allowed: true,
			req: Request{Action: "autoscaling:CreateAutoScalingGroup", Resource: group("appstack-staging-app"),
				Context: ctx(newTag, "staging", ownGroup, "staging", version, "true")},
			breaks: withoutStatement("FleetGroupsCreateTagged")},
		{name: "the review role cannot create a group tagged as production's", role: Review,
			req: Request{Action: "autoscaling:CreateAutoScalingGroup", Resource: group("appstack-pr-7-app"),
				Context: ctx(newTag, "production", version, "true")},
			breaks: withoutCondition("FleetGroupsCreateTagged", "StringLike", newTag)},
		{name: "no deploy role creates a group without the stack tag", role: Production,
			req: Request{Action: "autoscaling:CreateAutoScalingGroup", Resource: group("appstack-production-app"),
				Context: ctx(version, "true")},
			breaks: withoutCondition("FleetGroupsCreateTagged", "StringLike", newTag)},
		{name: "no group is created to run the template's $Latest or $Default version", role: Staging,
			req: Request{Action: "autoscaling:CreateAutoScalingGroup", Resource: group("appstack-staging-app"),
				Context: ctx(newTag, "staging", version, "false")},
			breaks: withoutCondition("FleetGroupsCreateTagged", "BoolIfExists", version)},
		{name: "no group is created from a launch configuration", role: Staging,
			req: Request{Action: "autoscaling:CreateAutoScalingGroup", Resource: group("appstack-staging-app"),
				Context: ctx(newTag, "staging", "autoscaling:LaunchConfigurationName", "admin-hosts")},
			breaks: withoutCondition("FleetGroupsCreateTagged", "Null", "autoscaling:LaunchConfigurationName")},
		{name: "the production role updates its own group", role: Production, allowed: true,
			req: Request{Action: "autoscaling:UpdateAutoScalingGroup", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production")},
			breaks: withoutStatement("FleetGroupsUpdateOwn")},
		{name: "the staging role cannot update production's group", role: Staging,
			req: Request{Action: "autoscaling:UpdateAutoScalingGroup", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production")},
			breaks: withoutCondition("FleetGroupsUpdateOwn", "StringLike", ownGroup)},
		{name: "no group is moved to $Latest, whose new versions Auto Scaling would launch unchecked", role: Production,
			req: Request{Action: "autoscaling:UpdateAutoScalingGroup", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production", version, "false")},
			breaks: withoutCondition("FleetGroupsUpdateOwn", "BoolIfExists", version)},
		{name: "no group is moved to a launch configuration", role: Production,
			req: Request{Action: "autoscaling:UpdateAutoScalingGroup", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production", "autoscaling:LaunchConfigurationName", "admin-hosts")},
			breaks: withoutCondition("FleetGroupsUpdateOwn", "Null", "autoscaling:LaunchConfigurationName")},

		// Instance refreshes: the rollout controller's calls.
		{name: "the production role starts an instance refresh of its own group", role: Production, allowed: true,
			req: Request{Action: "autoscaling:StartInstanceRefresh", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production")},
			breaks: withoutStatement("FleetGroupsOwn")},
		{name: "the production role rolls back its own refresh", role: Production, allowed: true,
			req: Request{Action: "autoscaling:RollbackInstanceRefresh", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production")},
			breaks: withoutStatement("FleetGroupsOwn")},
		{name: "the review role cancels its own review stack's refresh", role: Review, allowed: true,
			req: Request{Action: "autoscaling:CancelInstanceRefresh", Resource: group("appstack-pr-7-app"),
				Context: ctx(ownGroup, "pr-7")},
			breaks: withoutStatement("FleetGroupsOwn")},
		{name: "the review role cannot start an instance refresh of staging's group", role: Review,
			req: Request{Action: "autoscaling:StartInstanceRefresh", Resource: group("appstack-staging-app"),
				Context: ctx(ownGroup, "staging")},
			breaks: withoutCondition("FleetGroupsOwn", "StringLike", ownGroup)},
		{name: "the staging role cannot roll back production's refresh", role: Staging,
			req: Request{Action: "autoscaling:RollbackInstanceRefresh", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production")},
			breaks: withoutCondition("FleetGroupsOwn", "StringLike", ownGroup)},

		// The rest of the group's life: scaling, notifications, target groups, metrics, tags, delete.
		{name: "the staging role sets its own group's target tracking policy", role: Staging, allowed: true,
			req: Request{Action: "autoscaling:PutScalingPolicy", Resource: group("appstack-staging-app"),
				Context: ctx(ownGroup, "staging")},
			breaks: withoutStatement("FleetGroupsOwn")},
		{name: "the review role cannot attach production's group to a target group", role: Review,
			req: Request{Action: "autoscaling:AttachLoadBalancerTargetGroups", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production", targets, reviewTG)},
			breaks: withoutCondition("FleetGroupsAttachOwnTargets", "StringLike", ownGroup)},
		// Auto Scaling registers hosts as its service-linked role: the target groups a request names are the only
		// check that a review stack's group never serves production's target groups.
		{name: "the review role cannot attach its own group to production's target group", role: Review,
			req: Request{Action: "autoscaling:AttachLoadBalancerTargetGroups", Resource: group("appstack-pr-7-app"),
				Context: ctx(ownGroup, "pr-7", targets, productionTG)},
			breaks: withoutCondition("FleetGroupsAttachOwnTargets", "ForAllValues:ArnLike", targets)},
		{name: "the review role attaches its own group to its own target groups", role: Review, allowed: true,
			req: Request{Action: "autoscaling:AttachLoadBalancerTargetGroups", Resource: group("appstack-pr-7-app"),
				Context: ctx(ownGroup, "pr-7", targets, reviewTG)},
			breaks: withoutStatement("FleetGroupsAttachOwnTargets")},
		{name: "nor create a group behind production's target group, among its own", role: Review,
			req: Request{Action: "autoscaling:CreateAutoScalingGroup", Resource: group("appstack-pr-7-app"),
				Context: ctx(newTag, "pr-7", version, "true", targets, reviewTG,
					targets, productionTG)},
			breaks: withoutCondition("FleetGroupsCreateTagged", "ForAllValues:ArnLike", targets)},
		// UpdateAutoScalingGroup names no target group (the Service Authorization Reference gives it no
		// autoscaling:TargetGroupARNs); a group is put behind one by AttachLoadBalancerTargetGroups, above, or as a
		// traffic source, which no deploy role may do.
		{name: "the staging role cannot move its group behind production's target group", role: Staging,
			req: Request{Action: "autoscaling:AttachTrafficSources", Resource: group("appstack-staging-app"),
				Context: ctx(ownGroup, "staging", "autoscaling:TrafficSourceIdentifiers", productionTG)},
			breaks: withStatement("with traffic sources among the group's own changes",
				allow("FleetTrafficSources", list("autoscaling:AttachTrafficSources"), list("*")))},
		{name: "the review role cannot delete staging's group", role: Review,
			req: Request{Action: "autoscaling:DeleteAutoScalingGroup", Resource: group("appstack-staging-app"),
				Context: ctx(ownGroup, "staging")},
			breaks: withoutCondition("FleetGroupsOwn", "StringLike", ownGroup)},
		{name: "the review role deletes its own review group", role: Review, allowed: true,
			req: Request{Action: "autoscaling:DeleteAutoScalingGroup", Resource: group("appstack-pr-7-app"),
				Context: ctx(ownGroup, "pr-7")},
			breaks: withoutStatement("FleetGroupsOwn")},
		{name: "the staging role points its own group's notifications at its alarm topic", role: Staging, allowed: true,
			req: Request{Action: "autoscaling:PutNotificationConfiguration", Resource: group("appstack-staging-app"),
				Context: ctx(ownGroup, "staging")},
			breaks: withoutStatement("FleetGroupsOwn")},
		{name: "the production role collects its own group's metrics", role: Production, allowed: true,
			req: Request{Action: "autoscaling:EnableMetricsCollection", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production")},
			breaks: withoutStatement("FleetGroupsOwn")},
		{name: "the review role cannot hand its group to production by a tag", role: Review,
			req: Request{Action: "autoscaling:CreateOrUpdateTags", Resource: group("appstack-pr-7-app"),
				Context: ctx(ownGroup, "pr-7", newTag, "production")},
			breaks: withoutCondition("FleetGroupsOwn", "StringLikeIfExists", newTag)},
		{name: "the review role cannot take production's group by tagging it", role: Review,
			req: Request{Action: "autoscaling:CreateOrUpdateTags", Resource: group("appstack-production-app"),
				Context: ctx(ownGroup, "production", newTag, "pr-7")},
			breaks: withoutCondition("FleetGroupsTag", "StringLikeIfExists", ownGroup)},
		{name: "the staging role changes its own group's other tags", role: Staging, allowed: true,
			req: Request{Action: "autoscaling:CreateOrUpdateTags", Resource: group("appstack-staging-app"),
				Context: ctx(ownGroup, "staging", "aws:RequestTag/Name", "app")},
			breaks: withoutStatement("FleetGroupsOwn")},

		// Launch templates.
		{name: "the staging role creates its launch template tagged as its own", role: Staging, allowed: true,
			req:    Request{Action: "ec2:CreateLaunchTemplate", Resource: template, Context: ctx(newTag, "staging")},
			breaks: withoutStatement("LaunchTemplatesCreateTagged")},
		{name: "no deploy role creates a launch template without the stack tag", role: Staging,
			req:    Request{Action: "ec2:CreateLaunchTemplate", Resource: template},
			breaks: withoutCondition("LaunchTemplatesCreateTagged", "StringLike", newTag)},
		{name: "the review role cannot create a launch template tagged as production's", role: Review,
			req:    Request{Action: "ec2:CreateLaunchTemplate", Resource: template, Context: ctx(newTag, "production")},
			breaks: withoutCondition("LaunchTemplatesCreateTagged", "StringLike", newTag)},
		{name: "the staging role tags its launch template as it creates it", role: Staging, allowed: true,
			req: Request{Action: "ec2:CreateTags", Resource: template,
				Context: ctx("ec2:CreateAction", "CreateLaunchTemplate", newTag, "staging")},
			breaks: withoutStatement("LaunchTemplatesTagOnCreate")},
		{name: "the review role cannot tag a new launch template as production's", role: Review,
			req: Request{Action: "ec2:CreateTags", Resource: template,
				Context: ctx("ec2:CreateAction", "CreateLaunchTemplate", newTag, "production")},
			breaks: withoutCondition("LaunchTemplatesTagOnCreate", "StringLike", newTag)},
		{name: "the staging role cannot take production's template by tagging it", role: Staging,
			req: Request{Action: "ec2:CreateTags", Resource: template,
				Context: ctx(ownTag, "production", newTag, "staging")},
			breaks: withoutCondition("LaunchTemplatesTagOnCreate", "StringEquals", "ec2:CreateAction")},
		{name: "the production role writes a new version of its own template and makes it the default", role: Production,
			allowed: true,
			req: Request{Action: "ec2:CreateLaunchTemplateVersion", Resource: template,
				Context: ctx(ownTag, "production")},
			breaks: withoutStatement("LaunchTemplatesOwn")},
		{name: "the review role cannot write a version of production's template", role: Review,
			req: Request{Action: "ec2:CreateLaunchTemplateVersion", Resource: template,
				Context: ctx(ownTag, "production")},
			breaks: withoutCondition("LaunchTemplatesOwn", "StringLike", ownTag)},
		{name: "the staging role cannot delete production's template", role: Staging,
			req:    Request{Action: "ec2:DeleteLaunchTemplate", Resource: template, Context: ctx(ownTag, "production")},
			breaks: withoutCondition("LaunchTemplatesOwn", "StringLike", ownTag)},
		{name: "the review role cannot hand its template to production by a tag", role: Review,
			req: Request{Action: "ec2:CreateTags", Resource: template,
				Context: ctx(ownTag, "pr-7", newTag, "production")},
			breaks: withoutCondition("LaunchTemplatesOwn", "StringLikeIfExists", newTag)},

		// What Auto Scaling checks of the caller when a group launches from a template.
		{name: "the staging role passes the RunInstances check on its own template", role: Staging, allowed: true,
			req:    Request{Action: "ec2:RunInstances", Resource: template, Context: ctx(ownTag, "staging")},
			breaks: withoutStatement("LaunchFromOwnTemplates")},
		{name: "the review role cannot launch from production's template", role: Review,
			req:    Request{Action: "ec2:RunInstances", Resource: template, Context: ctx(ownTag, "production")},
			breaks: withoutCondition("LaunchFromOwnTemplates", "StringLike", ownTag)},
		{name: "the staging role passes the group's security-group lookup", role: Staging, allowed: true,
			req:    Request{Action: "ec2:GetSecurityGroupsForVpc", Resource: a.arn("ec2", region, "vpc/vpc-1")},
			breaks: withoutStatement("FleetValidationReads")},

		// The service-linked role CreateAutoScalingGroup checks.
		{name: "deploy roles pass CreateAutoScalingGroup's service-linked role check", role: Review, allowed: true,
			req: Request{Action: "iam:CreateServiceLinkedRole", Resource: slr,
				Context: ctx("iam:AWSServiceName", "autoscaling.amazonaws.com")},
			breaks: withoutStatement("FleetServiceLinkedRole")},
		{name: "that grant creates no other service's service-linked role", role: Production,
			req: Request{Action: "iam:CreateServiceLinkedRole", Resource: slr,
				Context: ctx("iam:AWSServiceName", "ssm.amazonaws.com")},
			breaks: withoutCondition("FleetServiceLinkedRole", "StringEquals", "iam:AWSServiceName")},
		{name: "nor an Auto Scaling role under another name", role: Staging,
			req: Request{Action: "iam:CreateServiceLinkedRole", Resource: slr + "_admin",
				Context: ctx("iam:AWSServiceName", "autoscaling.amazonaws.com")},
			breaks: mutation{"with the role scope widened to every role", widen("FleetServiceLinkedRole")}},
		{name: "preview roles create no Auto Scaling role", role: PullRequestPreview,
			req: Request{Action: "iam:CreateServiceLinkedRole", Resource: slr,
				Context: ctx("iam:AWSServiceName", "autoscaling.amazonaws.com")},
			breaks: withStatement("with the deploy role's grant", stmt(w.policy[Staging], "FleetServiceLinkedRole"))},

		// Previews read.
		{name: "the pull-request preview role reads staging's group (the getGroup invoke)", role: PullRequestPreview,
			allowed: true,
			req:     Request{Action: "autoscaling:DescribeAutoScalingGroups", Resource: "*"},
			breaks:  withoutStatement("ReadMetadata")},
		{name: "the production-preview role reads instance refreshes, policies and notifications", role: ProductionPreview,
			allowed: true,
			req:     Request{Action: "autoscaling:DescribeInstanceRefreshes", Resource: "*"},
			breaks:  withoutStatement("ReadMetadata")},
		{name: "the production-preview role reads the launch template's versions", role: ProductionPreview, allowed: true,
			req:    Request{Action: "ec2:DescribeLaunchTemplateVersions", Resource: "*"},
			breaks: withoutStatement("ReadMetadata")},
	} {
		t.Run(p.name, func(t *testing.T) { w.check(t, p) })
	}
}

// What Auto Scaling checks of the caller when a group is created with the fleet's launch template
// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-api-permissions.html): ec2:RunInstances
// on every resource of the launch, ec2:CreateTags for the instances and volumes the template tags, and
// iam:PassRole of the instance profile's role to EC2. The deploy role passes all of it for its own stack.
func TestADeployRolePassesTheLaunchChecksOfItsOwnFleet(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	ec2 := func(rest string) string { return a.arn("ec2", region, rest) }
	own := map[Role]string{Review: "pr-7", Staging: "staging", Production: "production"}
	for r, stack := range own {
		t.Run(string(r), func(t *testing.T) {
			for _, req := range []Request{
				{Action: "ec2:RunInstances", Resource: ec2("launch-template/lt-1"), Context: ctx("aws:ResourceTag/stack", stack)},
				{Action: "ec2:RunInstances", Resource: ec2("instance/*"), Context: ctx("aws:RequestTag/stack", stack)},
				{Action: "ec2:RunInstances", Resource: ec2("volume/*"), Context: ctx("aws:RequestTag/stack", stack)},
				{Action: "ec2:RunInstances", Resource: ec2("network-interface/*")},
				{Action: "ec2:RunInstances", Resource: ec2("subnet/subnet-a")},
				{Action: "ec2:RunInstances", Resource: ec2("security-group/sg-1"), Context: ctx("aws:ResourceTag/stack", stack)},
				{Action: "ec2:RunInstances", Resource: "arn:aws:ec2:" + region + "::image/ami-1"},
				{Action: "ec2:CreateTags", Resource: ec2("instance/*"),
					Context: ctx("ec2:CreateAction", "RunInstances", "aws:RequestTag/stack", stack)},
				{Action: "ec2:CreateTags", Resource: ec2("volume/*"),
					Context: ctx("ec2:CreateAction", "RunInstances", "aws:RequestTag/stack", stack)},
				{Action: "iam:PassRole", Resource: a.arn("iam", "", "role/appstack/app-identity-role-1"),
					Context: ctx("iam:PassedToService", "ec2.amazonaws.com", "aws:ResourceTag/stack", stack)},
			} {
				req.Principal = a.RoleArn(r)
				assert.Equal(t, Allowed, Evaluate(req, w.policies(r, req.Resource)), "%s on %s", req.Action, req.Resource)
			}
		})
	}
}

// Preview roles change no fleet: every write the fleet policy grants, asked with the deploy role's own stack
// tags, is refused to the preview role of the same stacks, and granted to the deploy role (so the requests are
// ones the grant answers).
func TestPreviewRolesWriteNothingOfAFleet(t *testing.T) {
	w := bootstrapWorld(t)
	for preview, deploy := range map[Role]Role{PullRequestPreview: Staging, ProductionPreview: Production, Drift: Production} {
		fleet := FleetPolicy(w.acct, Specs[deploy].Stacks)
		require.NotEmpty(t, fleet.Doc.Statement)
		for _, s := range fleet.Doc.Statement {
			for _, action := range s.Action {
				req := satisfying(s, action, Specs[deploy].Stacks)
				t.Run(string(preview)+" "+action+" ("+s.Sid+")", func(t *testing.T) {
					deployReq := req
					deployReq.Principal = w.acct.RoleArn(deploy)
					require.Equal(t, Allowed, Evaluate(deployReq, w.policies(deploy, req.Resource)),
						"the request is one %s answers for %s", s.Sid, deploy)
					w.check(t, property{role: preview, req: req,
						breaks: withStatement("with the deploy role's "+s.Sid, s)})
				})
			}
		}
	}
}

// satisfying is a request for action that meets every condition of s for a resource of stacks.
func satisfying(s Statement, action, stacks string) Request {
	own := strings.ReplaceAll(stacks, "*", "7")
	c := map[string][]string{}
	for op, kv := range s.Condition {
		if op == "Null" {
			continue // "true": the key stays out of the request
		}
		for key, values := range kv {
			v := strings.ReplaceAll(values[0], "*", "7")
			if strings.HasSuffix(key, "Tag/stack") {
				v = own
			}
			c[key] = []string{v}
		}
	}
	if strings.HasSuffix(action, "DeleteTags") {
		c["aws:TagKeys"] = []string{"Name"} // a tag other than stack, which no role may remove
	}
	res := s.Resource[0]
	if res != "*" { // "*" is an action that names no resource, or a grant on every resource of its kind
		res = strings.ReplaceAll(res, "*", "x")
	}
	return Request{Action: action, Resource: res, Context: c}
}
