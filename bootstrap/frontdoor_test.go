package main

import "testing"

// The HTTPS front door's grants: each deploy role manages its own stacks' load balancer, target groups,
// certificates and log bucket (DNS records: dns_test.go); each property fails when the statement or condition
// that makes it hold is taken away.
func TestDeployRolesManageOnlyTheirOwnFrontDoor(t *testing.T) {
	w := bootstrapWorld(t)
	a := w.acct
	lb := a.arn("elasticloadbalancing", region, "loadbalancer/app/app-frontdoor-alb/0123456789abcdef")
	tg := func(name string) string {
		return a.arn("elasticloadbalancing", region, "targetgroup/"+name+"/0123456789abcdef")
	}
	listener := a.arn("elasticloadbalancing", region, "listener/app/app-frontdoor-alb/0123456789abcdef/fedcba9876543210")
	rule := a.arn("elasticloadbalancing", region, "listener-rule/app/app-frontdoor-alb/0123456789abcdef/fedcba9876543210/0011223344556677")
	prodBucket := "arn:aws:s3:::appstack-production-alb-logs-20260101000000000000000001"
	stagingBucket := "arn:aws:s3:::appstack-staging-alb-logs-20260101000000000000000001"
	slr := a.arn("iam", "", "role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing")
	for _, p := range []property{
		{name: "the staging role creates a load balancer tagged as its own", role: Staging, allowed: true,
			req:    Request{Action: "elasticloadbalancing:CreateLoadBalancer", Resource: lb, Context: ctx("aws:RequestTag/stack", "staging")},
			breaks: withoutStatement("ElbCreateTagged")},
		{name: "the review role cannot create a load balancer tagged as production's", role: Review,
			req:    Request{Action: "elasticloadbalancing:CreateLoadBalancer", Resource: lb, Context: ctx("aws:RequestTag/stack", "production")},
			breaks: withoutCondition("ElbCreateTagged", "StringLike", "aws:RequestTag/stack")},
		{name: "the review role cannot delete production's load balancer", role: Review,
			req:    Request{Action: "elasticloadbalancing:DeleteLoadBalancer", Resource: lb, Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("ElbOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the staging role cannot register a host in production's target group", role: Staging,
			req: Request{Action: "elasticloadbalancing:RegisterTargets", Resource: tg("staging-web-0123456789"),
				Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("ElbOwn", "StringLike", "aws:ResourceTag/stack")},
		// Target groups named before their names carried the stack (<service>-<hash>) are the stack's by their tag.
		{name: "the staging role deregisters from its own target group named before the rename", role: Staging,
			allowed: true, req: Request{Action: "elasticloadbalancing:DeregisterTargets", Resource: tg("web-0123456789"),
				Context: ctx("aws:ResourceTag/stack", "staging")},
			breaks: withoutStatement("ElbOwn")},
		{name: "the review role deletes its old review stack's target group", role: Review, allowed: true,
			req: Request{Action: "elasticloadbalancing:DeleteTargetGroup", Resource: tg("web-0123456789"),
				Context: ctx("aws:ResourceTag/stack", "pr-7")},
			breaks: withoutStatement("ElbOwn")},
		{name: "the review role cannot deregister production's hosts from its old target group", role: Review,
			req: Request{Action: "elasticloadbalancing:DeregisterTargets", Resource: tg("web-0123456789"),
				Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("ElbOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the staging role reorders its own listener rules", role: Staging, allowed: true,
			req: Request{Action: "elasticloadbalancing:SetRulePriorities", Resource: rule,
				Context: ctx("aws:ResourceTag/stack", "staging")},
			breaks: withoutStatement("ElbOwn")},
		{name: "the review role cannot reorder production's listener rules", role: Review,
			req: Request{Action: "elasticloadbalancing:SetRulePriorities", Resource: rule,
				Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("ElbOwn", "StringLike", "aws:ResourceTag/stack")},
		// CreateRule is authorized on the listener and CreateListener on the load balancer, with their tags.
		{name: "the review role cannot add a rule to production's listener", role: Review,
			req: Request{Action: "elasticloadbalancing:CreateRule", Resource: listener,
				Context: ctx("aws:RequestTag/stack", "pr-7", "aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("ElbAddToOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the review role cannot add a listener to production's load balancer", role: Review,
			req: Request{Action: "elasticloadbalancing:CreateListener", Resource: lb,
				Context: ctx("aws:RequestTag/stack", "pr-7", "aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("ElbAddToOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the review role adds a rule to its own listener", role: Review, allowed: true,
			req: Request{Action: "elasticloadbalancing:CreateRule", Resource: listener,
				Context: ctx("aws:RequestTag/stack", "pr-7", "aws:ResourceTag/stack", "pr-7")},
			breaks: withoutStatement("ElbAddToOwn")},
		{name: "the staging role adds a listener to its own load balancer", role: Staging, allowed: true,
			req: Request{Action: "elasticloadbalancing:CreateListener", Resource: lb,
				Context: ctx("aws:RequestTag/stack", "staging", "aws:ResourceTag/stack", "staging")},
			breaks: withoutStatement("ElbAddToOwn")},
		{name: "the production role switches its own targets", role: Production, allowed: true,
			req: Request{Action: "elasticloadbalancing:DeregisterTargets", Resource: tg("production-web-0123456789"),
				Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutStatement("ElbOwn")},
		{name: "the review role creates its stack's target group, named for it", role: Review, allowed: true,
			req: Request{Action: "elasticloadbalancing:CreateTargetGroup", Resource: tg("pr-7-web-0123456789"),
				Context: ctx("aws:RequestTag/stack", "pr-7")},
			breaks: withoutStatement("ElbCreateTagged")},
		// FleetPolicy lets a group attach only to target groups named <stack>-…: no role may make one named for
		// another role's stacks, whatever its tag.
		{name: "the review role cannot create a target group named for production", role: Review,
			req: Request{Action: "elasticloadbalancing:CreateTargetGroup", Resource: tg("production-web-0123456789"),
				Context: ctx("aws:RequestTag/stack", "pr-7")},
			breaks: mutation{"with the target groups' names unscoped", widen("ElbCreateTagged")}},
		{name: "deploy roles pass the load balancer's service-linked role check", role: Review, allowed: true,
			req:    Request{Action: "iam:CreateServiceLinkedRole", Resource: slr, Context: ctx("iam:AWSServiceName", ElbService)},
			breaks: withoutStatement("ElbServiceLinkedRole")},
		{name: "the review role cannot tag production's load balancer as its own", role: Review,
			req: Request{Action: "elasticloadbalancing:AddTags", Resource: lb,
				Context: ctx("aws:RequestTag/stack", "pr-7", "aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("ElbRetagOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "that grant creates no other service's service-linked role", role: Staging,
			req: Request{Action: "iam:CreateServiceLinkedRole", Resource: slr,
				Context: ctx("iam:AWSServiceName", "ec2.amazonaws.com")},
			breaks: withoutCondition("ElbServiceLinkedRole", "StringEquals", "iam:AWSServiceName")},
		{name: "the staging role requests a certificate tagged as its own", role: Staging, allowed: true,
			req: Request{Action: "acm:RequestCertificate", Resource: "*", Context: ctx("aws:RequestTag/stack", "staging",
				"acm:DomainNames", "web.staging.example.com")},
			breaks: withoutStatement("CertificatesRequestTagged")},
		{name: "the review role cannot request a certificate tagged as production's", role: Review,
			req: Request{Action: "acm:RequestCertificate", Resource: "*", Context: ctx("aws:RequestTag/stack", "production",
				"acm:DomainNames", "web.pr-7.staging.example.com")},
			breaks: withoutCondition("CertificatesRequestTagged", "StringLike", "aws:RequestTag/stack")},
		{name: "the staging role tags its new certificate", role: Staging, allowed: true,
			req: Request{Action: "acm:AddTagsToCertificate", Resource: a.arn("acm", region, "certificate/1234"),
				Context: ctx("aws:RequestTag/stack", "staging")},
			breaks: withoutStatement("CertificatesTagOnCreate")},
		{name: "the review role cannot tag a certificate as production's", role: Review,
			req: Request{Action: "acm:AddTagsToCertificate", Resource: a.arn("acm", region, "certificate/1234"),
				Context: ctx("aws:RequestTag/stack", "production")},
			breaks: withoutCondition("CertificatesTagOnCreate", "StringLike", "aws:RequestTag/stack")},
		{name: "the review role cannot retag production's certificate as its own", role: Review,
			req: Request{Action: "acm:AddTagsToCertificate", Resource: a.arn("acm", region, "certificate/1234"),
				Context: ctx("aws:RequestTag/stack", "pr-7", "aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("CertificatesTagOnCreate", "StringLikeIfExists", "aws:ResourceTag/stack")},
		{name: "preview roles request no certificate", role: ProductionPreview,
			req: Request{Action: "acm:RequestCertificate", Resource: "*", Context: ctx("aws:RequestTag/stack", "production",
				"acm:DomainNames", "web.example.com")},
			breaks: withStatement("with the deploy role's grant", stmt(w.policy[Production], "CertificatesRequestTagged"))},
		{name: "the review role cannot delete production's certificate", role: Review,
			req: Request{Action: "acm:DeleteCertificate", Resource: a.arn("acm", region, "certificate/1234"),
				Context: ctx("aws:ResourceTag/stack", "production")},
			breaks: withoutCondition("CertificatesOwn", "StringLike", "aws:ResourceTag/stack")},
		{name: "the staging role deletes its own log bucket", role: Staging, allowed: true,
			req: Request{Action: "s3:DeleteBucket", Resource: stagingBucket}, breaks: withoutStatement("LogBucketsOwn")},
		{name: "the review role cannot delete production's log bucket", role: Review,
			req:    Request{Action: "s3:DeleteBucket", Resource: prodBucket},
			breaks: mutation{"with the bucket scope widened to every bucket", widen("LogBucketsOwn")}},
		{name: "the staging role cannot empty production's log bucket", role: Staging,
			req:    Request{Action: "s3:DeleteObject", Resource: prodBucket + "/alb/AWSLogs/1/x.gz"},
			breaks: mutation{"with the object scope widened", widen("LogObjectsOfOwnBuckets")}},
	} {
		t.Run(p.name, func(t *testing.T) { w.check(t, p) })
	}
}
