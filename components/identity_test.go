package components_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/identity"
	"appstack/testing/offlinetest"
)

var grants = identity.Grants{
	RepositoryArns: []string{"arn:aws:ecr:ap-southeast-1:123456789012:repository/web"},
	TableArns:      []string{"arn:aws:dynamodb:ap-southeast-1:123456789012:table/events"},
	ParameterArns:  []string{"arn:aws:ssm:ap-southeast-1:123456789012:parameter/appstack/staging/app/secrets/JWT"},
	KmsKeyArn:      "arn:aws:kms:ap-southeast-1:123456789012:key/k",
	LogGroupArn:    "arn:aws:logs:ap-southeast-1:123456789012:log-group:app-logs",
}

func parse(t *testing.T, doc string) identity.Document {
	t.Helper()
	var d identity.Document
	require.NoError(t, json.Unmarshal([]byte(doc), &d))
	return d
}

// wildcardProblems is the least-privilege rule: no action is a wildcard, and the only "*" resource is for
// ecr:GetAuthorizationToken, which AWS cannot scope.
func wildcardProblems(d identity.Document) []string {
	var out []string
	for _, s := range d.Statement {
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				out = append(out, s.Sid+": wildcard action "+a)
			}
		}
		for _, r := range s.Resource {
			if r == "*" && (len(s.Action) != 1 || s.Action[0] != "ecr:GetAuthorizationToken") {
				out = append(out, s.Sid+": * resource for "+strings.Join(s.Action, ","))
			}
		}
	}
	return out
}

func TestPolicyHasNoWildcards(t *testing.T) {
	doc, err := identity.PolicyDocument(grants)
	require.NoError(t, err)
	assert.Empty(t, wildcardProblems(parse(t, doc)))
}

func TestWildcardRuleCatchesViolations(t *testing.T) {
	bad := identity.Document{Statement: []identity.Statement{
		{Sid: "Admin", Effect: "Allow", Action: []string{"*"}, Resource: []string{"*"}},
		{Sid: "AllTables", Effect: "Allow", Action: []string{"dynamodb:GetItem"}, Resource: []string{"*"}},
		{Sid: "S3", Effect: "Allow", Action: []string{"s3:*"}, Resource: []string{"arn:aws:s3:::b"}},
	}}
	assert.Len(t, wildcardProblems(bad), 4)
}

func TestPolicyIsScopedToTheStacksResources(t *testing.T) {
	d := policy(t, grants)
	bySid := map[string]identity.Statement{}
	for _, s := range d.Statement {
		bySid[s.Sid] = s
		assert.Equal(t, "Allow", s.Effect)
	}
	assert.Equal(t, grants.RepositoryArns, bySid["EcrPull"].Resource)
	assert.Equal(t, []string{grants.TableArns[0], grants.TableArns[0] + "/index/*"}, bySid["Tables"].Resource)
	assert.Equal(t, grants.ParameterArns, bySid["Secrets"].Resource)
	assert.Equal(t, []string{grants.KmsKeyArn}, bySid["StackKey"].Resource)
	assert.Equal(t, []string{grants.LogGroupArn, grants.LogGroupArn + ":*"}, bySid["Logs"].Resource)
	assert.Equal(t, []string{"ssm:GetParameter", "ssm:GetParameters"}, bySid["Secrets"].Action,
		"the host reads its secrets and writes nothing to Parameter Store")
}

func TestEmptyGrantsLeaveStatementsOut(t *testing.T) {
	d := policy(t, identity.Grants{LogGroupArn: grants.LogGroupArn, KmsKeyArn: grants.KmsKeyArn})
	require.Len(t, d.Statement, 1, "an empty resource list is invalid IAM; only Logs remains: %+v", d.Statement)
	assert.Equal(t, "Logs", d.Statement[0].Sid)
	_, err := identity.PolicyDocument(identity.Grants{})
	assert.ErrorContains(t, err, "log group ARN is empty")
}

