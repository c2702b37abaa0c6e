package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/identity"
)

// withConditionValues adds values to a condition of a statement: the careless widening the property must catch.
func withConditionValues(sid, op, key string, values ...string) mutation {
	return mutation{"with " + key + " of " + sid + " widened", func(p *Policies) {
		d := cloneDoc(p.Identity[0])
		edit(&d, sid, func(s Statement) (Statement, bool) {
			s.Condition[op][key] = append(s.Condition[op][key], values...)
			return s, true
		})
		p.Identity[0] = d
	}}
}

// One CI role's request against another stack's resources, as an outside attacker holding the role would make it.
func TestNoRoleHijacksOrStopsAnotherStack(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	ownTag, newTag := "aws:ResourceTag/stack", "aws:RequestTag/stack"
	eni := a.arn("ec2", region, "network-interface/eni-0prod")
	prodTopic := a.arn("sns", region, "appstack-production-app-alarms-20260101")
	reviewTopic := a.arn("sns", region, "appstack-pr-7-app-alarms-20260101")
	reboot := "arn:aws:automate:" + region + ":ec2:reboot"
	alarm := a.arn("cloudwatch", region, "alarm:app-host-reboot-1")

	props := []property{
		// An address moved onto production's host disassociates production's own address.
		{name: "the review role cannot associate its address with production's network interface", role: Review,
			req:    Request{Action: "ec2:AssociateAddress", Resource: eni, Context: ctx(ownTag, "production")},
			breaks: withoutCondition("Ec2AddressesOnOwnInterfaces", "StringLike", ownTag)},
		{name: "the review role cannot associate its address with an untagged network interface", role: Review,
			req:    Request{Action: "ec2:AssociateAddress", Resource: eni},
			breaks: withoutCondition("Ec2AddressesOnOwnInterfaces", "StringLike", ownTag)},
		{name: "the review role associates its address with its own host's network interface", role: Review,
			allowed: true,
			req:     Request{Action: "ec2:AssociateAddress", Resource: eni, Context: ctx(ownTag, "pr-7")},
			breaks:  withoutStatement("Ec2AddressesOnOwnInterfaces")},
		{name: "the review role cannot associate its address with a production instance", role: Review,
			req: Request{Action: "ec2:AssociateAddress", Resource: a.arn("ec2", region, "instance/i-0prod"),
				Context: ctx(ownTag, "production")},
			breaks: withoutCondition("Ec2ChangeOwn", "StringLike", ownTag)},
		{name: "the review role cannot take production's address off production's host", role: Review,
			req: Request{Action: "ec2:DisassociateAddress", Resource: a.arn("ec2", region, "elastic-ip/eipalloc-prod"),
				Context: ctx(ownTag, "production")},
			breaks: withoutCondition("Ec2ChangeOwn", "StringLike", ownTag)},
		{name: "the staging role takes its address off its previous host's untagged interface", role: Staging,
			allowed: true, req: Request{Action: "ec2:DisassociateAddress", Resource: eni},
			breaks: withoutStatement("Ec2DisassociateOwnAddresses")},
		{name: "the staging role moves its address onto its own new host", role: Staging, allowed: true,
			req: Request{Action: "ec2:AssociateAddress", Resource: a.arn("ec2", region, "instance/i-0new"),
				Context: ctx(ownTag, "staging")},
			breaks: withoutStatement("Ec2ChangeOwn")},

		// Alarms: no condition names the instance an EC2 action acts on.
		{name: "the review role cannot create an alarm that reboots an instance", role: Review,
			req: Request{Action: "cloudwatch:PutMetricAlarm", Resource: alarm,
				Context: map[string][]string{newTag: {"pr-7"}, "cloudwatch:AlarmActions": {reboot}}},
			breaks: withConditionValues("AlarmsCreateTagged", "ForAllValues:StringLike", "cloudwatch:AlarmActions",
				"arn:aws:automate:*:ec2:reboot")},
		{name: "the review role's alarms notify its own stacks' topics", role: Review, allowed: true,
			req: Request{Action: "cloudwatch:PutMetricAlarm", Resource: alarm,
				Context: map[string][]string{newTag: {"pr-7"}, "cloudwatch:AlarmActions": {reviewTopic}}},
			breaks: withoutStatement("AlarmsCreateTagged")},
		{name: "the staging role cannot point an alarm at production's topic", role: Staging,
			req: Request{Action: "cloudwatch:PutMetricAlarm", Resource: alarm,
				Context: map[string][]string{newTag: {"staging"}, "cloudwatch:AlarmActions": {prodTopic}}},
			breaks: withConditionValues("AlarmsCreateTagged", "ForAllValues:StringLike", "cloudwatch:AlarmActions",
				a.arn("sns", "*", "*"))},
		// The Service Authorization Reference lists one resource type for sns:Unsubscribe, the topic
		// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html): the
		// request names the subscription, and IAM is asked about its topic.
		{name: "the review role cannot unsubscribe production's alarm e-mail", role: Review,
			req:    Request{Action: "sns:Unsubscribe", Resource: prodTopic},
			breaks: mutation{"with Unsubscribe on every topic", widen("Unsubscribe")}},
		{name: "the review role unsubscribes its own topics' subscriptions", role: Review, allowed: true,
			req:    Request{Action: "sns:Unsubscribe", Resource: reviewTopic},
			breaks: withoutStatement("Unsubscribe")},
		{name: "the review role cannot claim an untagged topic of the account", role: Review,
			req: Request{Action: "sns:TagResource", Resource: a.arn("sns", region, "orders-events"),
				Context: ctx(newTag, "pr-7")},
			breaks: mutation{"with topics on every name", widen("TopicCreateTagged")}},
		{name: "the review role creates its own stack's topic", role: Review, allowed: true,
			req:    Request{Action: "sns:CreateTopic", Resource: reviewTopic, Context: ctx(newTag, "pr-7")},
			breaks: withoutStatement("TopicCreateTagged")},

		// Tags: set at creation or to the role's own stacks only, and the stack tag never removed.
		{name: "the review role cannot hand its stack key to production", role: Review,
			req: Request{Action: "kms:TagResource", Resource: a.arn("kms", region, "key/own"),
				Context: ctx(ownTag, "pr-7", "aws:ResourceTag/managed-by", "appstack", newTag, "production")},
			breaks: withoutCondition("TagOwnOrNew", "StringLike", newTag)},
		{name: "the review role cannot hand its table to production", role: Review,
			req: Request{Action: "dynamodb:TagResource", Resource: a.arn("dynamodb", region, "table/app-events"),
				Context: ctx(ownTag, "pr-7", newTag, "production")},
			breaks: withoutCondition("TagOwnOrNew", "StringLike", newTag)},
		{name: "the review role cannot hand its instance to production", role: Review,
			req: Request{Action: "ec2:CreateTags", Resource: a.arn("ec2", region, "instance/i-0own"),
				Context: ctx(ownTag, "pr-7", newTag, "production")},
			breaks: withoutCondition("Ec2RetagOwn", "StringLikeIfExists", newTag)},
		// A VPC the review role tagged pr-7 (or found so tagged) is not a resource type a stack creates.
		{name: "the review role re-tags no EC2 resource type a stack does not create", role: Review,
			req: Request{Action: "ec2:CreateTags", Resource: a.arn("ec2", region, "vpc/vpc-0shared"),
				Context: ctx(ownTag, "pr-7", newTag, "pr-8")},
			breaks: mutation{"with Ec2RetagOwn on every resource", widen("Ec2RetagOwn")}},
		{name: "the review role cannot claim an untagged load balancer", role: Review,
			req: Request{Action: "elasticloadbalancing:AddTags",
				Resource: a.arn("elasticloadbalancing", region, "loadbalancer/app/shop/1"), Context: ctx(newTag, "pr-7")},
			breaks: withoutCondition("ElbRetagOwn", "StringLike", ownTag)},
		{name: "the review role tags the load balancer it creates", role: Review, allowed: true,
			req: Request{Action: "elasticloadbalancing:AddTags",
				Resource: a.arn("elasticloadbalancing", region, "loadbalancer/app/pr-7/1"),
				Context:  ctx(newTag, "pr-7", "elasticloadbalancing:CreateAction", "CreateLoadBalancer")},
			breaks: withoutStatement("ElbTagOnCreate")},
		{name: "the review role cannot hand its load balancer to production", role: Review,
			req: Request{Action: "elasticloadbalancing:AddTags",
				Resource: a.arn("elasticloadbalancing", region, "loadbalancer/app/pr-7/1"),
				Context:  ctx(ownTag, "pr-7", newTag, "production")},
			breaks: withoutCondition("ElbRetagOwn", "StringLikeIfExists", newTag)},
		{name: "the review role cannot create a grant on production's stack key", role: Review,
			req: Request{Action: "kms:CreateGrant", Resource: a.arn("kms", region, "key/prod"),
				Context: ctx("kms:GrantIsForAWSResource", "true", ownTag, "production", "aws:ResourceTag/managed-by", "appstack")},
			breaks: withoutCondition("KeyGrantsForAWSResources", "StringLike", ownTag)},
		{name: "the review role grants DynamoDB the use of its own stack key", role: Review, allowed: true,
			req: Request{Action: "kms:CreateGrant", Resource: a.arn("kms", region, "key/own"),
				Context: ctx("kms:GrantIsForAWSResource", "true", ownTag, "pr-7", "aws:ResourceTag/managed-by", "appstack")},
			breaks: withoutStatement("KeyGrantsForAWSResources")},
		// The reaper removes the review stacks' roles and instance profiles that no state lists.
		{name: "the review role lists the roles under /appstack/ (the reaper)", role: Review, allowed: true,
			req:    Request{Action: "iam:ListRoles", Resource: "*"},
			breaks: withoutStatement("ReadMetadata")},
		{name: "the review role deletes an orphaned review host role", role: Review, allowed: true,
			req: Request{Action: "iam:DeleteRole", Resource: a.arn("iam", "", "role/appstack/app-identity-role-1"),
				Context: ctx(ownTag, "pr-7")},
			breaks: withoutStatement("OwnHostRoles")},
		{name: "the review role cannot delete staging's host role", role: Review,
			req: Request{Action: "iam:DeleteRole", Resource: a.arn("iam", "", "role/appstack/app-identity-role-1"),
				Context: ctx(ownTag, "staging")},
			breaks: withoutCondition("OwnHostRoles", "StringLike", ownTag)},
	}
	for _, p := range props {
		t.Run(p.name, func(t *testing.T) { w.check(t, p) })
	}

	// The stack tag stays on whatever carries it, whatever the role's policy is widened to.
	untag := map[string]string{
		"acm:RemoveTagsFromCertificate":   a.arn("acm", region, "certificate/1"),
		"autoscaling:DeleteTags":          a.arn("autoscaling", region, "autoScalingGroup:1:autoScalingGroupName/appstack-pr-7-app"),
		"cloudwatch:UntagResource":        alarm,
		"dynamodb:UntagResource":          a.arn("dynamodb", region, "table/app-events"),
		"ec2:DeleteTags":                  a.arn("ec2", region, "instance/i-0own"),
		"ecr:UntagResource":               a.arn("ecr", region, "repository/app-web"),
		"elasticloadbalancing:RemoveTags": a.arn("elasticloadbalancing", region, "loadbalancer/app/pr-7/1"),
		"iam:UntagRole":                   a.arn("iam", "", "role/appstack/app-identity-role-1"),
		"kms:UntagResource":               a.arn("kms", region, "key/own"),
		"logs:UntagResource":              a.arn("logs", region, "log-group:app-logs"),
		"sns:UntagResource":               reviewTopic,
	}
	for action, resource := range untag {
		t.Run("the review role cannot remove the stack tag: "+action, func(t *testing.T) {
			w.check(t, property{role: Review, widened: true, req: Request{Action: action, Resource: resource,
				Context: ctx(ownTag, "pr-7", "aws:ResourceTag/managed-by", "appstack", "aws:TagKeys", "stack")},
				breaks: withoutStatement("NeverRemoveTheStackTag")})
		})
	}
	t.Run("the review role cannot remove the stack tag spelled Stack", func(t *testing.T) {
		w.check(t, property{role: Review, widened: true, req: Request{Action: "iam:UntagRole",
			Resource: a.arn("iam", "", "role/appstack/app-identity-role-1"),
			Context:  ctx(ownTag, "pr-7", "aws:TagKeys", "Stack")},
			breaks: mutation{"with the tag keys compared case-sensitively", func(p *Policies) {
				for i := range p.Identity {
					d := cloneDoc(p.Identity[i])
					edit(&d, "NeverRemoveTheStackTag", func(s Statement) (Statement, bool) {
						s.Condition = map[string]map[string][]string{"ForAnyValue:StringEquals": {"aws:TagKeys": {"stack"}}}
						return s, true
					})
					p.Identity[i] = d
				}
			}}})
	})
	t.Run("the review role removes another tag of its own", func(t *testing.T) {
		w.check(t, property{role: Review, allowed: true, req: Request{Action: "dynamodb:UntagResource",
			Resource: a.arn("dynamodb", region, "table/app-events"), Context: ctx(ownTag, "pr-7", "aws:TagKeys", "Name")},
			breaks: withoutStatement("TablesOwn")})
	})
	t.Run("the review role cannot remove every tag of an instance at once", func(t *testing.T) {
		w.check(t, property{role: Review, widened: true, req: Request{Action: "ec2:DeleteTags",
			Resource: a.arn("ec2", region, "instance/i-0own"), Context: ctx(ownTag, "pr-7")},
			breaks: withoutStatement("NeverRemoveEveryEc2Tag")})
	})

}

