package components_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/frontdoor"
	"appstack/components/host"
	"appstack/components/network"
	"appstack/components/targethealth"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const (
	lbType       = "aws:lb/loadBalancer:LoadBalancer"
	listenerType = "aws:lb/listener:Listener"
	tgType       = "aws:lb/targetGroup:TargetGroup"
	certType     = "aws:acm/certificate:Certificate"
	validType    = "aws:acm/certificateValidation:CertificateValidation"
	recordType   = "aws:route53/record:Record"
)

func doorArgs() *frontdoor.Args {
	return &frontdoor.Args{
		Domain: "example.com",
		ZoneID: "Z0EXAMPLE",
		Services: []frontdoor.Service{
			{Name: "web", Port: 8501, Hostname: "web.example.com", ReadyPath: "/ready"},
			{Name: "api", Port: 8502, Hostname: "trade.example.com", ReadyPath: "/api/ready"},
		},
		VpcID:           "vpc-0123456789abcdef0",
		SubnetIDs:       []string{"subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"},
		IngressCidrs:    []string{"203.0.113.0/24"},
		Region:          offlinetest.Region,
		AccountID:       pulumi.String(offline.Account),
		LogBucketPrefix: "appstack-test-alb-logs-",
	}
}

// includeSubDomains on the zone's apex would force HTTPS for a year on every name of the domain, other teams'
// included: a stack that serves the apex sends HSTS for its own names only.
func TestHSTSCoversSubdomainsOnlyWhenNoServiceIsOnTheApex(t *testing.T) {
	args := doorArgs()
	args.Services[1].Hostname = "example.com"
	res := offlinetest.Run(t, program(frontdoor.New, "door", args))
	https, ok := res.Named(listenerType, "door-https")
	require.True(t, ok)
	assert.Equal(t, "max-age=31536000", offlinetest.Str(t, https, "routingHttpResponseStrictTransportSecurityHeaderValue"))
}

func TestTheFrontDoorServesHTTPSAndRedirectsHTTP(t *testing.T) {
	res := offlinetest.Run(t, program(frontdoor.New, "door", doorArgs()))
	https, ok := res.Named(listenerType, "door-https")
	require.True(t, ok)
	assert.Equal(t, "HTTPS", offlinetest.Str(t, https, "protocol"))
	assert.Equal(t, float64(443), offlinetest.Num(t, https, "port"))
	assert.Equal(t, "ELBSecurityPolicy-TLS13-1-2-2021-06", offlinetest.Str(t, https, "sslPolicy"))
	assert.Equal(t, "max-age=31536000; includeSubDomains",
		offlinetest.Str(t, https, "routingHttpResponseStrictTransportSecurityHeaderValue"))
	assert.Equal(t, "404", offlinetest.Str(t, https, "defaultActions[0].fixedResponse.statusCode"),
		"an unknown hostname reaches no service")

	http, ok := res.Named(listenerType, "door-http")
	require.True(t, ok)
	assert.Equal(t, "HTTP", offlinetest.Str(t, http, "protocol"))
	assert.Equal(t, "redirect", offlinetest.Str(t, http, "defaultActions[0].type"))
	assert.Equal(t, "HTTPS", offlinetest.Str(t, http, "defaultActions[0].redirect.protocol"))
	assert.Equal(t, "HTTP_301", offlinetest.Str(t, http, "defaultActions[0].redirect.statusCode"))

	alb := offlinetest.One(t, res, lbType)
	assert.True(t, offlinetest.Bool(t, alb, "dropInvalidHeaderFields"))
	assert.False(t, offlinetest.Bool(t, alb, "internal"))
	assert.Equal(t, float64(600), offlinetest.Num(t, alb, "idleTimeout"), "default: ten minutes for WebSockets")
	assert.True(t, offlinetest.Bool(t, alb, "accessLogs.enabled"))
	assert.False(t, offlinetest.Bool(t, alb, "enableDeletionProtection"))
}

