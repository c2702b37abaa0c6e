package components_test

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/secrets"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

const canary = "canary-7f3a-secret-value"

func secretValues() pulumi.StringMapOutput {
	return pulumi.ToSecret(pulumi.StringMap{"JWT_SECRET": pulumi.String(canary)}).(pulumi.StringMapOutput)
}

func TestSecretsAreSecureStringsUnderTheStacksKey(t *testing.T) {
	res := offlinetest.Run(t, program(secrets.New, "sec", &secrets.Args{Path: "/appstack/test/app/secrets", Names: []string{"JWT_SECRET"},
		Values: secretValues()}))
	key := offlinetest.One(t, res, "aws:kms/key:Key")
	assert.True(t, offlinetest.Bool(t, key, "enableKeyRotation"))
	assert.Equal(t, 30.0, offlinetest.Num(t, key, "deletionWindowInDays"))

	param := offlinetest.One(t, res, "aws:ssm/parameter:Parameter")
	assert.Equal(t, "SecureString", offlinetest.Str(t, param, "type"))
	assert.Equal(t, "/appstack/test/app/secrets/JWT_SECRET", offlinetest.Str(t, param, "name"))
	keyArn := key.Outputs["arn"]
	assert.Equal(t, keyArn.StringValue(), offlinetest.Str(t, param, "keyId"), "encrypted with the stack's key")
	value := offlinetest.Prop(t, param, "value")
	require.True(t, value.IsSecret(), "the value reaches the parameter as a secret")
	assert.Equal(t, canary, value.SecretValue().Element.StringValue())
}

func TestPlainValuesAreMadeSecret(t *testing.T) {
	res := offlinetest.Run(t, program(secrets.New, "sec", &secrets.Args{Path: "/p", Names: []string{"A"},
		Values: pulumi.StringMap{"A": pulumi.String(canary)}}))
	param := offlinetest.One(t, res, "aws:ssm/parameter:Parameter")
	assert.True(t, offlinetest.Prop(t, param, "value").IsSecret())
}

func TestSecretsArgsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args secrets.Args
		want string
	}{
		{secrets.Args{Path: "p"}, `secrets "sec": Path "p" must start with /`},
		{secrets.Args{Path: "/p", DeletionWindowDays: 3}, `DeletionWindowDays 3: want 7 to 30`},
		{secrets.Args{Path: "/p", Names: []string{"A"}}, `Values is required with Names`},
	} {
		_, err := offlinetest.RunErr(program(secrets.New, "sec", &tc.args))
		assert.ErrorContains(t, err, tc.want)
	}
}

func TestAProtectedStackKeepsItsKey(t *testing.T) {
	for _, protect := range []bool{true, false} {
		res := offlinetest.Run(t, program(secrets.New, "sec", &secrets.Args{Path: "/p", Protect: protect}))
		key := offlinetest.One(t, res, "aws:kms/key:Key")
		assert.Equal(t, protect, key.Protect, "pulumi refuses to delete or replace the key")
		assert.Equal(t, protect, key.RetainOnDelete, "a delete from the program leaves the key in AWS")
	}
}

// keyPolicy is the stack key's policy, parsed, by statement id.
func keyPolicy(t *testing.T, res *offline.Result) map[string]map[string]any {
	t.Helper()
	var doc struct{ Statement []map[string]any }
	require.NoError(t, json.Unmarshal([]byte(offlinetest.Str(t, offlinetest.One(t, res, "aws:kms/key:Key"), "policy")), &doc))
	out := map[string]map[string]any{}
	for _, s := range doc.Statement {
		out[s["Sid"].(string)] = s
	}
	return out
}

func runSecretsAs(t *testing.T, caller string, args *secrets.Args) *offline.Result {
	t.Helper()
	res, err := offline.Run(program(secrets.New, "sec", args), offline.Options{Stack: "test",
		Config: map[string]string{"aws:region": offlinetest.Region}, Caller: caller,
		Roles: map[string]string{"appstack-ci-review": "/appstack/", "appstack-ci-production-preview": "/appstack/",
			"appstack-ci-production": "/appstack/", "ops-preview": "/"}})
	require.NoError(t, err)
	return res
}

// The deploying role may use its stack's key from the key's creation on, through the key policy, without
// waiting for the key's tags to reach KMS authorization (up to five minutes).
func TestTheStackKeyPolicyNamesTheDeployingRole(t *testing.T) {
	res := runSecretsAs(t, "arn:aws:sts::123456789012:assumed-role/appstack-ci-review/GitHubActions",
		&secrets.Args{Path: "/p", Names: []string{"A"}, Values: secretValues()})
	st := keyPolicy(t, res)
	role := map[string]any{"AWS": "arn:aws:iam::123456789012:role/appstack/appstack-ci-review"}

	root := st["AccountAdministersThroughIAM"]
	require.NotNil(t, root, "the account administers the key through IAM, as in AWS's default key policy")
	assert.Equal(t, map[string]any{"AWS": "arn:aws:iam::123456789012:root"}, root["Principal"])
	assert.Equal(t, "kms:*", root["Action"])

	use := st["DeployerUsesTheKey"]
	require.NotNil(t, use, "the deploying role is named in the key policy")
	assert.Equal(t, role, use["Principal"], "the role behind the session, with its path, not the session")
	assert.ElementsMatch(t, []any{"kms:Decrypt", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:Encrypt",
		"kms:GenerateDataKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags",
		"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
		"kms:UpdateKeyDescription"}, use["Action"])
	assert.Equal(t, "*", use["Resource"])

	grant := st["DeployerGrantsForAWSResources"]
	require.NotNil(t, grant, "DynamoDB creates its grant on the key as the deploying role")
	assert.Equal(t, role, grant["Principal"])
	assert.Equal(t, "kms:CreateGrant", grant["Action"])
	assert.Equal(t, map[string]any{"Bool": map[string]any{"kms:GrantIsForAWSResource": "true"}}, grant["Condition"])

	for sid, s := range st {
		if sid == "AccountAdministersThroughIAM" {
			continue
		}
		actions, _ := s["Action"].([]any)
		actions = append(actions, s["Action"])
		for _, a := range actions {
			assert.NotEqual(t, "kms:*", a, "%s: only the account root has kms:*", sid)
		}
		assert.NotContains(t, s, "NotAction", sid)
	}
	assert.Len(t, st, 3, "no service statement without ServicePrincipals")
}

