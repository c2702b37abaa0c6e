package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"appstack/components/identity"
)

var (
	repoRE   = regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`)
	repoIDRE = regexp.MustCompile(`^[1-9][0-9]*$`)
)

// EventsService is the service whose service-linked role (AWSServiceRoleForCloudWatchEvents) performs
// CloudWatch alarms' EC2 actions.
const EventsService = "events.amazonaws.com"

// Settings are the bootstrap's configuration (namespace appstack-bootstrap).
type Settings struct {
	// Repository is the GitHub repository, owner/name, whose workflows may assume the roles. Required.
	Repository string
	// RepositoryID is the repository's numeric id (gh api repos/OWNER/REPO --jq .id), which the customized OIDC
	// subject carries. Required.
	RepositoryID string
	// OwnerID is the repository owner's numeric id (gh api repos/OWNER/REPO --jq .owner.id). Optional: when set,
	// the roles also trust GitHub's immutable subject form, repo:OWNER@OWNERID/NAME@REPOID:…
	OwnerID string
	// Region is the AWS region of the state bucket and the keys (aws:region). Required.
	Region string
}

// Program creates, once per AWS account: the state bucket and its key, a secrets key per environment, the
// GitHub OIDC provider, one role per GitHub environment plus the pull-request preview role, the permissions
// boundary of every role appstack stacks create, and the CloudWatch Events and Auto Scaling service-linked roles.
func Program(ctx *pulumi.Context) error {
	return program(ctx, findServiceLinkedRole)
}

// roleFinder returns the ARN of the service's service-linked role, or "" when the account has none.
type roleFinder func(ctx *pulumi.Context, service string) (string, error)

func program(ctx *pulumi.Context, find roleFinder) error {
	cfg := config.New(ctx, "appstack-bootstrap")
	s := Settings{Repository: cfg.Get("githubRepository"), RepositoryID: cfg.Get("githubRepositoryId"),
		OwnerID: cfg.Get("githubOwnerId"), Region: config.Get(ctx, "aws:region")}
	if !repoRE.MatchString(s.Repository) {
		return fmt.Errorf("appstack-bootstrap:githubRepository: %q: want owner/name "+
			"(pulumi config set appstack-bootstrap:githubRepository owner/name)", s.Repository)
	}
	if !repoIDRE.MatchString(s.RepositoryID) {
		return fmt.Errorf("appstack-bootstrap:githubRepositoryId: %q: want the repository's numeric id "+
			"(pulumi config set appstack-bootstrap:githubRepositoryId \"$(gh api repos/%s --jq .id)\")",
			s.RepositoryID, s.Repository)
	}
	if s.OwnerID != "" && !repoIDRE.MatchString(s.OwnerID) {
		return fmt.Errorf("appstack-bootstrap:githubOwnerId: %q: want the repository owner's numeric id "+
			"(pulumi config set appstack-bootstrap:githubOwnerId \"$(gh api repos/%s --jq .owner.id)\")",
			s.OwnerID, s.Repository)
	}
	if s.Region == "" {
		return fmt.Errorf("aws:region: not set (pulumi config set aws:region ap-southeast-1)")
	}
	dns, err := dnsScopes(ctx, cfg.Get("dns"))
	if err != nil {
		return err
	}
	tags := func(extra ...string) pulumi.StringMap {
		m := pulumi.StringMap{"app": pulumi.String("appstack"), "managed-by": pulumi.String("appstack-bootstrap"),
			"stack": pulumi.String(ctx.Stack())}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = pulumi.String(extra[i+1])
		}
		return m
	}
	protect := pulumi.Protect(true)

	oidc, err := iam.NewOpenIdConnectProvider(ctx, "github", &iam.OpenIdConnectProviderArgs{
		Url:           pulumi.String("https://" + GitHubIssuer),
		ClientIdLists: pulumi.StringArray{pulumi.String(Audience)},
		Tags:          tags(),
	})
	if err != nil {
		return err
	}
	// The account and partition, read from an ARN the program already has.
	account := oidc.Arn.ApplyT(accountOf).(pulumi.StringArrayOutput)
	keyPolicy := func(env string) pulumi.StringOutput {
		return account.ApplyT(func(id []string) (string, error) {
			return KeyPolicy(Account{Partition: id[0], ID: id[1]}, env).JSON()
		}).(pulumi.StringOutput)
	}

	stateKey, err := kms.NewKey(ctx, "state-key", &kms.KeyArgs{
		Description:       pulumi.String("appstack: Pulumi state bucket"),
		EnableKeyRotation: pulumi.Bool(true),
		Policy:            keyPolicy(""),
		Tags:              tags(),
	}, protect)
	if err != nil {
		return err
	}
	if _, err := kms.NewAlias(ctx, "state-key-alias", &kms.AliasArgs{
		Name:        pulumi.Sprintf("alias/appstack-state-%s", ctx.Stack()),
		TargetKeyId: stateKey.KeyId,
	}); err != nil {
		return err
	}
	bucket, err := stateBucket(ctx, stateKey, tags())
	if err != nil {
		return err
	}
	secretsKeys := map[string]*kms.Key{}
	for _, env := range SecretsKeys {
		key, err := kms.NewKey(ctx, "secrets-"+env, &kms.KeyArgs{
			Description:       pulumi.Sprintf("appstack: secrets of the %s stacks", env),
			EnableKeyRotation: pulumi.Bool(true),
			Policy:            keyPolicy(env),
			Tags:              tags("environment", env),
		}, protect)
		if err != nil {
			return err
		}
		if _, err := kms.NewAlias(ctx, "secrets-"+env+"-alias", &kms.AliasArgs{
			Name:        pulumi.String(KeyAlias(env)),
			TargetKeyId: key.KeyId,
		}); err != nil {
			return err
		}
		secretsKeys[env] = key
		ctx.Export(env+"SecretsProvider", pulumi.String(fmt.Sprintf("awskms://%s?region=%s", KeyAlias(env), s.Region)))
	}
	accountArns := pulumi.All(account, bucket.Arn, stateKey.Arn, secretsKeys["review"].Arn,
		secretsKeys["staging"].Arn, secretsKeys["production"].Arn).ApplyT(func(v []any) any {
		id := v[0].([]string)
		return Account{Partition: id[0], ID: id[1], StateBucketArn: v[1].(string), StateKeyArn: v[2].(string),
			SecretsKeyArns: map[string]string{"review": v[3].(string), "staging": v[4].(string),
				"production": v[5].(string)}}
	})

	boundary, err := iam.NewPolicy(ctx, "host-boundary", &iam.PolicyArgs{
		Name:        pulumi.String(BoundaryName),
		Path:        pulumi.String(identity.Path),
		Description: pulumi.String("appstack: the most any role an appstack stack creates may do"),
		Policy: accountArns.ApplyT(func(a any) (string, error) {
			return BoundaryPolicy(a.(Account)).JSON()
		}).(pulumi.StringOutput),
		Tags: tags(),
	})
	if err != nil {
		return err
	}
	for _, r := range Roles {
		role, err := iam.NewRole(ctx, string(r), &iam.RoleArgs{
			Name:        pulumi.String(RoleName(r)),
			Description: pulumi.String(roleDescription(r)),
			AssumeRolePolicy: oidc.Arn.ApplyT(func(arn string) (string, error) {
				return TrustPolicy(arn, Subjects(s.Repository, s.RepositoryID, s.OwnerID, r)).JSON()
			}).(pulumi.StringOutput),
			MaxSessionDuration: pulumi.Int(3600),
			Tags:               tags(),
		})
		if err != nil {
			return err
		}
		if _, err := iam.NewRolePolicy(ctx, string(r)+"-permissions", &iam.RolePolicyArgs{
			Role: role.Name,
			Policy: accountArns.ApplyT(func(a any) (string, error) {
				return RolePolicy(a.(Account), r, s.Region).JSON()
			}).(pulumi.StringOutput),
		}); err != nil {
			return err
		}
		if Specs[r].Deploys {
			if err := attachDeployPolicies(ctx, r, role, accountArns, dns[r], tags()); err != nil {
				return err
			}
		}
		ctx.Export(exportName(r), role.Arn)
	}
	for _, slr := range ServiceLinkedRoles {
		if err := serviceLinkedRole(ctx, find, slr); err != nil {
			return err
		}
	}
	ctx.Export("stateBucket", pulumi.Sprintf("s3://%s", bucket.Bucket))
	ctx.Export("boundaryPolicyArn", boundary.Arn)
	ctx.Export("region", pulumi.String(s.Region))
	return nil
}

// attachDeployPolicies gives a deploy role its managed policies (DeployPolicies), kept outside identity.Path so
// that no deploy role may touch them.
func attachDeployPolicies(ctx *pulumi.Context, r Role, role *iam.Role, account pulumi.Output, dns DNSScope,
	tags pulumi.StringMap) error {
	for i, m := range DeployPolicies(Account{}, Specs[r].Stacks, dns) {
		name := fmt.Sprintf("%s-%s", r, m.Name)
		policy, err := iam.NewPolicy(ctx, name, &iam.PolicyArgs{
			Name:        pulumi.String(RoleName(r) + "-" + m.Name),
			Path:        pulumi.String(CIPolicyPath),
			Description: pulumi.Sprintf("appstack CI: what the %s role may deploy (%s)", r, m.Name),
			Policy: account.ApplyT(func(a any) (string, error) {
				return DeployPolicies(a.(Account), Specs[r].Stacks, dns)[i].Doc.JSON()
			}).(pulumi.StringOutput),
			Tags: tags,
		})
		if err != nil {
			return err
		}
		if _, err := iam.NewRolePolicyAttachment(ctx, name, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: policy.Arn,
		}); err != nil {
			return err
		}
	}
	return nil
}

// dnsScopes reads and checks appstack-bootstrap:dns, looks up each environment's public hosted zone (as the
// program does for appstack:domain: infra/appstack placeFrontDoor), and warns of each deploy role that gets no
// DNS or certificate rights.
func dnsScopes(ctx *pulumi.Context, raw string) (map[Role]DNSScope, error) {
	c, err := ParseDNS(raw)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	scopes, err := c.Scopes(func(zone string) (string, error) {
		z, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{Name: pulumi.StringRef(zone),
			PrivateZone: pulumi.BoolRef(false)})
		if err != nil {
			return "", err
		}
		return z.ZoneId, nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range environment {
		if scopes[r].Empty() {
			_ = ctx.Log.Warn(fmt.Sprintf("%s.%s is not set: the %s role may change no DNS record and request no "+
				"certificate, so its stacks cannot have appstack:domain", DNSKey, r, r), nil)
		}
	}
	return scopes, nil
}

// exportName is the stack output that holds a role's ARN: previewRoleArn, reviewRoleArn, stagingRoleArn,
// productionPreviewRoleArn, productionRoleArn, driftRoleArn.
func exportName(r Role) string {
	if r == PullRequestPreview {
		return "previewRoleArn"
	}
	parts := strings.Split(string(r), "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "") + "RoleArn"
}

func roleDescription(r Role) string {
	if Specs[r].Deploys {
		return fmt.Sprintf("appstack CI: pulumi up of the %s stacks (GitHub %s)", Specs[r].Stacks, Specs[r].Context)
	}
	return fmt.Sprintf("appstack CI: pulumi preview of %s, read-only (GitHub %s)", Specs[r].Stacks, Specs[r].Context)
}

// accountOf returns [partition, account id] of an ARN.
func accountOf(s string) ([]string, error) {
	a, err := arn.Parse(s)
	if err != nil || a.AccountID == "" {
		return nil, fmt.Errorf("cannot read the account from ARN %q", s)
	}
	return []string{a.Partition, a.AccountID}, nil
}

// ServiceLinkedRole is a service-linked role the bootstrap makes sure exists.
type ServiceLinkedRole struct {
	// Name is the Pulumi resource name; Service the AWS service it is linked to; Export the output of its ARN.
	Name, Service, Export string
}

// ServiceLinkedRoles are the service-linked roles appstack stacks need and a fresh account lacks:
//   - AWSServiceRoleForCloudWatchEvents, with which CloudWatch performs alarms' EC2 actions (the hosts' recover
//     and reboot alarms: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-service-linked-roles.html);
//   - AWSServiceRoleForAutoScaling, with which Auto Scaling launches and replaces a fleet's hosts and publishes its
//     notifications. CreateAutoScalingGroup creates it on the account's first group
//     (https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-service-linked-role.html), but a role
//     created in the same call may not be usable yet for the group's first launches, and a stack key's policy can
//     name it, for the encrypted alarm topic, only once it exists: "The principals in the key policy must exist
//     and be visible to KMS" (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html).
//
// The deploy roles create no role outside /appstack/; the one IAM call they may make for these is
// iam:CreateServiceLinkedRole for exactly these names and services, which PutMetricAlarm and
// CreateAutoScalingGroup check.
var ServiceLinkedRoles = []ServiceLinkedRole{
	{Name: "cloudwatch-events", Service: EventsService, Export: "eventsServiceLinkedRoleArn"},
	{Name: "autoscaling", Service: identity.AutoScalingService, Export: "autoScalingServiceLinkedRoleArn"},
}

// serviceLinkedRole creates the role, or adopts it when the account already has it (pulumi.Import; the engine
// imports only when the resource is not yet in the state with that ID, pkg/resource/deploy/step_generator.go).
// It is retained when the bootstrap is destroyed, because other stacks use it. Its description is AWS's: the
// provider's description argument is optional but not computed (terraform-provider-aws
// internal/service/iam/service_linked_role.go), so an adopted role, or one AWS describes by itself, would
// otherwise show a change that rewrites it.
func serviceLinkedRole(ctx *pulumi.Context, find roleFinder, slr ServiceLinkedRole) error {
	existing, err := find(ctx, slr.Service)
	if err != nil {
		return fmt.Errorf("service-linked role of %s: looking it up: %w", slr.Service, err)
	}
	opts := []pulumi.ResourceOption{pulumi.RetainOnDelete(true), pulumi.IgnoreChanges([]string{"description"})}
	if existing != "" {
		opts = append(opts, pulumi.Import(pulumi.ID(existing)))
	}
	role, err := iam.NewServiceLinkedRole(ctx, slr.Name, &iam.ServiceLinkedRoleArgs{
		AwsServiceName: pulumi.String(slr.Service),
	}, opts...)
	if err != nil {
		return err
	}
	ctx.Export(slr.Export, role.Arn)
	return nil
}

// findServiceLinkedRole lists the roles under the service's service-linked path. iam.LookupRole is no use here:
// the aws_iam_role data source fails on a missing role like on any other error (GetRole's NoSuchEntity comes
// back as "reading IAM Role"), while aws_iam_roles lists nothing and succeeds (terraform-provider-aws
// internal/service/iam/role_data_source.go, roles_data_source.go).
func findServiceLinkedRole(ctx *pulumi.Context, service string) (string, error) {
	res, err := iam.GetRoles(ctx, &iam.GetRolesArgs{PathPrefix: pulumi.StringRef("/aws-service-role/" + service + "/")})
	if err != nil {
		return "", err
	}
	switch len(res.Arns) {
	case 0:
		return "", nil
	case 1:
		return res.Arns[0], nil
	}
	return "", fmt.Errorf("%d roles under /aws-service-role/%s/, want at most one: %v", len(res.Arns), service, res.Arns)
}

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

func marshal(v any) (string, error) {
	out, err := json.Marshal(v)
	return string(out), err
}