func TestEveryHostnameHasADNSValidatedCertificateAndARecord(t *testing.T) {
	res := offlinetest.Run(t, program(frontdoor.New, "door", doorArgs()))
	certs := res.OfType(certType)
	require.Len(t, certs, 2)
	var domains []string
	for _, c := range certs {
		domains = append(domains, offlinetest.Str(t, c, "domainName"))
		assert.Equal(t, "DNS", offlinetest.Str(t, c, "validationMethod"), "ACM renews DNS-validated certificates")
	}
	assert.ElementsMatch(t, []string{"web.example.com", "trade.example.com"}, domains)
	assert.Len(t, res.OfType(validType), 2, "the listener waits for issued certificates")
	validation, ok := res.Named(recordType, "door-api-cert-validation")
	require.True(t, ok)
	assert.Equal(t, "Z0EXAMPLE", offlinetest.Str(t, validation, "zoneId"))
	assert.Equal(t, "CNAME", offlinetest.Str(t, validation, "type"))
	alias, ok := res.Named(recordType, "door-api-dns")
	require.True(t, ok)
	assert.Equal(t, "trade.example.com", offlinetest.Str(t, alias, "name"))
	assert.Equal(t, "A", offlinetest.Str(t, alias, "type"))
	assert.NotEmpty(t, offlinetest.Str(t, alias, "aliases[0].name"))
	rule, ok := res.Named("aws:lb/listenerRule:ListenerRule", "door-api-rule")
	require.True(t, ok)
	assert.Equal(t, "trade.example.com", offlinetest.Str(t, rule, "conditions[0].hostHeader.values[0]"))
	_, ok = res.Named("aws:lb/listenerCertificate:ListenerCertificate", "door-api-cert-attach")
	assert.True(t, ok, "the second hostname's certificate is added to the listener (SNI)")
	for _, r := range res.Resources {
		assert.NotContains(t, r.Type, "aws:ec2/instance", "nothing of the front door depends on a host")
	}
}

func TestTargetGroupsCheckReadinessAndDrain(t *testing.T) {
	args := doorArgs()
	args.DeregistrationDelay = new(45 * time.Second)
	res := offlinetest.Run(t, program(frontdoor.New, "door", args))
	tg, ok := res.Named(tgType, "door-api-tg")
	require.True(t, ok)
	assert.Equal(t, "/api/ready", offlinetest.Str(t, tg, "healthCheck.path"))
	assert.Equal(t, float64(8502), offlinetest.Num(t, tg, "port"))
	assert.Equal(t, float64(45), offlinetest.Num(t, tg, "deregistrationDelay"))
	assert.Equal(t, "vpc-0123456789abcdef0", offlinetest.Str(t, tg, "vpcId"))
	assert.Equal(t, "200", offlinetest.Str(t, tg, "healthCheck.matcher"))
}

func TestProductionProtectsTheFrontDoor(t *testing.T) {
	args := doorArgs()
	args.DeletionProtection = true
	res := offlinetest.Run(t, program(frontdoor.New, "door", args))
	assert.True(t, offlinetest.Bool(t, offlinetest.One(t, res, lbType), "enableDeletionProtection"))
}

func TestTheLogBucketLetsOnlyLoadBalancingWriteItsAccountsLogs(t *testing.T) {
	res := offlinetest.Run(t, program(frontdoor.New, "door", doorArgs()))
	pol := offlinetest.One(t, res, "aws:s3/bucketPolicy:BucketPolicy")
	var doc struct {
		Statement []struct {
			Sid, Effect string
			Principal   any
			Resource    any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(offlinetest.Str(t, pol, "policy")), &doc))
	require.Len(t, doc.Statement, 2)
	assert.Equal(t, map[string]any{"AWS": "arn:aws:iam::114774131450:root"}, doc.Statement[0].Principal,
		"ap-southeast-1 delivers as its regional Elastic Load Balancing account")
	assert.Contains(t, doc.Statement[0].Resource, "/alb/AWSLogs/"+offline.Account+"/*")
	assert.Equal(t, "Deny", doc.Statement[1].Effect, "TLS only")
	pab := offlinetest.One(t, res, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		assert.True(t, offlinetest.Bool(t, pab, k), k)
	}
	sse := offlinetest.One(t, res,
		"aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
	assert.Equal(t, "AES256", offlinetest.Str(t, sse, "rules[0].applyServerSideEncryptionByDefault.sseAlgorithm"),
		"ALB log delivery supports SSE-S3 only")

	newer, err := frontdoor.LogBucketPolicy("arn:aws:s3:::b", "123456789012", "Service",
		frontdoor.LogDeliveryService)
	require.NoError(t, err)
	assert.Contains(t, newer, `"Principal":{"Service":"logdelivery.elasticloadbalancing.amazonaws.com"}`)
}

func TestTheFrontDoorRejectsBadArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(a *frontdoor.Args)
		want   string
	}{
		{"one subnet", func(a *frontdoor.Args) { a.SubnetIDs = a.SubnetIDs[:1] }, "two or more Availability Zones"},
		{"a hostname outside the zone", func(a *frontdoor.Args) { a.Services[1].Hostname = "api.example.org" },
			`hostname "api.example.org" is outside the zone example.com`},
		{"two services on one hostname", func(a *frontdoor.Args) { a.Services[1].Hostname = "web.example.com" },
			`hostname "web.example.com" is taken`},
		{"an idle timeout above 4000s", func(a *frontdoor.Args) { a.IdleTimeout = 2 * time.Hour }, "IdleTimeout"},
		{"the whole internet without a reason", func(a *frontdoor.Args) { a.IngressCidrs = []string{"0.0.0.0/0"} },
			"PublicIngressReason"},
		{"no zone", func(a *frontdoor.Args) { a.ZoneID = "" }, "Domain and ZoneID are required"},
		{"a bucket prefix S3 refuses", func(a *frontdoor.Args) { a.LogBucketPrefix = "App_Logs" }, "LogBucketPrefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := doorArgs()
			tc.change(args)
			res, err := offlinetest.RunErr(program(frontdoor.New, "door", args))
			require.Error(t, err)
			assert.Contains(t, err.Error(), `frontdoor "door": `)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, res.Resources, "nothing is registered")
		})
	}
}

