package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"appstack/components/identity"
)

// GitHubIssuer is GitHub Actions' OIDC token issuer.
const GitHubIssuer = "token.actions.githubusercontent.com"

var repoRE = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)

// Settings are the bootstrap's configuration (namespace appstack-bootstrap).
type Settings struct {
	// Repository is the GitHub repository, owner/name, whose workflows may assume the roles. Required.
	Repository string
	// Environments are the GitHub environments whose jobs may assume the deploy role.
	Environments []string
}

// Program creates the state bucket, the secrets key, the OIDC provider and the two roles.
func Program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "appstack-bootstrap")
	s := Settings{Repository: cfg.Get("githubRepository"), Environments: []string{"staging", "production", "review"}}
	if err := cfg.TryObject("environments", &s.Environments); err != nil && !isMissing(err) {
		return fmt.Errorf("appstack-bootstrap:environments: %w", err)
	}
	if !repoRE.MatchString(s.Repository) {
		return fmt.Errorf("appstack-bootstrap:githubRepository: %q: want owner/name "+
			"(pulumi config set appstack-bootstrap:githubRepository owner/name)", s.Repository)
	}
	tags := pulumi.StringMap{"app": pulumi.String("appstack"), "managed-by": pulumi.String("appstack-bootstrap"),
		"stack": pulumi.String(ctx.Stack())}
	protect := pulumi.Protect(true)

	key, err := kms.NewKey(ctx, "state-key", &kms.KeyArgs{
		Description:       pulumi.String("appstack: Pulumi state and stack secrets"),
		EnableKeyRotation: pulumi.Bool(true),
		Tags:              tags,
	}, protect)
	if err != nil {
		return err
	}
	alias, err := kms.NewAlias(ctx, "state-key-alias", &kms.AliasArgs{
		Name:        pulumi.Sprintf("alias/appstack-state-%s", ctx.Stack()),
		TargetKeyId: key.KeyId,
	})
	if err != nil {
		return err
	}
	bucket, err := stateBucket(ctx, key, tags)
	if err != nil {
		return err
	}
	oidc, err := iam.NewOpenIdConnectProvider(ctx, "github", &iam.OpenIdConnectProviderArgs{
		Url:           pulumi.String("https://" + GitHubIssuer),
		ClientIdLists: pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
		Tags:          tags,
	})
	if err != nil {
		return err
	}
	preview, err := previewRole(ctx, oidc, s, bucket, key, tags)
	if err != nil {
		return err
	}
	deploy, err := deployRole(ctx, oidc, s, bucket, key, tags)
	if err != nil {
		return err
	}
	region := config.Get(ctx, "aws:region")
	ctx.Export("stateBucket", pulumi.Sprintf("s3://%s", bucket.Bucket))
	ctx.Export("secretsProvider", pulumi.Sprintf("awskms://%s?region=%s", alias.Name, region))
	ctx.Export("previewRoleArn", preview.Arn)
	ctx.Export("deployRoleArn", deploy.Arn)
	ctx.Export("region", pulumi.String(region))
	return nil
}

func isMissing(err error) bool { return errors.Is(err, config.ErrMissingVar) }

// stateBucket is versioned, KMS-encrypted, owner-enforced, closed to the public and reachable over TLS only.
func stateBucket(ctx *pulumi.Context, key *kms.Key, tags pulumi.StringMap) (*s3.Bucket, error) {
	bucket, err := s3.NewBucket(ctx, "state", &s3.BucketArgs{Tags: tags}, pulumi.Protect(true))
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketVersioning(ctx, "state-versioning", &s3.BucketVersioningArgs{
		Bucket:                  bucket.ID(),
		VersioningConfiguration: &s3.BucketVersioningVersioningConfigurationArgs{Status: pulumi.String("Enabled")},
	}); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfiguration(ctx, "state-encryption",
		&s3.BucketServerSideEncryptionConfigurationArgs{
			Bucket: bucket.ID(),
			Rules: s3.BucketServerSideEncryptionConfigurationRuleArray{
				&s3.BucketServerSideEncryptionConfigurationRuleArgs{
					ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs{
						SseAlgorithm:   pulumi.String("aws:kms"),
						KmsMasterKeyId: key.Arn,
					},
					BucketKeyEnabled: pulumi.Bool(true),
				},
			},
		}); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, "state-public-access", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, "state-ownership", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}); err != nil {
		return nil, err
	}
	_, err = s3.NewBucketPolicy(ctx, "state-tls-only", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(func(arn string) (string, error) { return TLSOnlyPolicy(arn) }).(pulumi.StringOutput),
	})
	return bucket, err
}

