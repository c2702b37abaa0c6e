package infra_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"

	"appstack/internal/offline"
	"appstack/policy"
)

func ingressFrom(env, cidr, group string) offline.Resource {
	return offline.Resource{Type: policy.IngressRule, Name: "in", URN: "urn:in",
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"ipProtocol": "tcp", "fromPort": 8080,
			"toPort": 8080, "cidrIpv4": cidr, "securityGroupId": group, "description": "x",
			"tags": map[string]any{"environment": env}})}
}

func plainHTTPFindings(resources ...offline.Resource) []policy.Finding {
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