func TestBehindTheFrontDoorTheHostAdmitsOnlyItsGroup(t *testing.T) {
	res := offlinetest.Run(t, program(network.New, "net", &network.Args{
		Ports:                    []int{8501},
		IngressCidrs:             []string{"0.0.0.0/0"},
		FrontDoorSecurityGroupID: pulumi.String("sg-0door"),
	}))
	rule := offlinetest.One(t, res, ingressType)
	assert.Equal(t, "sg-0door", offlinetest.Str(t, rule, "referencedSecurityGroupId"))
	_, cidr := offline.Lookup(rule.Inputs, "cidrIpv4")
	assert.False(t, cidr, "no CIDR reaches the host's service port")
	var toHost bool
	for _, r := range res.OfType(egressType) {
		if offlinetest.Str(t, r, "securityGroupId") == "sg-0door" {
			toHost = true
			assert.Equal(t, float64(8501), offlinetest.Num(t, r, "fromPort"))
		}
	}
	assert.True(t, toHost, "the front door's group may reach the service port")
}

const attachmentType = "aws:lb/targetGroupAttachment:TargetGroupAttachment"

func TestTheHostJoinsTheTargetGroupsOnlyOnceReady(t *testing.T) {
	withTargets := func() *host.Args {
		a := hostArgs()
		a.TargetGroups = []host.TargetGroup{{Service: "web", Arn: pulumi.String("arn:aws:elasticloadbalancing:" +
			"ap-southeast-1:123456789012:targetgroup/web/0123456789abcdef"), Port: 8080}}
		return a
	}
	res, err := runBoots(t, false, withTargets(), nil)
	require.NoError(t, err)
	inst := offlinetest.One(t, res, instanceType)
	att := offlinetest.One(t, res, attachmentType)
	assert.Equal(t, "h-web-target", att.Name)
	assert.Equal(t, inst.ID, offlinetest.Str(t, att, "targetId"))
	assert.Equal(t, float64(8080), offlinetest.Num(t, att, "port"))
	assert.False(t, att.DeleteBeforeReplace, "the new host is registered before the old one is deregistered")

	res, err = runBoots(t, false, withTargets(), nil, "failed health timeout: web did not answer")
	require.Error(t, err)
	assert.Empty(t, res.OfType(attachmentType), "a host that failed its gate is never registered")

	bad := withTargets()
	bad.TargetGroups[0].Port = 0
	_, err = runBoots(t, false, bad, nil)
	assert.ErrorContains(t, err, `host "h": every target group needs Service, Arn and a TCP Port`)
}

