// The tests of package policy. They judge the rules on the program's own output — the committed stacks pass,
// and every rule has a fixture, a passing stack with one property broken, that makes it fail — so they live
// beside the program and share its test binary (one binary fewer to link: see docs/performance.md).

package infra_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/infra"
	"appstack/internal/offline"
	"appstack/policy"
	"appstack/stacks"
	"appstack/testing/offlinetest"
)

// evaluate runs the program on a committed stack file, optionally with config changes, and returns the
// resources and the stack's waivers.
func evaluate(t *testing.T, stack string, changes map[string]string, secretKeys ...string) ([]policy.Resource,
	[]stacks.Waiver) {
	t.Helper()
	f := offlinetest.StackConfig(t, stack, changes)
	res, err := offlinetest.RunStack(t, infra.Program, stack, f.Config, append(f.SecretKeys, secretKeys...)...)
	require.NoError(t, err)
	return offline.PolicyResources(res.Resources), offlinetest.Waivers(t, f.Config)
}

// deepCopy copies a property value down to its leaves, so that a fixture's change never reaches another's.
func deepCopy(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = deepCopy(e)
		}
		return resource.NewProperty(out)
	case v.IsArray():
		out := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = deepCopy(e)
		}
		return resource.NewProperty(out)
	case v.IsSecret():
		return resource.MakeSecret(deepCopy(v.SecretValue().Element))
	}
	return v
}

func count(findings []policy.Finding, rule string) int {
	n := 0
	for _, f := range findings {
		if f.Rule == rule {
			n++
		}
	}
	return n
}

func TestCommittedStacksHaveNoFindings(t *testing.T) {
	for _, tc := range []struct {
		name, stack string
		changes     map[string]string
	}{
		{"staging", "staging", nil},
		{"production", "production", nil},
		{"ephemeral profile", "staging", map[string]string{"appstack:environment": "ephemeral"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, waived := policy.Review(evaluate(t, tc.stack, tc.changes))
			assert.Empty(t, open)
			var rules []string
			for _, f := range waived {
				rules = append(rules, f.Rule)
				assert.NotEmpty(t, f.Waiver)
			}
			want := []string{"APPSTACK-EC2-010", "APPSTACK-NET-007"}
			if tc.stack == "production" && tc.changes == nil {
				want = append(want, "APPSTACK-NET-008") // production serves the page over plain HTTP
			}
			assert.ElementsMatch(t, want, rules, "the public web page's waivers, each with its reason")
		})
	}
}

// fixture breaks one property of a good stack.
type fixture struct {
	rule  string
	stack string
	// breakIt changes the first resource of typ.
	typ     string
	breakIt func(r *policy.Resource)
	// add appends a resource instead.
	add *policy.Resource
	// fleet adds a passing fleet (policy_fleet_test.go) to the stack before typ is broken.
	fleet bool
	// changes is the stack's config change; nil for withSecret.
	changes map[string]string
}

func setInput(path string, v any) func(r *policy.Resource) {
	return func(r *policy.Resource) { r.Inputs = set(r.Inputs, strings.Split(path, "."), v) }
}

func deleteInput(key string) func(r *policy.Resource) {
	return func(r *policy.Resource) {
		r.Inputs = r.Inputs.Copy()
		delete(r.Inputs, resource.PropertyKey(key))
	}
}

// set returns a copy of pm with path set to v; "a[0]" indexes an array. Nothing shared with pm is changed.
func set(pm resource.PropertyMap, path []string, v any) resource.PropertyMap {
	out := pm.Copy()
	name, index, hasIndex := strings.Cut(path[0], "[")
	key := resource.PropertyKey(name)
	if len(path) == 1 && !hasIndex {
		if pv, ok := v.(resource.PropertyValue); ok {
			out[key] = pv
		} else {
			out[key] = resource.NewPropertyValue(v)
		}
		return out
	}
	if hasIndex {
		i, _ := strconv.Atoi(strings.TrimSuffix(index, "]"))
		arr := append([]resource.PropertyValue(nil), out[key].ArrayValue()...)
		arr[i] = resource.NewObjectProperty(set(arr[i].ObjectValue(), path[1:], v))
		out[key] = resource.NewArrayProperty(arr)
		return out
	}
	inner := resource.PropertyMap{}
	if cur, ok := out[key]; ok && cur.IsObject() {
		inner = cur.ObjectValue()
	}
	out[key] = resource.NewObjectProperty(set(inner, path[1:], v))
	return out
}

