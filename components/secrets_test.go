package components_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/secrets"
	"appstack/internal/offline/offlinetest"
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