func TestTargetGroupNamesFitAWSsLimitAndChangeWithAReplacement(t *testing.T) {
	long := frontdoor.Service{Name: "streamlit-dashboard-for-traders", Port: 8501, Hostname: "x.example.com",
		ReadyPath: "/"}
	name := frontdoor.TargetGroupName("appstack", "production", "app-frontdoor", long, "vpc-1")
	assert.LessOrEqual(t, len(name), 32, "CreateTargetGroup refuses longer names")
	assert.Regexp(t, `^streamlit-dashboard-f-[0-9a-f]{10}$`, name)
	assert.Equal(t, name, frontdoor.TargetGroupName("appstack", "production", "app-frontdoor", long, "vpc-1"),
		"the same inputs keep the name, so nothing is replaced")
	moved := long
	moved.Port = 8502
	assert.NotEqual(t, name, frontdoor.TargetGroupName("appstack", "production", "app-frontdoor", moved, "vpc-1"),
		"a new port replaces the group: the replacement needs a name of its own")
	assert.NotEqual(t, name, frontdoor.TargetGroupName("appstack", "staging", "app-frontdoor", long, "vpc-1"),
		"staging and production in one account never share a name")

	res := offlinetest.Run(t, program(frontdoor.New, "door", doorArgs()))
	tg, ok := res.Named(tgType, "door-web-tg")
	require.True(t, ok)
	assert.Regexp(t, `^web-[0-9a-f]{10}$`, offlinetest.Str(t, tg, "name"))
}

func TestAServiceWithoutAHealthyTargetRaisesAnAlarm(t *testing.T) {
	args := doorArgs()
	args.AlarmTopicArn = pulumi.String("arn:aws:sns:ap-southeast-1:123456789012:alarms")
	res := offlinetest.Run(t, program(frontdoor.New, "door", args))
	alarm, ok := res.Named("aws:cloudwatch/metricAlarm:MetricAlarm", "door-web-unhealthy")
	require.True(t, ok)
	assert.Equal(t, "AWS/ApplicationELB", offlinetest.Str(t, alarm, "namespace"))
	assert.Equal(t, "HealthyHostCount", offlinetest.Str(t, alarm, "metricName"))
	assert.Equal(t, "LessThanThreshold", offlinetest.Str(t, alarm, "comparisonOperator"))
	assert.Equal(t, float64(1), offlinetest.Num(t, alarm, "threshold"))
	assert.Equal(t, "notBreaching", offlinetest.Str(t, alarm, "treatMissingData"),
		"ELB reports nothing while no request flows: a quiet or new stack is not down")
	assert.Regexp(t, `^targetgroup/`, offlinetest.Str(t, alarm, "dimensions.TargetGroup"))
	assert.Regexp(t, `^app/`, offlinetest.Str(t, alarm, "dimensions.LoadBalancer"))
	assert.Equal(t, "arn:aws:sns:ap-southeast-1:123456789012:alarms", offlinetest.Str(t, alarm, "alarmActions[0]"))
	assert.Len(t, res.OfType("aws:cloudwatch/metricAlarm:MetricAlarm"), 2, "one per service")
}

// After registering a new host the update reads its health in every target group until Elastic Load Balancing
// reports it healthy (its registration first, then the healthy threshold), so that the engine deregisters the old
// host (it deletes replaced resources once the program is done) only when the new one is in service.
func TestANewHostIsHealthyInEveryTargetGroupBeforeTheOldOneIsDeregistered(t *testing.T) {
	const web = "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/web/0123456789abcdef"
	args := hostArgs()
	args.TargetGroups = []host.TargetGroup{{Service: "web", Arn: pulumi.String(web), Port: 8080}}
	args.HealthPoll = time.Millisecond
	run := func(dryRun bool, api targethealth.API) string {
		args.TargetHealth = api
		res, err := offline.Run(func(ctx *pulumi.Context) error {
			h, err := host.New(ctx, "h", args)
			if err != nil {
				return err
			}
			ctx.Export("settled", h.Settled)
			return nil
		}, offline.Options{Stack: "test", DryRun: dryRun, Settle: true,
			Config: map[string]string{"aws:region": offlinetest.Region}})
		require.NoError(t, err)
		settled, _ := res.Exports["settled"].(string)
		return settled
	}
	api := &scriptedHealth{states: []string{"initial", "initial", "initial", "healthy"}}
	assert.Equal(t, "healthy in 1 target group(s)", run(false, api))
	assert.Equal(t, 4, api.reads, "read until healthy: a fixed wait cannot know how long a registration takes")
	assert.Equal(t, web, api.group)
	assert.Equal(t, "preview", run(true, &scriptedHealth{}))

	args.TargetGroups = nil
	assert.Equal(t, "no load balancer", run(false, &scriptedHealth{}))
}

// scriptedHealth answers DescribeTargetHealth with states in turn, the last one repeated.
type scriptedHealth struct {
	states []string
	reads  int
	group  string
}