// rootKeyStatement is AWS's default key policy statement: the account administers the key through IAM.
const rootKeyStatement = `{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},` +
	`"Action":"kms:*","Resource":"*"}`

func policyDoc(statement string) string {
	return `{"Version":"2012-10-17","Statement":[` + statement + `]}`
}

var fixtures = []fixture{
	{rule: "APPSTACK-EC2-001", typ: policy.Instance, breakIt: setInput("metadataOptions.httpTokens", "optional")},
	{rule: "APPSTACK-EC2-002", typ: policy.Instance, breakIt: setInput("metadataOptions.httpPutResponseHopLimit", 2)},
	{rule: "APPSTACK-EC2-003", typ: policy.Instance, breakIt: setInput("rootBlockDevice.encrypted", false)},
	{rule: "APPSTACK-EC2-004", typ: policy.Instance,
		breakIt: setInput("userData", "#!/bin/bash\nexport AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n")},
	{rule: "APPSTACK-EC2-004", typ: policy.Instance, breakIt: func(r *policy.Resource) {
		deleteInput("userData")(r)
		setInput("userDataBase64", gzipBase64("#!/bin/bash\nexport AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n"))(r)
	}},
	{rule: "APPSTACK-EC2-005", typ: policy.Instance, breakIt: deleteInput("iamInstanceProfile")},
	{rule: "APPSTACK-EC2-006", stack: "production", typ: policy.Instance, breakIt: setInput("monitoring", false)},
	{rule: "APPSTACK-EC2-007", typ: policy.Instance, breakIt: setInput("ebsOptimized", false)},
	{rule: "APPSTACK-EC2-008", typ: policy.Instance, breakIt: setInput("securityGroups", []any{"default"})},
	{rule: "APPSTACK-EC2-009", typ: policy.Instance, breakIt: setInput("rootBlockDevice.volumeType", "gp2")},
	{rule: "APPSTACK-NET-001", typ: policy.IngressRule, breakIt: func(r *policy.Resource) {
		setInput("fromPort", 22)(r)
		setInput("toPort", 22)(r)
	}},
	{rule: "APPSTACK-NET-002", typ: policy.IngressRule, breakIt: func(r *policy.Resource) {
		setInput("fromPort", 3000)(r)
		setInput("toPort", 4000)(r)
	}},
	{rule: "APPSTACK-NET-003", typ: policy.IngressRule, breakIt: setInput("ipProtocol", "-1")},
	{rule: "APPSTACK-NET-004", typ: policy.EgressRule, breakIt: setInput("ipProtocol", "-1")},
	{rule: "APPSTACK-NET-007", add: &policy.Resource{Type: policy.IngressRule, Name: "world",
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"ipProtocol": "tcp", "fromPort": 9000, "toPort": 9000,
			"cidrIpv6": "::/0", "description": "x"})}},
	{rule: "APPSTACK-NET-008", stack: "production", add: &policy.Resource{Type: policy.IngressRule,
		Name: "world-http", Inputs: resource.NewPropertyMapFromMap(map[string]any{"ipProtocol": "tcp",
			"fromPort": 9000, "toPort": 9000, "cidrIpv4": "0.0.0.0/0", "description": "x",
			"tags": map[string]any{"environment": "production"}})}},
	{rule: "APPSTACK-EC2-010", add: &policy.Resource{Type: policy.Instance, Name: "second",
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"associatePublicIpAddress": true})}},
	{rule: "APPSTACK-NET-005", typ: policy.EgressRule, breakIt: setInput("description", " ")},
	{rule: "APPSTACK-NET-006", typ: policy.SecurityGroup, breakIt: setInput("ingress", []any{map[string]any{
		"fromPort": 8080, "toPort": 8080, "protocol": "tcp"}})},
	{rule: "APPSTACK-IAM-001", typ: policy.Role, breakIt: setInput("assumeRolePolicy", policyDoc(
		`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}`))},
	{rule: "APPSTACK-IAM-002", typ: policy.RolePolicy, breakIt: setInput("policy", policyDoc(
		`{"Sid":"S3","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b"}`))},
	{rule: "APPSTACK-IAM-003", typ: policy.RolePolicy, breakIt: setInput("policy", policyDoc(
		`{"Sid":"Tables","Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":"*"}`))},
	{rule: "APPSTACK-IAM-004", typ: policy.Role, breakIt: deleteInput("permissionsBoundary")},
	{rule: "APPSTACK-IAM-004", typ: policy.Role, breakIt: setInput("permissionsBoundary", "")},
	{rule: "APPSTACK-ECR-001", typ: policy.Repository, breakIt: setInput("imageTagMutability", "MUTABLE")},
	{rule: "APPSTACK-ECR-002", typ: policy.Repository,
		breakIt: setInput("imageScanningConfiguration.scanOnPush", false)},
	{rule: "APPSTACK-ECR-003", typ: policy.Repository,
		breakIt: setInput("encryptionConfigurations[0].encryptionType", "AES256")},
	{rule: "APPSTACK-ECR-004", add: &policy.Resource{Type: policy.RepoPolicy, Name: "public",
		Inputs: resource.NewPropertyMapFromMap(map[string]any{"policy": policyDoc(
			`{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}`)})}},
	{rule: "APPSTACK-ECR-005", typ: policy.Repository, breakIt: setInput("forceDelete", true)},
	{rule: "APPSTACK-ECR-006", typ: policy.Lifecycle, breakIt: setInput("repository", "another-repository")},
	{rule: "APPSTACK-DDB-001", typ: policy.Table, breakIt: setInput("pointInTimeRecovery.enabled", false)},
	{rule: "APPSTACK-DDB-002", typ: policy.Table, breakIt: setInput("serverSideEncryption.kmsKeyArn", "")},
	{rule: "APPSTACK-DDB-003", stack: "production", typ: policy.Table,
		breakIt: func(r *policy.Resource) { r.RetainOnDelete = false }},
	{rule: "APPSTACK-KMS-001", typ: policy.Key, breakIt: setInput("enableKeyRotation", false)},
	{rule: "APPSTACK-KMS-002", stack: "production", typ: policy.Key,
		breakIt: func(r *policy.Resource) { r.Protect = false }},
	{rule: "APPSTACK-KMS-002", stack: "production", typ: policy.Key,
		breakIt: func(r *policy.Resource) { r.RetainOnDelete = false }},
	// A stack that protects its tables must keep the key that encrypts them, whatever its environment.
	{rule: "APPSTACK-KMS-002", typ: policy.Table, breakIt: func(r *policy.Resource) { r.Protect = true }},
	{rule: "APPSTACK-KMS-003", typ: policy.Key, breakIt: deleteInput("policy")},
	{rule: "APPSTACK-KMS-003", typ: policy.Key, breakIt: setInput("policy", policyDoc(rootKeyStatement+
		`,{"Sid":"Deployer","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/appstack/d"},`+
		`"Action":"kms:*","Resource":"*"}`))},
	{rule: "APPSTACK-KMS-003", typ: policy.Key, breakIt: setInput("policy", policyDoc(
		`{"Sid":"Deployer","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/appstack/d"},`+
			`"Action":["kms:Decrypt"],"Resource":"*"}`))},
	{rule: "APPSTACK-KMS-003", typ: policy.Key, breakIt: setInput("policy", policyDoc(rootKeyStatement+
		`,{"Sid":"Anyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":["kms:Decrypt"],"Resource":"*"}`))},
	{rule: "APPSTACK-SSM-001", typ: policy.Parameter, breakIt: setInput("type", "String")},
	{rule: "APPSTACK-SNS-001", typ: policy.Topic, breakIt: deleteInput("kmsMasterKeyId")},
	{rule: "APPSTACK-SEC-001", typ: policy.Instance, breakIt: setInput("tags.note", "canary-secret-value")},
	{rule: "APPSTACK-LOG-001", typ: policy.LogGroup, breakIt: deleteInput("retentionInDays")},
	{rule: "APPSTACK-EIP-001", stack: "production", typ: policy.Eip,
		breakIt: func(r *policy.Resource) { r.Protect = false }},
	{rule: "APPSTACK-TAG-001", typ: policy.Table, breakIt: setInput("tags.managed-by", "")},
	{rule: "APPSTACK-TAG-001", typ: policy.Instance, breakIt: deleteInput("volumeTags")},
}