// A host role of a review stack, whatever policy the review role wrote for it, reads and writes nothing of
// production's through the boundary.
func TestTheBoundaryKeepsAReviewHostOffProductionsParametersAndLogs(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	host := a.arn("iam", "", "role/appstack/app-identity-role-1")
	decide := func(b Document, action, resource string, c map[string][]string) Decision {
		c["aws:PrincipalTag/stack"] = []string{"pr-7"}
		c["ec2:SourceInstanceARN"] = []string{hostInstance}
		return Evaluate(Request{Principal: host, Action: action, Resource: resource, Context: c},
			Policies{Identity: []Document{adminLayer}, Boundary: &b})
	}
	check := func(t *testing.T, action, resource string, c map[string][]string, allowed bool, sid string) {
		t.Helper()
		assert.Equal(t, allowed, decide(w.boundary, action, resource, c) == Allowed, "%s on %s", action, resource)
		// The statement is what decides: without it an allowed call is refused, and without its conditions a
		// refused one is allowed.
		broken := cloneDoc(w.boundary)
		edit(&broken, sid, func(s Statement) (Statement, bool) {
			s.Condition = nil
			return s, !allowed
		})
		assert.NotEqual(t, allowed, decide(broken, action, resource, c) == Allowed, "the property must fail without %s", sid)
	}
	prodSecret := a.arn("ssm", region, "parameter/appstack/production/app/secrets/JWT_SECRET")
	t.Run("no production secret parameter through AmazonSSMManagedInstanceCore's GetParameter", func(t *testing.T) {
		for _, action := range []string{"ssm:GetParameter", "ssm:GetParameters"} {
			assert.NotEqual(t, Allowed, decide(w.boundary, action, prodSecret, ctx()), action)
		}
		b := cloneDoc(w.boundary)
		edit(&b, "SessionManager", func(s Statement) (Statement, bool) {
			s.Action = append(s.Action, "ssm:GetParameter")
			return s, true
		})
		assert.Equal(t, Allowed, decide(b, "ssm:GetParameter", prodSecret, ctx()),
			"with the managed policy's GetParameter on every parameter the host reads production's secrets")
	})
	t.Run("its own stack's secret parameters", func(t *testing.T) {
		check(t, "ssm:GetParameters", a.arn("ssm", region, "parameter/appstack/pr-7/app/secrets/JWT_SECRET"), ctx(),
			true, "Parameters")
	})
	t.Run("AWS's public parameters", func(t *testing.T) {
		check(t, "ssm:GetParameter",
			"arn:aws:ssm:"+region+"::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
			ctx(), true, "Parameters")
	})
	// CreateLogStream and PutLogEvents are authorized on the stream, which carries no tag (Service Authorization
	// Reference, list_amazoncloudwatchlogs.html); log group names do not name the stack, so the host's own policy
	// (components/identity), not the boundary, keeps it to its own group.
	prodStream := a.arn("logs", region, "log-group:app-logs-1234:log-stream:i-0prod")
	ownGroup := a.arn("logs", region, "log-group:app-logs-5678")
	t.Run("no log stream in production's log group", func(t *testing.T) {
		doc, err := identity.PolicyDocument(identity.Grants{LogGroupArn: ownGroup})
		require.NoError(t, err)
		own, err := parseDoc(doc)
		require.NoError(t, err)
		asHost := func(id Document, action, resource string) Decision {
			return Evaluate(Request{Principal: host, Action: action, Resource: resource,
				Context: ctx("aws:PrincipalTag/stack", "pr-7", "ec2:SourceInstanceARN", hostInstance)},
				Policies{Identity: []Document{id}, Boundary: &w.boundary})
		}
		for _, action := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
			assert.NotEqual(t, Allowed, asHost(own, action, prodStream), action)
			assert.Equal(t, Allowed, asHost(own, action, ownGroup+":log-stream:i-0own"), action)
			assert.Equal(t, Allowed, asHost(adminLayer, action, prodStream),
				"the boundary does not see which stack a stream's group is of: %s", action)
		}
	})
	t.Run("no log stream whose group is tagged production's, if AWS passes the group's tags", func(t *testing.T) {
		for _, action := range []string{"logs:CreateLogStream", "logs:PutLogEvents"} {
			check(t, action, prodStream, ctx("aws:ResourceTag/stack", "production"), false, "LogStreams")
		}
	})
	t.Run("no listing of production's log streams", func(t *testing.T) {
		check(t, "logs:DescribeLogStreams", a.arn("logs", region, "log-group:app-logs-1234"),
			ctx("aws:ResourceTag/stack", "production"), false, "Logs")
	})
	t.Run("its own log group's streams", func(t *testing.T) {
		check(t, "logs:DescribeLogStreams", ownGroup, ctx("aws:ResourceTag/stack", "pr-7"), true, "Logs")
		check(t, "logs:CreateLogStream", ownGroup+":log-stream:i-0own", ctx(), true, "LogStreams")
		check(t, "logs:PutLogEvents", ownGroup+":log-stream:i-0own", ctx(), true, "LogStreams")
	})
}

