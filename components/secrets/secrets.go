// Package secrets is the component that owns a stack's KMS key and the SSM SecureString parameters that hold
// its services' secrets.
package secrets

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/tags"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Secrets"

// Args configures Secrets.
type Args struct {
	// Path is the parameter path prefix, such as /appstack/staging/secrets. Required; starts with /.
	Path string
	// Names are the secrets to store. Optional.
	Names []string
	// Values holds each name's value; it must be a secret output (config.RequireSecret). Required with Names.
	Values pulumi.StringMapInput
	// DeletionWindowDays is how long a deleted key can still be recovered. Default 30 (AWS allows 7-30).
	DeletionWindowDays int
	// AccountRoot is arn:<partition>:iam::<account>:root, which administers the key. Required with
	// ServicePrincipals.
	AccountRoot pulumi.StringInput
	// ServicePrincipals may encrypt and decrypt with the key, such as cloudwatch.amazonaws.com publishing alarms
	// to an encrypted SNS topic. Optional.
	ServicePrincipals []string
	// Protect keeps the key: pulumi refuses to delete or replace it, and a delete from the program leaves it
	// in AWS. Default false; set it wherever the tables the key encrypts are protected, because a table whose
	// key is scheduled for deletion is unreadable, and DynamoDB archives it when its key stays inaccessible for
	// seven days.
	Protect bool
	// Tags go on the key and the parameters. Optional.
	Tags map[string]string
}

// Secrets is a stack's customer-managed KMS key with rotation and its SecureString parameters.
type Secrets struct {
	pulumi.ResourceState

	// KeyArn is the stack's key, also used to encrypt its tables.
	KeyArn pulumi.StringOutput
	// ParameterNames maps each secret name to its parameter's name. Plain: names are not secret.
	ParameterNames map[string]string
	// ParameterArns scopes the host's read permission.
	ParameterArns pulumi.StringArrayOutput
}

func (a *Args) withDefaults() Args {
	out := *a
	if out.DeletionWindowDays == 0 {
		out.DeletionWindowDays = 30
	}
	out.Path = strings.TrimSuffix(out.Path, "/")
	return out
}

func (a *Args) validate(name string) error {
	switch {
	case !strings.HasPrefix(a.Path, "/"):
		return fmt.Errorf("secrets %q: Path %q must start with /", name, a.Path)
	case a.DeletionWindowDays < 7 || a.DeletionWindowDays > 30:
		return fmt.Errorf("secrets %q: DeletionWindowDays %d: want 7 to 30", name, a.DeletionWindowDays)
	case len(a.Names) > 0 && a.Values == nil:
		return fmt.Errorf("secrets %q: Values is required with Names", name)
	case len(a.ServicePrincipals) > 0 && a.AccountRoot == nil:
		return fmt.Errorf("secrets %q: AccountRoot is required with ServicePrincipals", name)
	}
	return nil
}

// New creates the key and one parameter per name.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Secrets, error) {
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, err
	}
	c := &Secrets{ParameterNames: map[string]string{}}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	// A key of the stack's own, so that only this stack's role can decrypt its secrets.
	keyArgs := &kms.KeyArgs{
		Description:          pulumi.Sprintf("appstack %s: secrets and tables", a.Path),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(a.DeletionWindowDays),
		Tags:                 tags.With(a.Tags, name),
	}
	if len(a.ServicePrincipals) > 0 {
		keyArgs.Policy = a.AccountRoot.ToStringOutput().ApplyT(func(root string) (string, error) {
			return KeyPolicy(root, a.ServicePrincipals)
		}).(pulumi.StringOutput)
	}
	keyOpts := []pulumi.ResourceOption{pulumi.Parent(c)}
	if a.Protect {
		// Deleting a KMS key schedules it for deletion after the window: it is disabled at once, and once
		// deleted everything it encrypted is lost
		// (https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html). DynamoDB archives a table
		// whose key stays inaccessible for more than seven days
		// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_SSEDescription.html).
		keyOpts = append(keyOpts, pulumi.Protect(true), pulumi.RetainOnDelete(true))
	}
	key, err := kms.NewKey(ctx, name+"-key", keyArgs, keyOpts...)
	if err != nil {
		return nil, err
	}
	var arns pulumi.StringArray
	names := slices.Sorted(slices.Values(a.Names))
	for _, n := range names {
		value, ok := pulumi.ToSecret(a.Values.ToStringMapOutput().MapIndex(pulumi.String(n))).(pulumi.StringOutput)
		if !ok {
			return nil, fmt.Errorf("secrets %q: value of %s is not a string output", name, n)
		}
		paramName := a.Path + "/" + n
		param, err := ssm.NewParameter(ctx, name+"-"+strings.ToLower(strings.ReplaceAll(n, "_", "-")),
			&ssm.ParameterArgs{
				Name:        pulumi.String(paramName),
				Description: pulumi.Sprintf("appstack secret %s", n),
				Type:        pulumi.String("SecureString"),
				KeyId:       key.Arn,
				Value:       value,
				Tags:        tags.With(a.Tags, paramName),
			}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.ParameterNames[n] = paramName
		arns = append(arns, param.Arn)
	}
	c.KeyArn = key.Arn
	c.ParameterArns = arns.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"keyArn":        key.Arn,
		"parameterArns": c.ParameterArns,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// KeyPolicy is the default key policy (the account administers the key through IAM) plus use of the key by the
// given AWS services, which IAM policies cannot grant.
func KeyPolicy(accountRoot string, services []string) (string, error) {
	type statement struct {
		Sid       string
		Effect    string
		Principal map[string]any
		Action    any
		Resource  string
	}
	doc := struct {
		Version   string
		Statement []statement
	}{Version: "2012-10-17", Statement: []statement{
		{"AccountAdministersThroughIAM", "Allow", map[string]any{"AWS": accountRoot}, "kms:*", "*"},
	}}
	if len(services) > 0 {
		doc.Statement = append(doc.Statement, statement{"ServicesEncrypt", "Allow",
			map[string]any{"Service": services}, []string{"kms:Decrypt", "kms:GenerateDataKey"}, "*"})
	}
	out, err := json.Marshal(doc)
	return string(out), err
}
