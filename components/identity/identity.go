// Package identity is the component that owns the host's IAM role, its instance profile and its policies.
package identity

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/tags"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Identity"

// Args configures an Identity. Every ARN list scopes one statement of the inline policy; an empty list
// leaves that statement out.
type Args struct {
	// RepositoryArns are the ECR repositories the host pulls from. Optional.
	RepositoryArns pulumi.StringArrayInput
	// TableArns are the DynamoDB tables the services read and write (their indexes too). Optional.
	TableArns pulumi.StringArrayInput
	// ParameterArns are the SSM parameters the host reads at boot (the services' secrets). Optional.
	ParameterArns pulumi.StringArrayInput
	// KmsKeyArn is the key that encrypts the parameters and tables. Optional.
	KmsKeyArn pulumi.StringInput
	// LogGroupArn is the log group the host and its containers write to. Required.
	LogGroupArn pulumi.StringInput
	// ReadyParameterPrefix is the SSM path under which the host may write its readiness signal, such as
	// /appstack/staging/app/ready. Optional; the only parameters the role may write.
	ReadyParameterPrefix string
	// PermissionsBoundary is the ARN of the managed policy that caps the role (the bootstrap's
	// appstack-host-boundary, DefaultBoundaryArn). Required: the bootstrap's deploy roles may create no role
	// without it.
	PermissionsBoundary pulumi.StringInput
	// Tags go on the role and the instance profile. Optional.
	Tags map[string]string
}

// Identity is the role the EC2 host assumes.
type Identity struct {
	pulumi.ResourceState

	// RoleArn is the role's ARN.
	RoleArn pulumi.StringOutput
	// InstanceProfileName is what the instance's iamInstanceProfile takes.
	InstanceProfileName pulumi.StringOutput
	// Ready are the resources a host must not boot before: the role's inline policy, the SSM core attachment
	// and the instance profile. They are the resources themselves, not this component: the Go SDK learns a
	// component's children as their registrations run, so a DependsOn on the component can miss some.
	Ready []pulumi.Resource
}

// Grants are the resolved ARNs the inline policy is built from.
type Grants struct {
	RepositoryArns []string
	TableArns      []string
	ParameterArns  []string
	KmsKeyArn      string
	LogGroupArn    string
	// ReadyParameterArn is the ARN pattern of the readiness parameters, <prefix>/*.
	ReadyParameterArn string
	// ReadyPathArn is the ARN of the readiness path itself, <prefix>, which ssm:GetParametersByPath is
	// authorized against.
	ReadyPathArn string
}

// Path is the IAM path of every role and instance profile appstack creates; the bootstrap's deploy role may
// manage IAM only under it.
const Path = "/appstack/"

// BoundaryPolicyName is the name of the permissions boundary policy the bootstrap creates under Path. Every
// role appstack creates carries it, and the bootstrap's deploy roles may create no role without it.
const BoundaryPolicyName = "appstack-host-boundary"

// DefaultBoundaryArn is the bootstrap's boundary in the account and partition of accountArn, any ARN of the
// account (such as the stack's log group).
func DefaultBoundaryArn(accountArn string) (string, error) {
	a, err := arn.Parse(accountArn)
	if err != nil || a.AccountID == "" {
		return "", fmt.Errorf("cannot read the account from ARN %q", accountArn)
	}
	return fmt.Sprintf("arn:%s:iam::%s:policy%s%s", a.Partition, a.AccountID, Path, BoundaryPolicyName), nil
}

// AutoScalingService is Amazon EC2 Auto Scaling's service principal. The bootstrap makes sure the account has
// its default service-linked role, AutoScalingServiceLinkedRoleName.
const AutoScalingService = "autoscaling.amazonaws.com"

// AutoScalingServiceLinkedRoleName is the default service-linked role of Auto Scaling: a fleet's group launches
// and terminates hosts, registers them with target groups and publishes its SNS notifications as this role
// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-service-linked-role.html).
const AutoScalingServiceLinkedRoleName = "AWSServiceRoleForAutoScaling"