func TestRoleIsTrustedOnlyByEC2(t *testing.T) {
	res := offlinetest.Run(t, program(identity.New, "id", &identity.Args{LogGroupArn: pulumi.String(grants.LogGroupArn),
		PermissionsBoundary: pulumi.String(boundary)}))
	role := offlinetest.One(t, res, "aws:iam/role:Role")
	assert.Equal(t, boundary, offlinetest.Str(t, role, "permissionsBoundary"), "the role carries the boundary")
	var trust struct {
		Statement []struct {
			Effect    string
			Principal map[string]any
			Action    string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(offlinetest.Str(t, role, "assumeRolePolicy")), &trust))
	require.Len(t, trust.Statement, 1)
	assert.Equal(t, map[string]any{"Service": "ec2.amazonaws.com"}, trust.Statement[0].Principal)
	assert.Equal(t, "sts:AssumeRole", trust.Statement[0].Action)

	assert.Equal(t, "/appstack/", offlinetest.Str(t, role, "path"), "the deploy role may manage only this path")
	assert.Equal(t, "/appstack/", offlinetest.Str(t, offlinetest.One(t, res, "aws:iam/instanceProfile:InstanceProfile"),
		"path"))
	att := offlinetest.One(t, res, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
	assert.Equal(t, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", offlinetest.Str(t, att, "policyArn"))
	offlinetest.One(t, res, "aws:iam/instanceProfile:InstanceProfile")
	for _, r := range res.Resources {
		if r.Custom {
			assert.Equal(t, "urn:pulumi:test::appstack::appstack:components:Identity::id", r.Parent, r.Name)
		}
	}
}

const boundary = "arn:aws:iam::123456789012:policy/appstack/appstack-host-boundary"

func TestLogGroupIsRequired(t *testing.T) {
	_, err := offlinetest.RunErr(program(identity.New, "id", &identity.Args{}))
	assert.ErrorContains(t, err, `identity "id": LogGroupArn is required`)
}

func TestPermissionsBoundaryIsRequired(t *testing.T) {
	_, err := offlinetest.RunErr(program(identity.New, "id", &identity.Args{LogGroupArn: pulumi.String(grants.LogGroupArn)}))
	assert.ErrorContains(t, err, `identity "id": PermissionsBoundary is required`)
}

func TestDefaultBoundaryIsTheBootstrapsInTheSameAccountAndPartition(t *testing.T) {
	got, err := identity.DefaultBoundaryArn("arn:aws-cn:logs:cn-north-1:210987654321:log-group:app-logs")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws-cn:iam::210987654321:policy/appstack/appstack-host-boundary", got)
	_, err = identity.DefaultBoundaryArn("not-an-arn")
	assert.ErrorContains(t, err, `cannot read the account from ARN "not-an-arn"`)
}

func TestTheAutoScalingServiceLinkedRoleIsTheAccountsDefaultOne(t *testing.T) {
	got, err := identity.AutoScalingServiceLinkedRoleArn("arn:aws-us-gov:iam::210987654321:root")
	require.NoError(t, err)
	assert.Equal(t, "arn:aws-us-gov:iam::210987654321:role/aws-service-role/autoscaling.amazonaws.com/"+
		"AWSServiceRoleForAutoScaling", got)
	_, err = identity.AutoScalingServiceLinkedRoleArn("arn:aws:s3:::bucket")
	assert.ErrorContains(t, err, `cannot read the account from ARN "arn:aws:s3:::bucket"`)
}

func policy(t *testing.T, g identity.Grants) identity.Document {
	t.Helper()
	doc, err := identity.PolicyDocument(g)
	require.NoError(t, err)
	return parse(t, doc)
}

// The host pulls from the stack's repositories and from the repository of every pinned ECR image; a pinned
// image in one of the stack's own repositories is granted once.
func TestEveryRepositoryTheHostPullsFromIsGrantedOnce(t *testing.T) {
	g := grants
	g.RepositoryArns = []string{"arn:aws:ecr:ap-southeast-1:123456789012:repository/web",
		"arn:aws:ecr:eu-west-1:210987654321:repository/shared",
		"arn:aws:ecr:ap-southeast-1:123456789012:repository/web"}
	bySid := map[string]identity.Statement{}
	for _, s := range policy(t, g).Statement {
		bySid[s.Sid] = s
	}
	assert.Equal(t, []string{"arn:aws:ecr:ap-southeast-1:123456789012:repository/web",
		"arn:aws:ecr:eu-west-1:210987654321:repository/shared"}, bySid["EcrPull"].Resource)
	assert.Equal(t, []string{"ecr:GetAuthorizationToken"}, bySid["EcrLogin"].Action)
	assert.Equal(t, []string{"*"}, bySid["EcrLogin"].Resource)
}