func TestTheStackKeyKeepsTheServicesStatement(t *testing.T) {
	res := runSecretsAs(t, offline.DefaultCaller("test"), &secrets.Args{Path: "/p",
		ServicePrincipals: []string{"cloudwatch.amazonaws.com"}, AccountRoot: pulumi.String("arn:aws:iam::123456789012:root")})
	st := keyPolicy(t, res)
	svc := st["ServicesEncrypt"]
	require.NotNil(t, svc, "CloudWatch may publish to the encrypted alarm topic")
	assert.Equal(t, map[string]any{"Service": []any{"cloudwatch.amazonaws.com"}}, svc["Principal"])
	assert.Equal(t, []any{"kms:Decrypt", "kms:GenerateDataKey"}, svc["Action"])
	assert.NotNil(t, st["AccountAdministersThroughIAM"])
	assert.NotNil(t, st["DeployerUsesTheKey"])
}

// An IAM user deploying (an administrator's laptop) is named as itself; the policy changes in place when the
// deployer changes, and the root statement stays.
func TestAnIAMUserDeployerIsNamedAsItself(t *testing.T) {
	user := "arn:aws:iam::123456789012:user/ops/alice"
	st := keyPolicy(t, runSecretsAs(t, user, &secrets.Args{Path: "/p"}))
	assert.Equal(t, map[string]any{"AWS": user}, st["DeployerUsesTheKey"]["Principal"])
	assert.Equal(t, map[string]any{"AWS": "arn:aws:iam::123456789012:root"}, st["AccountAdministersThroughIAM"]["Principal"])
}

func TestAnUnknownAssumedRoleFailsTheDeploy(t *testing.T) {
	_, err := offline.Run(program(secrets.New, "sec", &secrets.Args{Path: "/p"}), offline.Options{Stack: "test",
		Config: map[string]string{"aws:region": offlinetest.Region},
		Caller: "arn:aws:sts::123456789012:assumed-role/gone/s"})
	assert.ErrorContains(t, err, "unable to get role (gone)")
}

// A preview or drift check by the production-preview role shows the policy the production role keeps: the
// key policy names the deploying role, not the previewer.
func TestAPreviewRoleShowsTheDeployingRolesKeyPolicy(t *testing.T) {
	args := func() *secrets.Args {
		return &secrets.Args{Path: "/p", DeployRoles: map[string]string{
			"appstack-ci-production-preview": "appstack-ci-production"}}
	}
	preview := keyPolicy(t, runSecretsAs(t, "arn:aws:sts::123456789012:assumed-role/appstack-ci-production-preview/GitHubActions", args()))
	deploy := keyPolicy(t, runSecretsAs(t, "arn:aws:sts::123456789012:assumed-role/appstack-ci-production/GitHubActions", args()))
	want := map[string]any{"AWS": "arn:aws:iam::123456789012:role/appstack/appstack-ci-production"}
	assert.Equal(t, want, preview["DeployerUsesTheKey"]["Principal"])
	assert.Equal(t, deploy, preview)
	other := keyPolicy(t, runSecretsAs(t, "arn:aws:sts::123456789012:assumed-role/ops-preview/alice", args()))
	assert.Equal(t, map[string]any{"AWS": "arn:aws:iam::123456789012:role/ops-preview"},
		other["DeployerUsesTheKey"]["Principal"], "only the mapped roles are replaced")
}

// Auto Scaling publishes a fleet's notifications to the encrypted topic as its service-linked role, whose own
// policy grants no use of customer managed keys: the key policy names it, and only when asked.
func TestTheKeyLetsNamedServiceLinkedRolesEncryptOnly(t *testing.T) {
	user := "arn:aws:iam::123456789012:user/dev"
	plain := keyPolicy(t, runSecretsAs(t, user, &secrets.Args{Path: "/p"}))
	assert.NotContains(t, plain, "ServiceLinkedRolesEncrypt")

	st := keyPolicy(t, runSecretsAs(t, user, &secrets.Args{Path: "/p",
		ServiceLinkedRoles: []string{"autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}}))
	slr := st["ServiceLinkedRolesEncrypt"]
	require.NotNil(t, slr)
	assert.Equal(t, map[string]any{"AWS": []any{
		"arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}},
		slr["Principal"])
	assert.ElementsMatch(t, []any{"kms:Decrypt", "kms:GenerateDataKey"}, slr["Action"],
		"publishing to an encrypted topic needs these two, nothing that administers the key")
}