func (s *scriptedHealth) DescribeTargetHealth(_ context.Context, in *elasticloadbalancingv2.DescribeTargetHealthInput,
	_ ...func(*elasticloadbalancingv2.Options)) (*elasticloadbalancingv2.DescribeTargetHealthOutput, error) {
	s.group = aws.ToString(in.TargetGroupArn)
	state := s.states[min(s.reads, len(s.states)-1)]
	s.reads++
	return &elasticloadbalancingv2.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbtypes.TargetHealthDescription{{
		Target:       &elbtypes.TargetDescription{Id: in.Targets[0].Id},
		TargetHealth: &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnum(state)},
	}}}, nil
}

func TestAFleetsTargetGroupNamesStartWithItsStack(t *testing.T) {
	long := frontdoor.Service{Name: "a-very-long-service-name-indeed", Port: 8080}
	plain := frontdoor.TargetGroupName("appstack", "production", "app-frontdoor", long, "vpc-1")
	for _, prefix := range []string{"production", "pr-1234", "staging", strings.Repeat("x", 24)} {
		name := frontdoor.PrefixedTargetGroupName(prefix, plain)
		assert.True(t, strings.HasPrefix(name, prefix+"-"), name)
		assert.LessOrEqual(t, len(name), 32, name)
		assert.GreaterOrEqual(t, len(name)-len(prefix)-1, 7, "at least 7 hash digits: %s", name)
	}
	assert.Equal(t, plain, frontdoor.PrefixedTargetGroupName("", plain), "an empty prefix changes nothing")

	args := doorArgs()
	args.TargetGroupPrefix = "staging"
	res := offlinetest.Run(t, program(frontdoor.New, "door", args))
	for _, tg := range res.OfType(tgType) {
		assert.Regexp(t, `^staging-`, offlinetest.Str(t, tg, "name"))
	}
	args.TargetGroupPrefix = "no_underscores"
	_, err := offlinetest.RunErr(program(frontdoor.New, "door", args))
	assert.ErrorContains(t, err, "TargetGroupPrefix")
}

// A fleet's hostnames forward to its target groups only once its hosts serve: a failed rollout leaves the rules
// as they were (here: not created), so traffic never reaches a target group with no healthy host.
func TestDeferredRoutesWaitForTheHostsToServe(t *testing.T) {
	args := doorArgs()
	args.DeferRouting = true
	res := offlinetest.Run(t, program(frontdoor.New, "door", args))
	rules := res.OfType("aws:lb/listenerRule:ListenerRule")
	require.Len(t, rules, 2, "New leaves the hostnames' rules to Route")
	for _, r := range rules {
		// A target group no load balancer uses is never health-checked (Target.NotInUse): a rule no request
		// matches keeps each one in use, so its hosts are healthy by the time the hostnames move to it.
		assert.Regexp(t, `\.warm\.invalid$`, offlinetest.Str(t, r, "conditions[0].hostHeader.values[0]"))
		assert.GreaterOrEqual(t, offlinetest.Num(t, r, "priority"), float64(frontdoor.WarmRulePriority))
	}

	failed := func(ctx *pulumi.Context) error {
		fd, err := frontdoor.New(ctx, "door", args)
		if err != nil {
			return err
		}
		serving := pulumi.String("x").ToStringOutput().ApplyT(func(string) (string, error) {
			return "", fmt.Errorf("rolling deploy failed")
		}).(pulumi.StringOutput)
		return fd.Route(ctx, serving)
	}
	res, err := offlinetest.RunErr(failed)
	require.ErrorContains(t, err, "rolling deploy failed")
	for _, r := range res.OfType("aws:lb/listenerRule:ListenerRule") {
		assert.Contains(t, r.Name, "-warm", "only the warm rules: no hostname moved")
	}

	served := func(ctx *pulumi.Context) error {
		fd, err := frontdoor.New(ctx, "door", args)
		if err != nil {
			return err
		}
		return fd.Route(ctx, pulumi.String("group runs version 2").ToStringOutput())
	}
	res = offlinetest.Run(t, served)
	assert.Len(t, res.OfType("aws:lb/listenerRule:ListenerRule"), 4, "two warm rules and the two hostnames'")
}

