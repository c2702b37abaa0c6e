package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/policy"
	"appstack/stacks"
)

type violations struct{ got []string }

func (v *violations) ReportViolation(message, urn string) { v.got = append(v.got, urn+": "+message) }

// validate runs every policy of the pack over the resources, as the engine would.
func validate(t *testing.T, resources []policy.Resource, waivers stacks.Waivers) []string {
	t.Helper()
	pack, err := Pack(waivers)
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
					Options:    pulumi.ResourceOptions{Protect: r.Protect, RetainOnDelete: r.RetainOnDelete},
				},
			})
			require.NoError(t, err)
		}
	}
	return v.got
}

// recorded is a committed stack's offline preview as internal/preview records it in testdata (and its golden
// test keeps current): the resources the program declares and the findings the offline policy made of them.
// Reading the record instead of running the program keeps the program out of this test binary.
type recorded struct {
	Resources []struct {
		URN, Type, Name, Parent string
		Inputs                  map[string]any
		Options                 struct {
			Protect, RetainOnDelete bool
		}
	}
	Findings, Waived []policy.Finding
}

func stackResources(t *testing.T, stack string) ([]policy.Resource, []policy.Finding) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "internal", "preview", "testdata", stack+".json"))
	require.NoError(t, err)
	var rec recorded
	require.NoError(t, json.Unmarshal(data, &rec))
	require.NotEmpty(t, rec.Resources)
	var out []policy.Resource
	for _, r := range rec.Resources {
		out = append(out, policy.Resource{URN: r.URN, Type: r.Type, Name: r.Name, Parent: r.Parent,
			Inputs: resource.NewPropertyMapFromMap(r.Inputs), Protect: r.Options.Protect,
			RetainOnDelete: r.Options.RetainOnDelete})
	}
	return out, append(rec.Findings, rec.Waived...)
}

func TestPackHasARulePerPolicy(t *testing.T) {
	pack, err := Pack(nil)
	require.NoError(t, err)
	assert.Equal(t, "appstack", pack.Name())
	assert.Len(t, pack.Policies(), len(policy.Rules)-len(stackOnly))
	for _, p := range pack.Policies() {
		assert.Regexp(t, `^appstack-[a-z0-9]+-\d{3}$`, p.Name())
		assert.NotEmpty(t, p.Description())
	}
}

// committedWaivers reads a committed stack file's appstack:waivers the way the engine hands them to the pack.
func committedWaivers(t *testing.T, stack string) stacks.Waivers {
	t.Helper()
	f, err := offline.ReadStackFile(filepath.Join("..", "Pulumi."+stack+".yaml"))
	require.NoError(t, err)
	ws, err := StackWaivers(func(k string) (string, bool) { v, ok := f.Config[k]; return v, ok })
	require.NoError(t, err)
	return ws
}

func TestPackAgreesWithTheOfflinePolicy(t *testing.T) {
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			resources, findings := stackResources(t, stack)
			var want []string
			for _, f := range findings {
				want = append(want, f.URN+": ["+string(f.Severity)+"] "+f.Rule+" "+f.Name+": "+f.Message+". Fix: "+f.Fix)
			}
			// The committed stacks waive two rules (production three: it serves plain HTTP): without the
			// waivers the pack reports every finding, with the stack's own waivers it reports none, as the
			// offline preview does.
			require.Len(t, want, map[string]int{"staging": 2, "production": 3}[stack])
			assert.ElementsMatch(t, want, validate(t, resources, nil))
			assert.Empty(t, validate(t, resources, committedWaivers(t, stack)))
			// The engine's per-resource analysis may send no parent: the rules read the parents' types from the
			// URN alike (a single host's interface-tagging launch template is no fleet's).
			orphans := make([]policy.Resource, len(resources))
			for i, r := range resources {
				r.Parent = ""
				orphans[i] = r
			}
			assert.Empty(t, validate(t, orphans, committedWaivers(t, stack)), "without parents")
		})
	}
}

