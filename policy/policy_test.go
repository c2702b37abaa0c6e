// The rules' own tests: each judges resources built here, with no program run. The tests that judge the
// program's output (the committed stacks pass, every rule has a fixture that breaks it) need the program and
// live beside it, in infra/policy_test.go.

package policy_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"

	"appstack/policy"
	"appstack/stacks"
)

func TestRulesAreWellFormed(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range policy.Rules {
		assert.False(t, ids[r.ID], "duplicate id %s", r.ID)
		ids[r.ID] = true
		assert.NotEmpty(t, r.Mirrors, r.ID)
		assert.NotEmpty(t, r.Title, r.ID)
		assert.NotEmpty(t, r.Fix, r.ID)
		assert.NotEmpty(t, r.Types, r.ID)
		assert.Contains(t, []policy.Severity{policy.Critical, policy.High, policy.Medium, policy.Low}, r.Severity)
	}
	assert.GreaterOrEqual(t, len(policy.Rules), 30)
}

func TestWaiversAreChecked(t *testing.T) {
	assert.Empty(t, policy.CheckWaivers([]stacks.Waiver{{Rule: "APPSTACK-NET-007", Reason: "public page"}}))
	assert.Equal(t, []string{
		`appstack:waivers[0].rule: "APPSTACK-NOPE" is not a policy rule`,
		"appstack:waivers[1].rule: APPSTACK-NET-001 (SSH (22) is never open) is critical and cannot be waived",
	}, policy.CheckWaivers([]stacks.Waiver{{Rule: "APPSTACK-NOPE", Reason: "x"}, {Rule: "APPSTACK-NET-001",
		Reason: "x"}}))
}

func TestLookupFollowsPathsThroughSecrets(t *testing.T) {
	pm := resource.PropertyMap{
		"rootBlockDevice": resource.MakeSecret(resource.NewProperty(resource.PropertyMap{
			"encrypted": resource.NewProperty(true)})),
		"rules": resource.NewProperty([]resource.PropertyValue{resource.NewProperty(resource.PropertyMap{
			"port": resource.NewProperty(443.0)})}),
		"absent": resource.NewNullProperty(),
	}
	for _, tc := range []struct {
		name, path string
		want       resource.PropertyValue
		found      bool
	}{
		{"a key inside a secret object", "rootBlockDevice.encrypted", resource.NewProperty(true), true},
		{"an element of a list", "rules[0].port", resource.NewProperty(443.0), true},
		{"an index past the end", "rules[1].port", resource.PropertyValue{}, false},
		{"a null is not set", "absent", resource.PropertyValue{}, false},
		{"a missing key", "rootBlockDevice.volumeType", resource.PropertyValue{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := policy.Lookup(pm, tc.path)
			assert.Equal(t, tc.found, ok)
			assert.True(t, tc.want.DeepEquals(got), "got %v", got)
		})
	}
}
func ingressFrom(env, cidr, group string) policy.Resource {
	return policy.Resource{Type: policy.IngressRule, Name: "in", URN: "urn:in",
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"ipProtocol": "tcp", "fromPort": 8080,
			"toPort": 8080, "cidrIpv4": cidr, "securityGroupId": group, "description": "x",
			"tags": map[string]any{"environment": env}})}
}

func plainHTTPFindings(resources ...policy.Resource) []policy.Finding {
	var out []policy.Finding
	for _, f := range policy.Evaluate(resources) {
		if f.Rule == "APPSTACK-NET-008" {
			out = append(out, f)
		}
	}
	return out
}

func TestProductionServingPlainHTTPToTheWorldIsAFinding(t *testing.T) {
	t.Run("production host ports open to the internet", func(t *testing.T) {
		got := plainHTTPFindings(ingressFrom("production", "0.0.0.0/0", "sg-host"))
		if assert.Len(t, got, 1) {
			assert.Equal(t, policy.High, got[0].Severity, "high: waivable with a reason, unlike critical")
			assert.Contains(t, got[0].Message, "production serves port 8080 to the whole internet without TLS")
		}
	})
	t.Run("staging may serve plain HTTP", func(t *testing.T) {
		assert.Empty(t, plainHTTPFindings(ingressFrom("staging", "0.0.0.0/0", "sg-host")))
	})
	t.Run("production open to a named network only", func(t *testing.T) {
		assert.Empty(t, plainHTTPFindings(ingressFrom("production", "203.0.113.0/24", "sg-host")))
	})
	t.Run("the front door's own ports are left to APPSTACK-ELB-001", func(t *testing.T) {
		for _, port := range []int{80, 443} {
			r := ingressFrom("production", "0.0.0.0/0", "sg-lb")
			r.Inputs["fromPort"], r.Inputs["toPort"] = resource.NewProperty(float64(port)),
				resource.NewProperty(float64(port))
			assert.Empty(t, plainHTTPFindings(r), "port %d", port)
		}
	})
}
