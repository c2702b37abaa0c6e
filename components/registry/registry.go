// Package registry is the component that owns one service's ECR repository and its lifecycle policy.
package registry

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/components/tags"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Registry"

// Args configures a Registry.
type Args struct {
	// KeepImages is how many images the lifecycle policy keeps, for rollbacks. Default 10.
	KeepImages int
	// ForceDelete lets destroy delete the repository while it holds images. Default false; only for
	// throw-away stacks, whose images are not worth keeping.
	ForceDelete bool
	// KmsKeyArn encrypts images with this key. Optional: the AWS-managed ECR key (still KMS).
	KmsKeyArn pulumi.StringInput
	// Tags go on the repository. Optional.
	Tags map[string]string
	// Adopt is the name of an existing repository to adopt with pulumi import instead of creating one; it is
	// then retained on delete, since it outlives the stack. Optional.
	Adopt string
	// Mutability sets an adopted repository's tag mutability, IMMUTABLE or MUTABLE. Default: the repository
	// keeps the one it has (created repositories are always IMMUTABLE).
	Mutability string
	// NoScanOnPush and AES256 declare an adopted repository's settings where they miss appstack's defaults
	// (scan on push, KMS), so that adopting changes nothing; the policy flags each. Default false.
	NoScanOnPush, AES256 bool
	// LifecyclePolicy puts the lifecycle policy on an adopted repository. Default false: an adopted
	// repository's images never expire unless its owner asks (created repositories always get the policy).
	LifecyclePolicy bool
}

// Registry is an ECR repository with immutable tags, scan on push, KMS encryption and a lifecycle policy.
type Registry struct {
	pulumi.ResourceState

	// RepositoryURL is where images are pushed: <account>.dkr.ecr.<region>.amazonaws.com/<name>.
	RepositoryURL pulumi.StringOutput
	// RepositoryArn scopes the host's pull permission.
	RepositoryArn pulumi.StringOutput
	// RegistryID is the account that owns the repository, for the login token.
	RegistryID pulumi.StringOutput
	// RepositoryName is the repository's name, read from its id: unknown in a preview until the repository
	// exists (terraform-provider-aws sets a repository's id to its name), so that a lookup of its images
	// never targets a repository that is yet to be created.
	RepositoryName pulumi.StringOutput
}

func (a *Args) withDefaults() Args {
	out := *a
	if out.KeepImages == 0 {
		out.KeepImages = 10
	}
	return out
}

// New creates the repository and its lifecycle policy.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Registry, error) {
	a := args.withDefaults()
	if a.KeepImages < 1 {
		return nil, fmt.Errorf("registry %q: KeepImages %d: want at least 1", name, a.KeepImages)
	}
	c := &Registry{}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	encryption := ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("KMS")}
	if a.KmsKeyArn != nil {
		encryption.KmsKey = a.KmsKeyArn
	}
	repoArgs := &ecr.RepositoryArgs{
		// Immutable tags: a tag always means one image, so a deploy is reproducible and a rollback exact.
		ImageTagMutability:         pulumi.String("IMMUTABLE"),
		ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
		EncryptionConfigurations:   ecr.RepositoryEncryptionConfigurationArray{encryption},
		ForceDelete:                pulumi.Bool(a.ForceDelete),
		Tags:                       tags.With(a.Tags, name),
	}
	repoOpts := []pulumi.ResourceOption{pulumi.Parent(c)}
	if a.Adopt != "" {
		repoArgs.Name = pulumi.String(a.Adopt)
		if a.Mutability != "" {
			repoArgs.ImageTagMutability = pulumi.String(a.Mutability)
		} else {
			// Kept as the repository has it: the engine puts the value it read back for an ignored property
			// (pulumi/pulumi v3.200.0 pkg/resource/deploy/step.go, ImportStep.Apply, processIgnoreChanges),
			// where undeclared the provider's default MUTABLE or appstack's IMMUTABLE would be set; an old
			// pipeline that pushes a moving tag keeps working through the cut-over.
			repoArgs.ImageTagMutability = nil
			repoOpts = append(repoOpts, pulumi.IgnoreChanges([]string{"imageTagMutability"}))
		}
		if a.NoScanOnPush {
			repoArgs.ImageScanningConfiguration = &ecr.RepositoryImageScanningConfigurationArgs{
				ScanOnPush: pulumi.Bool(false)}
		}
		if a.AES256 {
			repoArgs.EncryptionConfigurations = ecr.RepositoryEncryptionConfigurationArray{
				ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("AES256")}}
		}
		// The engine reads the repository by its name (pulumi import); the images in it stay.
		repoOpts = append(repoOpts, pulumi.Import(pulumi.ID(a.Adopt)), pulumi.RetainOnDelete(true))
	}
	repo, err := ecr.NewRepository(ctx, name+"-repo", repoArgs, repoOpts...)
	if err != nil {
		return nil, err
	}
	c.RepositoryURL = repo.RepositoryUrl
	c.RepositoryArn = repo.Arn
	c.RegistryID = repo.RegistryId
	c.RepositoryName = repo.ID().ToStringOutput()
	outputs := pulumi.Map{"repositoryUrl": repo.RepositoryUrl, "repositoryArn": repo.Arn}
	if a.Adopt != "" && !a.LifecyclePolicy {
		// The policy expires untagged images and all but the newest KeepImages: an adopted repository's
		// history is its owner's to expire.
		if err := ctx.RegisterResourceOutputs(c, outputs); err != nil {
			return nil, err
		}
		return c, nil
	}
	policy, err := LifecyclePolicy(a.KeepImages)
	if err != nil {
		return nil, fmt.Errorf("registry %q: %w", name, err)
	}
	_, err = ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(policy),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, outputs); err != nil {
		return nil, err
	}
	return c, nil
}

// LifecyclePolicy expires untagged images after a day and keeps the newest keep images of any tag.
func LifecyclePolicy(keep int) (string, error) {
	type selection struct {
		TagStatus   string `json:"tagStatus"`
		CountType   string `json:"countType"`
		CountUnit   string `json:"countUnit,omitempty"`
		CountNumber int    `json:"countNumber"`
	}
	type rule struct {
		RulePriority int               `json:"rulePriority"`
		Description  string            `json:"description"`
		Selection    selection         `json:"selection"`
		Action       map[string]string `json:"action"`
	}
	expire := map[string]string{"type": "expire"}
	out, err := json.Marshal(map[string][]rule{"rules": {
		{1, "expire untagged images after 1 day", selection{"untagged", "sinceImagePushed", "days", 1}, expire},
		// ECR requires the "any" rule to have the lowest priority (the highest number).
		{2, fmt.Sprintf("keep the newest %d images", keep), selection{"any", "imageCountMoreThan", "", keep}, expire},
	}})
	return string(out), err
}

// ecrRefRE is an image in a private ECR registry: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<name>, then a
// tag or a digest.
var ecrRefRE = regexp.MustCompile(`^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/([a-z0-9][a-z0-9._/-]*)[:@]`)

// RepositoryArnOf returns the ARN of the ECR repository an image reference names, such as
// 123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/web@sha256:... ->
// arn:aws:ecr:ap-southeast-1:123456789012:repository/web. ok is false for an image outside private ECR.
func RepositoryArnOf(ref string) (arn string, ok bool) {
	m := ecrRefRE.FindStringSubmatch(ref)
	if m == nil {
		return "", false
	}
	partition := "aws"
	switch {
	case m[3] == ".cn":
		partition = "aws-cn"
	case strings.HasPrefix(m[2], "us-gov-"):
		partition = "aws-us-gov"
	}
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", partition, m[2], m[1], m[4]), true
}