// A rule's priority is unique on its listener (PriorityInUse), and Pulumi deletes a removed service's rule only at
// the end of the update: a priority that followed a service's place would move the next service's rule onto one
// still held. Each service's rules keep their priorities whatever services come or go around it.
func TestListenerRulePrioritiesFollowTheServiceNotItsPlace(t *testing.T) {
	priorities := func(t *testing.T, services ...frontdoor.Service) map[string]float64 {
		t.Helper()
		args := doorArgs()
		args.Services = services
		served := func(ctx *pulumi.Context) error {
			args.DeferRouting = true
			fd, err := frontdoor.New(ctx, "door", args)
			if err != nil {
				return err
			}
			return fd.Route(ctx, pulumi.String("serving").ToStringOutput())
		}
		out := map[string]float64{}
		seen := map[float64]string{}
		for _, r := range offlinetest.Run(t, served).OfType("aws:lb/listenerRule:ListenerRule") {
			p := offlinetest.Num(t, r, "priority")
			assert.NotContains(t, seen, p, "%s and %s share priority %v", r.Name, seen[p], p)
			assert.True(t, p >= 1 && p <= 50000, "%s: priority %v outside 1-50000", r.Name, p)
			seen[p] = r.Name
			out[r.Name] = p
		}
		return out
	}
	web, api := doorArgs().Services[0], doorArgs().Services[1]
	admin := frontdoor.Service{Name: "admin", Port: 8503, Hostname: "admin.example.com", ReadyPath: "/ready"}
	both := priorities(t, web, api)
	require.Len(t, both, 4, "two hostname rules and two warm rules")

	t.Run("removing the first service moves no other rule", func(t *testing.T) {
		after := priorities(t, api)
		for _, rule := range []string{"door-api-rule", "door-api-warm"} {
			assert.Equal(t, both[rule], after[rule], rule)
		}
	})
	t.Run("a service inserted first takes no priority in use", func(t *testing.T) {
		after := priorities(t, admin, web, api)
		for rule, p := range both {
			assert.Equal(t, p, after[rule], rule)
		}
		for _, rule := range []string{"door-admin-rule", "door-admin-warm"} {
			for old, p := range both {
				assert.NotEqual(t, p, after[rule], "%s takes %s's priority", rule, old)
			}
		}
	})
	t.Run("two names on one priority are refused, naming both", func(t *testing.T) {
		clash := ""
		for i := 0; clash == ""; i++ {
			if n := fmt.Sprintf("svc%d", i); frontdoor.RoutePriority(n) == frontdoor.RoutePriority("web") {
				clash = n
			}
		}
		args := doorArgs()
		args.Services[1].Name = clash
		_, err := offlinetest.RunErr(program(frontdoor.New, "door", args))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `services "web" and "`+clash+`" would share listener rule priority`)
	})
}

// The provider changes a target group's health check in place, so the serving host would at once be checked on a
// path it may not answer: a ready path change names a new group instead, which takes requests only once it holds
// a healthy target. Groups on the default ready path keep the names they had before the path counted.
func TestAReadyPathChangeMakesANewTargetGroup(t *testing.T) {
	web := frontdoor.Service{Name: "web", Port: 8080, Hostname: "web.example.com", ReadyPath: "/ready"}
	name := frontdoor.TargetGroupName("appstack", "production", "app-frontdoor", web, "vpc-1")
	sum := sha256.Sum256([]byte(strings.Join([]string{"appstack", "production", "app-frontdoor", "web", "8080",
		"HTTP", "HTTP1", "instance", "vpc-1"}, "\x00")))
	assert.Equal(t, "web-"+hex.EncodeToString(sum[:])[:10], name, "the default path keeps a deployed group's name")

	moved := web
	moved.ReadyPath = "/ready/v2"
	assert.NotEqual(t, name, frontdoor.TargetGroupName("appstack", "production", "app-frontdoor", moved, "vpc-1"),
		"a new ready path replaces the group")

	before := offlinetest.Run(t, program(frontdoor.New, "door", doorArgs()))
	args := doorArgs()
	args.Services[1].ReadyPath = "/api/ready/v2"
	after := offlinetest.Run(t, program(frontdoor.New, "door", args))
	for _, tg := range []string{"door-web-tg", "door-api-tg"} {
		b, ok := before.Named(tgType, tg)
		require.True(t, ok)
		a, ok := after.Named(tgType, tg)
		require.True(t, ok)
		if tg == "door-web-tg" {
			assert.Equal(t, offlinetest.Str(t, b, "name"), offlinetest.Str(t, a, "name"), "web's group stays")
		} else {
			assert.NotEqual(t, offlinetest.Str(t, b, "name"), offlinetest.Str(t, a, "name"), "api's group is new")
		}
	}
}
