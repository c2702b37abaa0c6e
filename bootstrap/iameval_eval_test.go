package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustDoc(t *testing.T, raw string) Document {
	t.Helper()
	d, err := parseDoc(raw)
	require.NoError(t, err)
	return d
}

// The evaluator's own rules, each with the case that would pass if the rule were missing.
func TestEvaluatorFollowsAWSsEvaluationLogic(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/r"
	allowS3 := `{"Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"}`
	for _, tc := range []struct {
		name, policy string
		req          Request
		want         Decision
	}{
		{"no statement: implicit deny", `[]`, Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, ImplicitDeny},
		{"action and resource wildcards", `[` + allowS3 + `]`,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"actions are case-insensitive", `[` + allowS3 + `]`,
			Request{Action: "S3:getobject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"resources are not", `[` + allowS3 + `]`,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::B/k"}, ImplicitDeny},
		{"another action", `[` + allowS3 + `]`,
			Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}, ImplicitDeny},
		{"explicit deny wins", `[` + allowS3 + `,{"Effect":"Deny","Action":"s3:*","Resource":"*"}]`,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, ExplicitDeny},
		{"NotAction allows everything else", `[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]`,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"NotAction excludes its actions", `[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]`,
			Request{Action: "iam:CreateRole", Resource: "arn:aws:iam::123456789012:role/x"}, ImplicitDeny},
		{"StringEquals matches", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"k":["x","y"]}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"y"}}}, Allowed},
		{"a missing key does not match", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"k":"x"}}}]`,
			Request{Action: "a:b", Resource: "r"}, ImplicitDeny},
		{"a negated operator matches a missing key", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringNotEquals":{"k":"x"}}}]`,
			Request{Action: "a:b", Resource: "r"}, Allowed},
		{"a negated operator with several values is an AND", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"ArnNotEquals":{"k":["arn:aws:iam::1:role/x","arn:aws:iam::1:role/y"]}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"arn:aws:iam::1:role/y"}}}, ImplicitDeny},
		{"StringLike wildcards", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringLike":{"k":"pr-*"}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"production"}}}, ImplicitDeny},
		{"IfExists matches a missing key", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringLikeIfExists":{"k":"pr-*"}}}]`,
			Request{Action: "a:b", Resource: "r"}, Allowed},
		{"IfExists checks a present key", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringLikeIfExists":{"k":"pr-*"}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"production"}}}, ImplicitDeny},
		{"ArnLike per segment", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/appstack-ci-*"}}}]`,
			Request{Principal: role, Action: "a:b", Resource: "r"}, ImplicitDeny},
		{"Bool", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Bool":{"k":"true"}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"false"}}}, ImplicitDeny},
		{"Null true: the key must be absent", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Null":{"k":"true"}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"x"}}}, ImplicitDeny},
		{"Null true: an absent key matches", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Null":{"k":"true"}}}]`,
			Request{Action: "a:b", Resource: "r"}, Allowed},
		{"Null false: the key must be there", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"Null":{"k":"false"}}}]`,
			Request{Action: "a:b", Resource: "r"}, ImplicitDeny},
		{"BoolIfExists checks a present key", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"BoolIfExists":{"k":"true"}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"false"}}}, ImplicitDeny},
		{"ForAllValues: every value must match", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"ForAllValues:StringLike":{"k":["x*"]}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"x1", "y"}}}, ImplicitDeny},
		{"ForAllValues: an absent key matches", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"ForAllValues:StringLike":{"k":["x*"]}}}]`,
			Request{Action: "a:b", Resource: "r"}, Allowed},
		{"ForAnyValue: one value is enough", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"ForAnyValue:StringLike":{"k":["x*"]}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"k": {"x1", "y"}}}, Allowed},
		{"policy variables", `[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/stack":"${aws:PrincipalTag/stack}"}}}]`,
			Request{Action: "a:b", Resource: "r", Context: map[string][]string{"aws:ResourceTag/stack": {"pr-1"},
				"aws:PrincipalTag/stack": {"production"}}}, ImplicitDeny},
		{"an unresolved policy variable matches nothing", `[{"Effect":"Allow","Action":"a:b","Resource":"arn:x:${aws:PrincipalTag/stack}/*"}]`,
			Request{Action: "a:b", Resource: "arn:x:/y"}, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDoc(t, `{"Version":"2012-10-17","Statement":`+tc.policy+`}`)
			assert.Equal(t, tc.want, Evaluate(tc.req, Policies{Identity: []Document{d}}))
		})
	}
}

func TestEvaluatorCombinesBoundaryAndResourcePolicy(t *testing.T) {
	const caller = "arn:aws:iam::123456789012:role/r"
	admin := mustDoc(t, `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	boundary := mustDoc(t, `{"Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`)
	req := Request{Principal: caller, Action: "kms:Encrypt", Resource: "arn:aws:kms:r:123456789012:key/k"}
	root := mustDoc(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}`)
	assert.Equal(t, Allowed, Evaluate(req, Policies{Identity: []Document{admin}, Resource: &root}))
	assert.Equal(t, ImplicitDeny, Evaluate(req, Policies{Identity: []Document{admin}, Boundary: &boundary, Resource: &root}),
		"the boundary caps the identity policy")
	assert.Equal(t, ImplicitDeny, Evaluate(req, Policies{Identity: []Document{admin}}),
		"a KMS key without a key policy that allows the account is out of reach of IAM policies")
	s3 := Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}
	assert.Equal(t, Allowed, Evaluate(s3, Policies{Identity: []Document{admin}}), "other resources need no resource policy")

	other := mustDoc(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"kms:*","Resource":"*"}]}`)
	assert.Equal(t, Allowed, Evaluate(req, Policies{Identity: []Document{admin}, Resource: &root}))
	assert.Equal(t, ImplicitDeny, Evaluate(req, Policies{Identity: []Document{admin}, Resource: &other}),
		"a key policy must allow the caller's account")
	assert.Equal(t, ImplicitDeny, Evaluate(req, Policies{Resource: &root}), "and IAM must allow the caller")
	deny := mustDoc(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"},`+
		`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/r"}}}]}`)
	assert.Equal(t, ExplicitDeny, Evaluate(req, Policies{Identity: []Document{admin}, Resource: &deny}))
}