// hostInstance is the instance whose profile credentials sign a host's calls (ec2:SourceInstanceARN).
const hostInstance = "arn:aws:ec2:" + region + ":123456789012:instance/i-0host"

// A role under the boundary that a deploy role created to trust an outside account, assumed from there with the
// session tag stack=production (which overrides the role's own tag), reads nothing of production's: it is no
// instance's session. Its instance's own calls still read its own stack's.
func TestABoundedRoleAssumedFromOutsideReadsNothing(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	host := a.arn("iam", "", "role/appstack/outsider-trusted-1")
	prodKey := a.arn("kms", region, "key/prod-stack")
	reads := []struct{ action, resource, stack string }{
		{"ssm:GetParameter", a.arn("ssm", region, "parameter/appstack/production/app/secrets/JWT_SECRET"), ""},
		{"kms:Decrypt", prodKey, "production"},
		{"dynamodb:GetItem", a.arn("dynamodb", region, "table/app-events"), "production"},
		{"ecr:BatchGetImage", a.arn("ecr", region, "repository/app-web"), "production"},
	}
	decide := func(b Document, action, resource, stack string, instance bool) Decision {
		c := ctx("aws:PrincipalTag/stack", "production")
		if stack != "" {
			c["aws:ResourceTag/stack"] = []string{stack}
			c["aws:ResourceTag/managed-by"] = []string{"appstack"}
		}
		if instance {
			c["ec2:SourceInstanceARN"] = []string{hostInstance}
		}
		return Evaluate(Request{Principal: host, Action: action, Resource: resource, Context: c},
			Policies{Identity: []Document{adminLayer}, Boundary: &b, Resource: w.keyPolicyOf(resource)})
	}
	for _, r := range reads {
		t.Run(r.action, func(t *testing.T) {
			assert.NotEqual(t, Allowed, decide(w.boundary, r.action, r.resource, r.stack, false),
				"a session that is no instance's")
			assert.Equal(t, Allowed, decide(w.boundary, r.action, r.resource, r.stack, true),
				"an instance's session of a production host")
			broken := cloneDoc(w.boundary)
			edit(&broken, "OnlyInstanceSessions", func(s Statement) (Statement, bool) { return s, false })
			assert.Equal(t, Allowed, decide(broken, r.action, r.resource, r.stack, false),
				"without OnlyInstanceSessions the outsider reads production's")
		})
	}
}