func TestPackWaivers(t *testing.T) {
	resources, _ := stackResources(t, "staging")
	t.Run("a waiver accepts only its own rule's findings", func(t *testing.T) {
		got := validate(t, resources, stacks.Waivers{{Rule: "APPSTACK-NET-007", Reason: "a public page"}})
		require.Len(t, got, 1)
		assert.Contains(t, got[0], "APPSTACK-EC2-010")
	})
	t.Run("a critical rule cannot be waived", func(t *testing.T) {
		var critical string
		for _, r := range policy.Rules {
			if r.Severity == policy.Critical {
				critical = r.ID
				break
			}
		}
		require.NotEmpty(t, critical)
		_, err := Pack(stacks.Waivers{{Rule: critical, Reason: "because"}})
		assert.ErrorContains(t, err, "appstack:waivers[0].rule: "+critical)
		assert.ErrorContains(t, err, "cannot be waived")
	})
	t.Run("an unknown rule is an error", func(t *testing.T) {
		_, err := Pack(stacks.Waivers{{Rule: "APPSTACK-NOPE-001", Reason: "because"}})
		assert.ErrorContains(t, err, `"APPSTACK-NOPE-001" is not a policy rule`)
	})
	t.Run("malformed waivers name the key", func(t *testing.T) {
		for _, raw := range []string{`{"rule":"x"}`, `[{"rule":"APPSTACK-NET-007"}]`, `[{"rule":"x","reason":"y","z":1}]`} {
			_, err := StackWaivers(func(string) (string, bool) { return raw, true })
			assert.ErrorContains(t, err, "appstack:waivers", raw)
		}
	})
}

func TestPackCatchesABrokenResource(t *testing.T) {
	resources, _ := stackResources(t, "staging")
	for i, r := range resources {
		if r.Type == policy.Instance {
			inputs := r.Inputs.Copy()
			md := inputs["metadataOptions"].ObjectValue().Copy()
			md["httpTokens"] = resource.NewProperty("optional")
			inputs["metadataOptions"] = resource.NewProperty(md)
			resources[i].Inputs = inputs
		}
	}
	assert.Contains(t, strings.Join(validate(t, resources, committedWaivers(t, "staging")), "\n"),
		`[high] APPSTACK-EC2-001 app-host-instance: httpTokens is "optional", not required`)
}

// computedRE matches what only exists once its resource does: ARNs, ids, auto-named physical names, URLs
// with the account.
var computedRE = regexp.MustCompile(`arn:aws:|^(sg|i|eipalloc|sgr)-0[0-9a-f]+$|-[0-9a-f]{7}$|123456789012`)

// unknownComputed makes every input that a first `pulumi preview` cannot know unknown, as the engine hands it
// to the pack: a value wired from another resource's computed output, or a string built from one.
func unknownComputed(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsObject():
		m := resource.PropertyMap{}
		for k, x := range v.ObjectValue() {
			m[k] = unknownComputed(x)
		}
		return resource.NewProperty(m)
	case v.IsArray():
		var a []resource.PropertyValue
		for _, x := range v.ArrayValue() {
			a = append(a, unknownComputed(x))
		}
		return resource.NewProperty(a)
	case v.IsString() && computedRE.MatchString(v.StringValue()):
		return resource.MakeComputed(resource.NewProperty(""))
	}
	return v
}

// A first preview knows no ids, ARNs or generated names. The pack must judge what it knows and not report
// an unknown value as a missing one.
func TestPackCopesWithUnknownValuesInAPreview(t *testing.T) {
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			resources, _ := stackResources(t, stack)
			known := validate(t, resources, nil)
			unknowns := 0
			for i := range resources {
				before := resources[i].Inputs
				resources[i].Inputs = unknownComputed(resource.NewProperty(before)).ObjectValue()
				if !resources[i].Inputs.DeepEquals(before) {
					unknowns++
				}
			}
			require.Greater(t, unknowns, 10, "the preview has unknown inputs")
			assert.ElementsMatch(t, known, validate(t, resources, nil))
		})
	}
}

