package infra_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"

	"appstack/policy"
)

// The front door's rules break the documented example stack, which has a domain (the committed stacks have none).
func init() {
	fixtures = append(fixtures,
		fixture{rule: "APPSTACK-ELB-001", stack: "example", add: listener(map[string]any{"protocol": "HTTP",
			"defaultActions": []any{map[string]any{"type": "forward", "targetGroupArn": "arn:tg"}}})},
		fixture{rule: "APPSTACK-ELB-001", stack: "example", add: listener(map[string]any{"protocol": "HTTP",
			"defaultActions": []any{map[string]any{"type": "redirect",
				"redirect": map[string]any{"protocol": "HTTP", "port": "8080"}}}})},
		fixture{rule: "APPSTACK-ELB-002", stack: "example", add: listener(map[string]any{"protocol": "HTTPS",
			"sslPolicy": "ELBSecurityPolicy-2016-08", "routingHttpResponseStrictTransportSecurityHeaderValue": hsts})},
		fixture{rule: "APPSTACK-ELB-002", stack: "example", add: listener(map[string]any{"protocol": "HTTPS",
			"sslPolicy": "ELBSecurityPolicy-TLS13-1-0-2021-06",
			"routingHttpResponseStrictTransportSecurityHeaderValue": hsts})},
		fixture{rule: "APPSTACK-ELB-003", stack: "example", typ: policy.LoadBalancer,
			breakIt: setInput("dropInvalidHeaderFields", false)},
		fixture{rule: "APPSTACK-ELB-004", stack: "example", typ: policy.LoadBalancer,
			breakIt: setInput("accessLogs.enabled", false)},
		fixture{rule: "APPSTACK-ELB-005", stack: "example", typ: policy.LoadBalancer,
			breakIt: setInput("enableDeletionProtection", false)},
		fixture{rule: "APPSTACK-ELB-006", stack: "example", add: &policy.Resource{Type: policy.IngressRule,
			Name: "around-the-door", Inputs: resource.NewPropertyMapFromMap(map[string]any{
				"securityGroupId": "sg-0host", "ipProtocol": "tcp", "fromPort": 8080, "toPort": 8080,
				"cidrIpv4": "203.0.113.0/24", "description": "x"})}},
		fixture{rule: "APPSTACK-ELB-007", stack: "example", add: listener(map[string]any{"protocol": "HTTPS",
			"sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"})},
		fixture{rule: "APPSTACK-ELB-007", stack: "example", add: listener(map[string]any{"protocol": "HTTPS",
			"sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
			"routingHttpResponseStrictTransportSecurityHeaderValue": "max-age=300"})},
	)
}

const hsts = "max-age=31536000; includeSubDomains"

// listener is a load balancer listener with the stack's tags and the given inputs.
func listener(inputs map[string]any) *policy.Resource {
	inputs["tags"] = map[string]any{"app": "appstack", "environment": "production", "stack": "example",
		"managed-by": "appstack"}
	return &policy.Resource{Type: policy.Listener, Name: "fixture", Inputs: resource.NewPropertyMapFromMap(inputs)}
}

func TestTheExampleStackHasNoOpenFindings(t *testing.T) {
	open, waived := policy.Review(evaluate(t, "example", nil))
	assert.Empty(t, open)
	var rules []string
	for _, f := range waived {
		rules = append(rules, f.Rule)
		assert.NotEmpty(t, f.Waiver)
	}
	assert.ElementsMatch(t, []string{"APPSTACK-EC2-010", "APPSTACK-NET-007", "APPSTACK-NET-007"}, rules,
		"the front door's 443 and 80 face the public page's audience; the host keeps its egress address")
}

func TestTheOriginRuleIgnoresAStackWithoutAFrontDoor(t *testing.T) {
	resources, _ := evaluate(t, "staging", nil)
	assert.Zero(t, count(policy.Evaluate(resources), "APPSTACK-ELB-006"),
		"without a load balancer the host's CIDR rules are how the services are reached")
}
