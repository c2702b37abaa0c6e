// Package secrets is the component that owns a stack's KMS key and the SSM SecureString parameters that hold
// its services' secrets.
package secrets

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/iam"
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
	// AccountRoot is arn:<partition>:iam::<account>:root, which administers the key through IAM. Optional:
	// default the root of the deploy's own account (aws:index/getCallerIdentity).
	AccountRoot pulumi.StringInput
	// DeployRoles maps the name of a role that only previews the stack to the name of the role that deploys it
	// (stacks.CIDeployRoles in this repository), both under the same path. The key policy names the deploying role, so that a
	// preview or drift check run by the preview role shows the policy the deploy keeps. Optional.
	DeployRoles map[string]string
	// ServicePrincipals may encrypt and decrypt with the key, such as cloudwatch.amazonaws.com publishing alarms
	// to an encrypted SNS topic. Optional.
	ServicePrincipals []string
	// ServiceLinkedRoles are service-linked roles of the account, by path and name under aws-service-role/ (such
	// as autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling, which publishes a fleet's notifications to the
	// encrypted SNS topic), that may encrypt and decrypt with the key. A key policy may name only roles that exist:
	// the bootstrap creates them. Optional.
	ServiceLinkedRoles []string
	// Protect keeps the key: pulumi refuses to delete or replace it, and a delete from the program leaves it
	// in AWS. Default false; set it wherever the tables the key encrypts are protected, because a table whose
	// key is scheduled for deletion is unreadable, and DynamoDB archives it when its key stays inaccessible for
	// seven days.
	Protect bool
	// Retain leaves the key in AWS when the program deletes it (a destroy), without protecting it: for a key
	// that encrypts a resource the stack hands back on destroy, such as an adopted table. Default false.
	Retain bool
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
	// Parameters are the secret parameters themselves, for a host that must not boot before they exist (a
	// DependsOn on this component can miss children whose registration has not run yet).
	Parameters []pulumi.Resource
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
	// A key of the stack's own, so that only this stack's host role (and its deploy) can decrypt its secrets.
	//
	// The key policy names the IAM role (or user) that deploys the stack. The CI roles may otherwise use the key
	// only while its tags match their stacks, and AWS KMS documents that "it might take up to five minutes for
	// tag and alias changes to affect KMS key authorization"
	// (https://docs.aws.amazon.com/kms/latest/developerguide/abac.html), while the provider enables rotation
	// right after CreateKey and retries that only on NotFound and Disabled (terraform-provider-aws
	// internal/service/kms/key.go, updateKeyRotationEnabled), and SSM encrypts the parameters with the key
	// seconds later. A key-policy statement for a named principal is part of the key from its creation.
	caller := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, pulumi.Parent(c))
	// An assumed-role session's ARN (arn:aws:sts::…:assumed-role/<role>/<session>) is no principal a key policy
	// accepts for long: the session changes on every run. getSessionContext gives the role behind it, with its
	// path; an IAM user's ARN passes through unchanged.
	deployer := iam.GetSessionContextOutput(ctx, iam.GetSessionContextOutputArgs{Arn: caller.Arn()},
		pulumi.Parent(c)).IssuerArn().ApplyT(func(issuer string) string {
		return deployingRole(issuer, a.DeployRoles)
	}).(pulumi.StringOutput)
	root := a.AccountRoot
	if root == nil {
		root = caller.Arn().ApplyT(accountRootOf).(pulumi.StringOutput)
	}
	keyArgs := &kms.KeyArgs{
		Description:          pulumi.Sprintf("appstack %s: secrets and tables", a.Path),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(a.DeletionWindowDays),
		Tags:                 tags.With(a.Tags, name),
		Policy: pulumi.All(root, deployer).ApplyT(func(v []any) (string, error) {
			return KeyPolicy(v[0].(string), v[1].(string), a.ServicePrincipals, a.ServiceLinkedRoles...)
		}).(pulumi.StringOutput),
	}
	keyOpts := []pulumi.ResourceOption{pulumi.Parent(c)}
	if a.Protect {
		// Deleting a KMS key schedules it for deletion after the window: it is disabled at once, and once
		// deleted everything it encrypted is lost
		// (https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html). DynamoDB archives a table
		// whose key stays inaccessible for more than seven days
		// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_SSEDescription.html).
		keyOpts = append(keyOpts, pulumi.Protect(true), pulumi.RetainOnDelete(true))
	} else if a.Retain {
		keyOpts = append(keyOpts, pulumi.RetainOnDelete(true))
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
		c.Parameters = append(c.Parameters, param)
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

// DeployerKeyActions are what the deploying principal does with its stack's key: the provider's create, read,
// update and delete of aws_kms_key (CreateKey's follow-ups EnableKeyRotation and the DescribeKey,
// GetKeyRotationStatus, GetKeyPolicy and ListResourceTags waiters; PutKeyPolicy, UpdateKeyDescription,
// TagResource and UntagResource on update; ScheduleKeyDeletion on delete — terraform-provider-aws
// internal/service/kms/key.go), SSM SecureString parameters (PutParameter encrypts with kms:Encrypt, the
// provider's read-back decrypts with kms:Decrypt; advanced parameters use kms:GenerateDataKey —
// https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html).
// No kms:ReEncrypt*: nothing the deploy runs re-encrypts under another key.
var DeployerKeyActions = []string{
	"kms:Decrypt", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey",
	"kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:PutKeyPolicy",
	"kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateKeyDescription",
}

// KeyPolicy is AWS's default key policy (the account administers the key through IAM:
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html), the deploying principal's use
// of the key from its creation (DeployerKeyActions, and grants only for AWS resources, which DynamoDB creates to
// encrypt a table: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html),
// and use of the key by the given AWS services, which IAM policies cannot grant. The root statement is always
// there, so PutKeyPolicy's lockout safety check passes and the account keeps control of the key whoever deploys.
func KeyPolicy(accountRoot, deployer string, services []string, serviceLinkedRoles ...string) (string, error) {
	if accountRoot == "" || deployer == "" {
		return "", fmt.Errorf("key policy: the account root (%q) and the deploying principal (%q) are required",
			accountRoot, deployer)
	}
	type statement struct {
		Sid       string
		Effect    string
		Principal map[string]any
		Action    any
		Resource  string
		Condition map[string]map[string]string `json:",omitempty"`
	}
	doc := struct {
		Version   string
		Statement []statement
	}{Version: "2012-10-17", Statement: []statement{
		{Sid: "AccountAdministersThroughIAM", Effect: "Allow", Principal: map[string]any{"AWS": accountRoot},
			Action: "kms:*", Resource: "*"},
		{Sid: "DeployerUsesTheKey", Effect: "Allow", Principal: map[string]any{"AWS": deployer},
			Action: DeployerKeyActions, Resource: "*"},
		{Sid: "DeployerGrantsForAWSResources", Effect: "Allow", Principal: map[string]any{"AWS": deployer},
			Action: "kms:CreateGrant", Resource: "*",
			Condition: map[string]map[string]string{"Bool": {"kms:GrantIsForAWSResource": "true"}}},
	}}
	if len(services) > 0 {
		doc.Statement = append(doc.Statement, statement{Sid: "ServicesEncrypt", Effect: "Allow",
			Principal: map[string]any{"Service": services}, Action: []string{"kms:Decrypt", "kms:GenerateDataKey"},
			Resource: "*"})
	}
	if len(serviceLinkedRoles) > 0 {
		// The service-linked role's own policy grants no use of customer managed keys; the key policy must.
		var roles []string
		for _, r := range serviceLinkedRoles {
			roles = append(roles, strings.TrimSuffix(accountRoot, ":root")+":role/aws-service-role/"+r)
		}
		doc.Statement = append(doc.Statement, statement{Sid: "ServiceLinkedRolesEncrypt", Effect: "Allow",
			Principal: map[string]any{"AWS": roles}, Action: []string{"kms:Decrypt", "kms:GenerateDataKey"},
			Resource: "*"})
	}
	out, err := json.Marshal(doc)
	return string(out), err
}

// deployingRole is the role that deploys the stack for the role behind the session: a preview role's deploying
// role, under the same path, or the issuer itself.
func deployingRole(issuer string, deployRoles map[string]string) string {
	a, err := arn.Parse(issuer)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
		return issuer
	}
	i := strings.LastIndex(a.Resource, "/")
	if d, ok := deployRoles[a.Resource[i+1:]]; ok {
		a.Resource = a.Resource[:i+1] + d
		return a.String()
	}
	return issuer
}

// accountRootOf is arn:<partition>:iam::<account>:root for the account of an ARN.
func accountRootOf(s string) (string, error) {
	a, err := arn.Parse(s)
	if err != nil || a.AccountID == "" {
		return "", fmt.Errorf("cannot read the account from the caller ARN %q", s)
	}
	return fmt.Sprintf("arn:%s:iam::%s:root", a.Partition, a.AccountID), nil
}