// fleetResource is one resource of a fleet as components/fleet declares it, with the stack's tags.
func fleetResource(typ, name string, inputs map[string]any) policy.Resource {
	return policy.Resource{Type: typ, Name: name, URN: "urn:pulumi:staging::appstack::" + typ + "::" + name,
		Inputs: resource.NewPropertyMapFromMap(inputs)}
}

func fleetTemplate(publicIP string) policy.Resource {
	tags := map[string]any{"app": "app", "environment": "staging", "stack": "staging", "managed-by": "appstack"}
	return fleetResource(policy.LaunchTemplate, "app-fleet-template", map[string]any{
		"imageId": "ami-0123456789abcdef0", "userData": "IyEvYmluL2Jhc2gK",
		"metadataOptions": map[string]any{"httpEndpoint": "enabled", "httpTokens": "required",
			"httpPutResponseHopLimit": 1},
		"blockDeviceMappings": []any{map[string]any{"deviceName": "/dev/xvda",
			"ebs": map[string]any{"volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}}},
		"networkInterfaces": []any{map[string]any{"deviceIndex": 0, "associatePublicIpAddress": publicIP}},
		"tagSpecifications": []any{map[string]any{"resourceType": "instance", "tags": tags},
			map[string]any{"resourceType": "volume", "tags": tags}},
		"tags": tags,
	})
}

func fleetGroup(version string) policy.Resource {
	var tags []any
	for _, k := range []string{"app", "environment", "stack", "managed-by"} {
		v := map[string]string{"app": "app", "environment": "staging", "stack": "staging", "managed-by": "appstack"}[k]
		tags = append(tags, map[string]any{"key": k, "value": v, "propagateAtLaunch": true})
	}
	return fleetResource(policy.AutoScalingGroup, "app-fleet-group", map[string]any{
		"name": "appstack-staging-app", "minSize": 1, "maxSize": 2, "vpcZoneIdentifiers": []any{"subnet-a", "subnet-b"},
		"targetGroupArns": []any{"arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:targetgroup/web/0"},
		"healthCheckType": "ELB", "healthCheckGracePeriod": 600,
		"instanceMaintenancePolicy": map[string]any{"minHealthyPercentage": 100, "maxHealthyPercentage": 200},
		"mixedInstancesPolicy": map[string]any{"launchTemplate": map[string]any{
			"launchTemplateSpecification": map[string]any{"launchTemplateId": "lt-0", "version": version}}},
		"tags": tags,
	})
}

// The pack judges a fleet's launch template and group one resource at a time, as the engine hands them over.
func TestPackJudgesAFleet(t *testing.T) {
	good := []policy.Resource{fleetTemplate("false"), fleetGroup("3")}
	assert.Empty(t, validate(t, good, nil))

	got := strings.Join(validate(t, []policy.Resource{fleetTemplate("false"), fleetGroup("$Latest")}, nil), "\n")
	assert.Contains(t, got, `[high] APPSTACK-ASG-007 app-fleet-group: mixedInstancesPolicy.launchTemplate.`+
		`launchTemplateSpecification.version is "$Latest", not a version number`)

	// A first preview does not know the template's latest version yet: unknown is not $Latest.
	preview := fleetGroup("3")
	preview.Inputs = unknownComputed(resource.NewProperty(preview.Inputs)).ObjectValue()
	lt := preview.Inputs["mixedInstancesPolicy"].ObjectValue()["launchTemplate"].ObjectValue()
	lt["launchTemplateSpecification"].ObjectValue()["version"] = resource.MakeComputed(resource.NewProperty(""))
	assert.Empty(t, validate(t, []policy.Resource{preview}, nil))

	public := []policy.Resource{fleetTemplate("true"), fleetGroup("3")}
	got = strings.Join(validate(t, public, nil), "\n")
	assert.Contains(t, got, "[medium] APPSTACK-ASG-003 app-fleet-template: networkInterfaces[0] gets a public IP")
	assert.Empty(t, validate(t, public, stacks.Waivers{{Rule: "APPSTACK-ASG-003",
		Reason: "the default VPC has no NAT gateway"}}), "a waiver in appstack:waivers accepts it")
}