// AutoScalingServiceLinkedRoleArn is AutoScalingServiceLinkedRoleName in the account and partition of
// accountArn, any ARN of the account (the account root, the stack's log group). A key that encrypts an SNS topic
// a group notifies must name this role, not a service principal, in its key policy with kms:GenerateDataKey*
// and kms:Decrypt: "Some Amazon SNS event sources require you to provide an IAM role (rather than the service
// principal) in the AWS KMS key policy: Amazon EC2 Auto Scaling"
// (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), and the role's own policy
// (AutoScalingServiceRolePolicy) grants it no KMS action.
func AutoScalingServiceLinkedRoleArn(accountArn string) (string, error) {
	a, err := arn.Parse(accountArn)
	if err != nil || a.AccountID == "" {
		return "", fmt.Errorf("cannot read the account from ARN %q", accountArn)
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/%s/%s", a.Partition, a.AccountID,
		AutoScalingService, AutoScalingServiceLinkedRoleName), nil
}

// AssumeRolePolicy trusts only the EC2 service.
const AssumeRolePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
	`"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// New creates the role, its inline policy, the SSM core attachment and the instance profile.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Identity, error) {
	if args.LogGroupArn == nil {
		return nil, fmt.Errorf("identity %q: LogGroupArn is required", name)
	}
	if args.PermissionsBoundary == nil {
		return nil, fmt.Errorf("identity %q: PermissionsBoundary is required", name)
	}
	c := &Identity{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Description: pulumi.String("appstack host role"),
		// Under /appstack/, so that the deploy role may manage these roles and no others.
		Path:             pulumi.String(Path),
		AssumeRolePolicy: pulumi.String(AssumeRolePolicy),
		// The boundary caps the role whatever policy it is given later.
		PermissionsBoundary: args.PermissionsBoundary,
		Tags:                tags.With(args.Tags, name),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	policy := pulumi.All(orEmpty(args.RepositoryArns), orEmpty(args.TableArns), orEmpty(args.ParameterArns),
		orEmptyString(args.KmsKeyArn), args.LogGroupArn).ApplyT(func(v []any) (string, error) {
		return PolicyDocument(Grants{
			RepositoryArns:    v[0].([]string),
			TableArns:         v[1].([]string),
			ParameterArns:     v[2].([]string),
			KmsKeyArn:         v[3].(string),
			LogGroupArn:       v[4].(string),
			ReadyParameterArn: readyParameterArn(v[4].(string), args.ReadyParameterPrefix),
			ReadyPathArn:      strings.TrimSuffix(readyParameterArn(v[4].(string), args.ReadyParameterPrefix), "/*"),
		})
	}).(pulumi.StringOutput)
	inline, err := iam.NewRolePolicy(ctx, name+"-policy", &iam.RolePolicyArgs{
		Role:   role.Name,
		Policy: policy,
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	// Session Manager replaces SSH: no port 22, no key pairs, every session audited.
	core, err := iam.NewRolePolicyAttachment(ctx, name+"-ssm-core", &iam.RolePolicyAttachmentArgs{
		Role: role.Name,
		PolicyArn: role.Arn.ApplyT(func(arn string) string {
			return "arn:" + partition(arn) + ":iam::aws:policy/AmazonSSMManagedInstanceCore"
		}).(pulumi.StringOutput),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	profile, err := iam.NewInstanceProfile(ctx, name+"-profile", &iam.InstanceProfileArgs{
		Path: pulumi.String(Path),
		Role: role.Name,
		Tags: tags.With(args.Tags, name),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.RoleArn = role.Arn
	c.InstanceProfileName = profile.Name
	c.Ready = []pulumi.Resource{inline, core, profile}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"roleArn":             role.Arn,
		"instanceProfileName": profile.Name,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func orEmpty(in pulumi.StringArrayInput) pulumi.StringArrayInput {
	if in == nil {
		return pulumi.StringArray{}
	}
	return in
}

func orEmptyString(in pulumi.StringInput) pulumi.StringInput {
	if in == nil {
		return pulumi.String("")
	}
	return in
}

// readyParameterArn builds arn:<partition>:ssm:<region>:<account>:parameter<prefix>/* from the log group's ARN,
// which names the same partition, region and account.
func readyParameterArn(logGroupArn, prefix string) string {
	a, err := arn.Parse(logGroupArn)
	if prefix == "" || err != nil {
		return ""
	}
	return fmt.Sprintf("arn:%s:ssm:%s:%s:parameter%s/*", a.Partition, a.Region, a.AccountID,
		strings.TrimSuffix(prefix, "/"))
}

// partition reads the partition (aws, aws-cn, aws-us-gov) out of an ARN.
func partition(s string) string {
	if a, err := arn.Parse(s); err == nil && a.Partition != "" {
		return a.Partition
	}
	return "aws"
}
