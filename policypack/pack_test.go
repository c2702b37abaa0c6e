package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/infra"
	"appstack/internal/offline"
	"appstack/internal/offline/offlinetest"
	"appstack/policy"
)

type violations struct{ got []string }

func (v *violations) ReportViolation(message, urn string) { v.got = append(v.got, urn+": "+message) }

// validate runs every policy of the pack over the resources, as the engine would.
func validate(t *testing.T, resources []offline.Resource) []string {
	t.Helper()
	pack, err := Pack()
	require.NoError(t, err)
	v := &violations{}
	for _, p := range pack.Policies() {
		rv, ok := p.(policyx.ResourceValidationPolicy)
		require.True(t, ok)
		for _, r := range resources {
			err := rv.Validate(context.Background(), policyx.ResourceValidationArgs{
				Manager: v,
				Resource: policyx.AnalyzerResource{
					Type: r.Type, Name: r.Name, URN: r.URN, Parent: r.Parent,
					Properties: resource.FromResourcePropertyMap(r.Inputs),
					Options: pulumi.ResourceOptions{Protect: r.Protect, RetainOnDelete: r.RetainOnDelete,
						IgnoreChanges: r.IgnoreChanges},
				},
			})
			require.NoError(t, err)
		}
	}
	return v.got
}

func stackResources(t *testing.T, stack string) []offline.Resource {
	f := offlinetest.StackConfig(t, stack, nil)
	res, err := offlinetest.RunStack(t, infra.Program, stack, f.Config, f.SecretKeys...)
	require.NoError(t, err)
	return res.Resources
}

func TestPackHasARulePerPolicy(t *testing.T) {
	pack, err := Pack()
	require.NoError(t, err)
	assert.Equal(t, "appstack", pack.Name())
	assert.Len(t, pack.Policies(), len(policy.Rules)-len(stackOnly))
	for _, p := range pack.Policies() {
		assert.Regexp(t, `^appstack-[a-z0-9]+-\d{3}$`, p.Name())
		assert.NotEmpty(t, p.Description())
	}
}

func TestPackAgreesWithTheOfflinePolicy(t *testing.T) {
	resources := stackResources(t, "production")
	got := validate(t, resources)
	// The committed stack waives two rules; the pack reports them (a stack disables them in its policy config).
	require.Len(t, got, 2, "%v", got)
	assert.Contains(t, strings.Join(got, "\n"), "APPSTACK-NET-007")
	assert.Contains(t, strings.Join(got, "\n"), "APPSTACK-EC2-010")
}

func TestPackCatchesABrokenResource(t *testing.T) {
	resources := stackResources(t, "staging")
	for i, r := range resources {
		if r.Type == policy.Instance {
			inputs := r.Inputs.Copy()
			md := inputs["metadataOptions"].ObjectValue().Copy()
			md["httpTokens"] = resource.NewProperty("optional")
			inputs["metadataOptions"] = resource.NewProperty(md)
			resources[i].Inputs = inputs
		}
	}
	assert.Contains(t, strings.Join(validate(t, resources), "\n"),
		`[high] APPSTACK-EC2-001 app-host-instance: httpTokens is "optional", not required`)
}
