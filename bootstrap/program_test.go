package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
)

func run(t *testing.T, cfg map[string]string) (*offline.Result, error) {
	t.Helper()
	base := map[string]string{"aws:region": "ap-southeast-1", "appstack-bootstrap:githubRepository": "acme/shop"}
	for k, v := range cfg {
		base[k] = v
	}
	return offline.Run(Program, offline.Options{Project: "appstack-bootstrap", Stack: "main", Config: base})
}

type trustDoc struct {
	Statement []struct {
		Effect    string
		Principal map[string]string
		Action    string
		Condition map[string]map[string]any
	}
}

func trustOf(t *testing.T, res *offline.Result, name string) trustDoc {
	t.Helper()
	r, ok := res.Named("aws:iam/role:Role", name)
	require.True(t, ok, "role %s", name)
	v, _ := offline.Lookup(r.Inputs, "assumeRolePolicy")
	var d trustDoc
	require.NoError(t, json.Unmarshal([]byte(v.StringValue()), &d))
	require.Len(t, d.Statement, 1)
	return d
}

func TestRolesTrustOnlyThisRepositoryThroughGitHubOIDC(t *testing.T) {
	res, err := run(t, nil)
	require.NoError(t, err)
	oidc := res.OfType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	require.Len(t, oidc, 1)
	url, _ := offline.Lookup(oidc[0].Inputs, "url")
	assert.Equal(t, "https://token.actions.githubusercontent.com", url.StringValue())

	for role, subjects := range map[string][]any{
		"preview": {"repo:acme/shop:pull_request", "repo:acme/shop:ref:refs/heads/main"},
		"deploy": {"repo:acme/shop:environment:production", "repo:acme/shop:environment:review",
			"repo:acme/shop:environment:staging"},
	} {
		st := trustOf(t, res, role).Statement[0]
		assert.Equal(t, "sts:AssumeRoleWithWebIdentity", st.Action, role)
		assert.Equal(t, oidc[0].Outputs["arn"].StringValue(), st.Principal["Federated"], role)
		assert.Equal(t, "sts.amazonaws.com", st.Condition["StringEquals"]["token.actions.githubusercontent.com:aud"], role)
		assert.Equal(t, subjects, st.Condition["StringLike"]["token.actions.githubusercontent.com:sub"], role)
	}
}

// CKV_AWS_358: a trust without a subject condition, or with a wildcard repository, lets any repository in.
func TestTrustRuleWouldCatchAnOpenSubject(t *testing.T) {
	doc, err := TrustPolicy("arn:aws:iam::1:oidc-provider/x", []string{"repo:acme/shop:pull_request"})
	require.NoError(t, err)
	assert.NotContains(t, doc, `"repo:*`)
	assert.NotContains(t, doc, `"*"`)
	open, err := TrustPolicy("arn:aws:iam::1:oidc-provider/x", []string{"repo:*"})
	require.NoError(t, err)
	assert.Contains(t, open, `"repo:*"`, "the assertion above is able to fail")
}

func TestStateBucketIsVersionedEncryptedPrivateAndTLSOnly(t *testing.T) {
	res, err := run(t, nil)
	require.NoError(t, err)
	bucket := res.OfType("aws:s3/bucket:Bucket")
	require.Len(t, bucket, 1)
	assert.True(t, bucket[0].Protect, "the state bucket is protected")

	v := res.OfType("aws:s3/bucketVersioning:BucketVersioning")
	require.Len(t, v, 1)
	status, _ := offline.Lookup(v[0].Inputs, "versioningConfiguration.status")
	assert.Equal(t, "Enabled", status.StringValue())

	enc := res.OfType("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
	require.Len(t, enc, 1)
	algo, _ := offline.Lookup(enc[0].Inputs, "rules[0].applyServerSideEncryptionByDefault.sseAlgorithm")
	assert.Equal(t, "aws:kms", algo.StringValue())
	keyID, _ := offline.Lookup(enc[0].Inputs, "rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId")
	assert.Contains(t, keyID.StringValue(), "arn:aws:kms:")

	pab := res.OfType("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	require.Len(t, pab, 1)
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		b, _ := offline.Lookup(pab[0].Inputs, k)
		assert.True(t, b.BoolValue(), k)
	}
	pol := res.OfType("aws:s3/bucketPolicy:BucketPolicy")
	require.Len(t, pol, 1)
	doc, _ := offline.Lookup(pol[0].Inputs, "policy")
	assert.Contains(t, doc.StringValue(), `"aws:SecureTransport":"false"`)
	assert.Contains(t, doc.StringValue(), `"Effect":"Deny"`)

	key := res.OfType("aws:kms/key:Key")
	require.Len(t, key, 1)
	rot, _ := offline.Lookup(key[0].Inputs, "enableKeyRotation")
	assert.True(t, rot.BoolValue())
	assert.Equal(t, "awskms://alias/appstack-state-main?region=ap-southeast-1", res.Exports["secretsProvider"])
	for _, out := range []string{"stateBucket", "previewRoleArn", "deployRoleArn", "region"} {
		assert.Contains(t, res.Exports, out)
	}
}

func TestDeployRoleManagesOnlyAppstackRoles(t *testing.T) {
	doc, err := DeployPolicy("arn:aws:s3:::state", "arn:aws:kms:k")
	require.NoError(t, err)
	var d struct {
		Statement []struct {
			Sid       string
			Action    any
			Resource  any
			Condition map[string]map[string]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(doc), &d))
	for _, st := range d.Statement {
		actions, _ := json.Marshal(st.Action)
		if !assert.NotContains(t, string(actions), `"iam:*"`) {
			continue
		}
		if st.Sid == "AppRoles" || st.Sid == "PassAppRolesToEC2Only" {
			assert.Contains(t, st.Resource, "arn:aws:iam::*:role/appstack/*")
		}
	}
	assert.Equal(t, "ec2.amazonaws.com", d.Statement[4].Condition["StringEquals"]["iam:PassedToService"])
}

func TestRepositoryIsRequired(t *testing.T) {
	_, err := run(t, map[string]string{"appstack-bootstrap:githubRepository": "shop"})
	assert.ErrorContains(t, err, `appstack-bootstrap:githubRepository: "shop": want owner/name`)
}