// withSecret is the staging config plus one secret, so the secret rules have a value to look for, and an alarm
// e-mail, so the topic rules have a topic.

var withSecret = map[string]string{
	"appstack:alarmEmail": "oncall@example.com",
	"appstack:secrets":    `{"JWT_SECRET":"canary-secret-value"}`,
	"appstack:services":   `[{"name":"web","port":8080,"build":{"context":"app"},"secrets":["JWT_SECRET"]}]`,
}

func TestEveryRuleHasAFixtureThatMakesItFail(t *testing.T) {
	covered := map[string]bool{}
	// Fixtures that start from the same stack share one run of the program, each breaking its own deep copy.
	type base struct {
		resources []policy.Resource
		waivers   []stacks.Waiver
	}
	bases := map[string]base{}
	evaluateOnce := func(t *testing.T, stack string, changes map[string]string) ([]policy.Resource,
		[]stacks.Waiver) {
		key := stack + fmt.Sprint(changes) // fmt prints maps sorted by key
		b, ok := bases[key]
		if !ok {
			b.resources, b.waivers = evaluate(t, stack, changes, "appstack:secrets")
			bases[key] = b
		}
		out := make([]policy.Resource, len(b.resources))
		for i, r := range b.resources {
			r.Inputs = deepCopy(resource.NewProperty(r.Inputs)).ObjectValue()
			out[i] = r
		}
		return out, b.waivers
	}
	for _, f := range fixtures {
		covered[f.rule] = true
		t.Run(f.rule, func(t *testing.T) {
			stack := f.stack
			if stack == "" {
				stack = "staging"
			}
			changes := f.changes
			if changes == nil {
				changes = withSecret
			}
			resources, waivers := evaluateOnce(t, stack, changes)
			if f.fleet {
				resources = append(resources, fleet(resources, stack)...)
			}
			open, _ := policy.Review(resources, waivers)
			require.Empty(t, open, "the fixture starts from a passing stack")
			before := count(policy.Evaluate(resources), f.rule)
			if f.add != nil {
				resources = append(resources, *f.add)
			} else {
				i := indexOf(resources, f.typ)
				require.GreaterOrEqual(t, i, 0, "no %s to break", f.typ)
				f.breakIt(&resources[i])
			}
			findings := policy.Evaluate(resources)
			assert.Greater(t, count(findings, f.rule), before, "findings: %v", findings)
			for _, fd := range findings {
				assert.NotEmpty(t, fd.Message)
				assert.NotEmpty(t, fd.Fix)
			}
		})
	}
	for _, r := range policy.Rules {
		assert.True(t, covered[r.ID], "rule %s has no failing fixture", r.ID)
	}
}

func TestFindingNamesTheResourceAndTheFix(t *testing.T) {
	resources, waivers := evaluate(t, "staging", nil)
	i := indexOf(resources, policy.Instance)
	setInput("metadataOptions.httpTokens", "optional")(&resources[i])
	findings, _ := policy.Review(resources, waivers)
	require.Len(t, findings, 1)
	assert.Equal(t, "[high] APPSTACK-EC2-001 (CKV_AWS_79, AVD-AWS-0028) aws:ec2/instance:Instance app-host-instance: "+
		`httpTokens is "optional", not required. Fix: metadataOptions.httpTokens = required (components/host sets it)`,
		findings[0].String())
}

func gzipBase64(s string) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func indexOf(resources []policy.Resource, typ string) int {
	for i, r := range resources {
		if r.Type == typ {
			return i
		}
	}
	return -1
}

func TestAWaiverMovesAFindingAside(t *testing.T) {
	resources, _ := evaluate(t, "staging", nil)
	open, waived := policy.Review(resources, nil)
	assert.Equal(t, 2, len(open), "without the stack's waivers the public page has two findings: %v", open)
	assert.Empty(t, waived)
}