// TLSOnlyPolicy denies every request to the bucket that does not use TLS.
func TLSOnlyPolicy(bucketArn string) (string, error) {
	return marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
		"Resource":  []string{bucketArn, bucketArn + "/*"},
		"Condition": map[string]any{"Bool": map[string]string{"aws:SecureTransport": "false"}},
	}}})
}

// TrustPolicy lets GitHub Actions tokens for the given subjects, and only them, assume a role (CKV_AWS_358:
// the audience is sts.amazonaws.com and the subject names this repository).
func TrustPolicy(providerArn string, subjects []string) (string, error) {
	return marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]string{"Federated": providerArn},
		"Action": "sts:AssumeRoleWithWebIdentity",
		"Condition": map[string]any{
			"StringEquals": map[string]any{GitHubIssuer + ":aud": "sts.amazonaws.com"},
			"StringLike":   map[string]any{GitHubIssuer + ":sub": subjects},
		},
	}}})
}

// PreviewSubjects are the tokens that may preview: pull requests and the main branch.
func PreviewSubjects(s Settings) []string {
	return []string{"repo:" + s.Repository + ":pull_request", "repo:" + s.Repository + ":ref:refs/heads/main"}
}

// DeploySubjects are the tokens that may deploy: jobs in the repository's deployment environments.
func DeploySubjects(s Settings) []string {
	out := make([]string, 0, len(s.Environments))
	for _, e := range s.Environments {
		out = append(out, "repo:"+s.Repository+":environment:"+e)
	}
	slices.Sort(out)
	return out
}

func previewRole(ctx *pulumi.Context, oidc *iam.OpenIdConnectProvider, s Settings, bucket *s3.Bucket,
	key *kms.Key, tags pulumi.StringMap) (*iam.Role, error) {
	role, err := iam.NewRole(ctx, "preview", &iam.RoleArgs{
		Description:      pulumi.String("appstack CI: pulumi preview (read-only)"),
		AssumeRolePolicy: trust(oidc, PreviewSubjects(s)),
		Tags:             tags,
	})
	if err != nil {
		return nil, err
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, "preview-view-only", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"),
	}); err != nil {
		return nil, err
	}
	_, err = iam.NewRolePolicy(ctx, "preview-state", &iam.RolePolicyArgs{
		Role: role.Name,
		Policy: pulumi.All(bucket.Arn, key.Arn).ApplyT(func(v []any) (string, error) {
			return PreviewPolicy(v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
	})
	return role, err
}

// PreviewPolicy reads the state and its secrets, takes the state lock, and reads what a refresh reads. It
// cannot read secret parameter values or write anything else.
func PreviewPolicy(bucketArn, keyArn string) (string, error) {
	return marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "StateRead", "Effect": "Allow", "Action": []string{"s3:GetObject", "s3:ListBucket"},
			"Resource": []string{bucketArn, bucketArn + "/*"}},
		map[string]any{"Sid": "StateLock", "Effect": "Allow", "Action": []string{"s3:PutObject", "s3:DeleteObject"},
			"Resource": []string{bucketArn + "/.pulumi/locks/*"}},
		map[string]any{"Sid": "StateKey", "Effect": "Allow", "Action": []string{"kms:Decrypt", "kms:DescribeKey"},
			"Resource": []string{keyArn}},
		map[string]any{"Sid": "PublicAMIParameters", "Effect": "Allow", "Action": []string{"ssm:GetParameter"},
			"Resource": []string{"arn:aws:ssm:*::parameter/aws/service/*"}},
		// Describe and Get calls a refresh makes, and the program's own lookup of the content tags a repository
		// holds (ecr:ListImages, through aws:ecr/getImages); AWS scopes none of them below the account.
		map[string]any{"Sid": "Refresh", "Effect": "Allow", "Resource": []string{"*"}, "Action": []string{
			"cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "dynamodb:DescribeContinuousBackups",
			"dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource",
			"ecr:DescribeRepositories", "ecr:GetAuthorizationToken", "ecr:GetLifecyclePolicy",
			"ecr:ListImages", "ecr:ListTagsForResource", "iam:GetInstanceProfile", "iam:GetRole", "iam:GetRolePolicy",
			"iam:ListAttachedRolePolicies", "iam:ListRolePolicies", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
			"kms:ListResourceTags", "logs:DescribeLogGroups", "logs:ListTagsForResource", "sns:GetSubscriptionAttributes",
			"sns:GetTopicAttributes", "sns:ListTagsForResource", "ssm:DescribeParameters", "ssm:ListTagsForResource",
		}},
	}})
}

