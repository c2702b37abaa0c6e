package components_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/network"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const (
	ingressType = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	egressType  = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	sgType      = "aws:ec2/securityGroup:SecurityGroup"
)

func TestIngressIsOnlyServicePortsFromIngressCidrs(t *testing.T) {
	res := offlinetest.Run(t, program(network.New, "net", &network.Args{
		Ports:        []int{8501, 8502},
		IngressCidrs: []string{"203.0.113.0/24", "2001:db8::/32"},
	}))
	rules := res.OfType(ingressType)
	require.Len(t, rules, 4, "one rule per port and CIDR")
	seen := map[string]bool{}
	for _, r := range rules {
		from, to := offlinetest.Num(t, r, "fromPort"), offlinetest.Num(t, r, "toPort")
		assert.Equal(t, from, to, "%s opens a range", r.Name)
		assert.Contains(t, []float64{8501, 8502}, from)
		assert.Equal(t, "tcp", offlinetest.Str(t, r, "ipProtocol"))
		v, ok := offline.Lookup(r.Inputs, "cidrIpv4")
		if !ok {
			v = offlinetest.Prop(t, r, "cidrIpv6")
		}
		seen[v.StringValue()] = true
	}
	assert.Equal(t, map[string]bool{"203.0.113.0/24": true, "2001:db8::/32": true}, seen)
}

func TestShellPortsAreNeverOpened(t *testing.T) {
	for _, port := range []int{22, 3389} {
		_, err := offlinetest.RunErr(program(network.New, "net", &network.Args{Ports: []int{8080, port}, IngressCidrs: []string{"10.0.0.0/8"}}))
		require.Error(t, err, "port %d", port)
		assert.Contains(t, err.Error(), "is never opened; use SSM Session Manager")
	}
}

func TestWholeInternetNeedsAReason(t *testing.T) {
	_, err := offlinetest.RunErr(program(network.New, "net", &network.Args{Ports: []int{8080}, IngressCidrs: []string{"0.0.0.0/0"}}))
	require.ErrorContains(t, err, `"0.0.0.0/0" opens the ports to the whole internet and needs PublicIngressReason`)

	res := offlinetest.Run(t, program(network.New, "net", &network.Args{Ports: []int{8080}, IngressCidrs: []string{"0.0.0.0/0"},
		PublicIngressReason: "public web page"}))
	assert.Len(t, res.OfType(ingressType), 1)
}

func TestEgressIsHTTPSOnly(t *testing.T) {
	res := offlinetest.Run(t, program(network.New, "net", &network.Args{Ports: []int{8080}, IngressCidrs: []string{"10.0.0.0/8"}}))
	egress := offlinetest.One(t, res, egressType)
	assert.Equal(t, 443.0, offlinetest.Num(t, egress, "fromPort"))
	assert.Equal(t, 443.0, offlinetest.Num(t, egress, "toPort"))
	assert.Equal(t, "tcp", offlinetest.Str(t, egress, "ipProtocol"))
}

func TestGroupAndRulesAreDescribedAndRulesAreStandalone(t *testing.T) {
	res := offlinetest.Run(t, program(network.New, "net", &network.Args{Ports: []int{8080}, IngressCidrs: []string{"10.0.0.0/8"},
		VpcID: "vpc-0123456789abcdef0", Tags: map[string]string{"app": "x"}}))
	sg := offlinetest.One(t, res, sgType)
	assert.NotEmpty(t, offlinetest.Str(t, sg, "description"))
	assert.Equal(t, "vpc-0123456789abcdef0", offlinetest.Str(t, sg, "vpcId"))
	for _, inline := range []string{"ingress", "egress"} {
		_, has := sg.Inputs[resource.PropertyKey(inline)]
		assert.False(t, has, "the group must not carry inline %s rules next to standalone ones", inline)
	}
	for _, r := range append(res.OfType(ingressType), res.OfType(egressType)...) {
		assert.NotEmpty(t, offlinetest.Str(t, r, "description"), r.Name)
		assert.Equal(t, "x", offlinetest.Str(t, r, "tags.app"), r.Name)
	}
}

func TestTwoNetworksDoNotCollide(t *testing.T) {
	res := offlinetest.Run(t, func(ctx *pulumi.Context) error {
		for _, name := range []string{"a", "b"} {
			if _, err := network.New(ctx, name, &network.Args{Ports: []int{8080}, IngressCidrs: []string{"10.0.0.0/8"}}); err != nil {
				return err
			}
		}
		return nil
	})
	urns := map[string]bool{}
	for _, r := range res.Resources {
		assert.False(t, urns[r.URN], "duplicate URN %s", r.URN)
		urns[r.URN] = true
	}
	assert.Len(t, res.OfType(sgType), 2)
}