func deployRole(ctx *pulumi.Context, oidc *iam.OpenIdConnectProvider, s Settings, bucket *s3.Bucket,
	key *kms.Key, tags pulumi.StringMap) (*iam.Role, error) {
	role, err := iam.NewRole(ctx, "deploy", &iam.RoleArgs{
		Description:        pulumi.String("appstack CI: pulumi up in the deployment environments"),
		AssumeRolePolicy:   trust(oidc, DeploySubjects(s)),
		MaxSessionDuration: pulumi.Int(3600),
		Tags:               tags,
	})
	if err != nil {
		return nil, err
	}
	_, err = iam.NewRolePolicy(ctx, "deploy-permissions", &iam.RolePolicyArgs{
		Role: role.Name,
		Policy: pulumi.All(bucket.Arn, key.Arn).ApplyT(func(v []any) (string, error) {
			return DeployPolicy(v[0].(string), v[1].(string))
		}).(pulumi.StringOutput),
	})
	return role, err
}

// DeployPolicy manages what appstack stacks declare. IAM is limited to roles and instance profiles under
// identity.Path, and a role may be passed only to EC2: the deploy role cannot grant itself more.
func DeployPolicy(bucketArn, keyArn string) (string, error) {
	iamScope := []string{"arn:aws:iam::*:role" + identity.Path + "*", "arn:aws:iam::*:instance-profile" +
		identity.Path + "*"}
	return marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "State", "Effect": "Allow", "Resource": []string{bucketArn, bucketArn + "/*"},
			"Action": []string{"s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"}},
		map[string]any{"Sid": "StateKey", "Effect": "Allow", "Resource": []string{keyArn},
			"Action": []string{"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}},
		map[string]any{"Sid": "AppServices", "Effect": "Allow", "Resource": []string{"*"}, "Action": []string{
			"cloudwatch:*", "dynamodb:*", "ec2:*", "ecr:*", "kms:*", "logs:*", "sns:*", "ssm:*"}},
		map[string]any{"Sid": "AppRoles", "Effect": "Allow", "Resource": iamScope, "Action": []string{
			"iam:AddRoleToInstanceProfile", "iam:AttachRolePolicy", "iam:CreateInstanceProfile", "iam:CreateRole",
			"iam:DeleteInstanceProfile", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
			"iam:GetInstanceProfile", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
			"iam:ListInstanceProfilesForRole", "iam:ListRolePolicies", "iam:PutRolePolicy",
			"iam:RemoveRoleFromInstanceProfile", "iam:TagInstanceProfile", "iam:TagRole", "iam:UntagRole",
			"iam:UpdateRole", "iam:UpdateRoleDescription"}},
		map[string]any{"Sid": "PassAppRolesToEC2Only", "Effect": "Allow", "Action": "iam:PassRole",
			"Resource":  iamScope[0],
			"Condition": map[string]any{"StringEquals": map[string]string{"iam:PassedToService": "ec2.amazonaws.com"}}},
	}})
}

func trust(oidc *iam.OpenIdConnectProvider, subjects []string) pulumi.StringOutput {
	return oidc.Arn.ApplyT(func(arn string) (string, error) { return TrustPolicy(arn, subjects) }).(pulumi.StringOutput)
}

func marshal(v any) (string, error) {
	out, err := json.Marshal(v)
	return string(out), err
}
