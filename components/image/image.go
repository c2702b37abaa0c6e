// Package image is the component that builds a service's image and pushes it to its ECR repository.
package image

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ecr"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type is the component's type token. It never changes once deployed.
const Type = "appstack:components:Image"

// Args configures an Image.
type Args struct {
	// Context is the build context directory, relative to the project directory. Required.
	Context string
	// Dockerfile is the Dockerfile's path, relative to the project directory. Default <Context>/Dockerfile.
	Dockerfile string
	// BuildArgs are docker build arguments. Optional; never secrets (they stay in the image history).
	BuildArgs map[string]string
	// Platform is the target platform, linux/amd64 or linux/arm64, matching the host. Required.
	Platform string
	// ProjectDir is where Context and Dockerfile are read from to compute the tag. Default ".".
	ProjectDir string
	// RepositoryURL is the ECR repository to push to. Required.
	RepositoryURL pulumi.StringInput
	// RegistryID is the account that owns the repository, for the login token. Required.
	RegistryID pulumi.StringInput
}

// Image is a built and pushed container image.
type Image struct {
	pulumi.ResourceState

	// Tag is the content-hash tag the image was pushed under.
	Tag string
	// RepoDigest is <repository>@sha256:<digest>, the reference the host runs.
	RepoDigest pulumi.StringOutput
}

func (a *Args) withDefaults() Args {
	out := *a
	if out.Dockerfile == "" {
		out.Dockerfile = out.Context + "/Dockerfile"
	}
	if out.ProjectDir == "" {
		out.ProjectDir = "."
	}
	return out
}

func (a *Args) validate(name string) error {
	switch {
	case a.Context == "":
		return fmt.Errorf("image %q: Context is required", name)
	case a.Platform != "linux/amd64" && a.Platform != "linux/arm64":
		return fmt.Errorf("image %q: Platform %q: want linux/amd64 or linux/arm64", name, a.Platform)
	case a.RepositoryURL == nil || a.RegistryID == nil:
		return fmt.Errorf("image %q: RepositoryURL and RegistryID are required", name)
	}
	return nil
}

// New builds the image for the host's platform and pushes it under a tag derived from its inputs' content.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Image, error) {
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, err
	}
	// The repository's tags are immutable, so a tag may name one image only: it is the hash of what goes
	// into the build. Unchanged inputs give the same tag and no new push.
	tag, err := ContentTag(a.ProjectDir, a.Context, a.Dockerfile, a.BuildArgs, a.Platform)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", name, err)
	}
	c := &Image{Tag: tag}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	auth := ecr.GetAuthorizationTokenOutput(ctx, ecr.GetAuthorizationTokenOutputArgs{
		RegistryId: a.RegistryID,
	}, pulumi.Parent(c))
	img, err := docker.NewImage(ctx, name+"-image", &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s:%s", a.RepositoryURL, tag),
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(a.Context),
			Dockerfile: pulumi.String(a.Dockerfile),
			Args:       pulumi.ToStringMap(a.BuildArgs),
			Platform:   pulumi.String(a.Platform),
		},
		Registry: &docker.RegistryArgs{
			Server:   auth.ProxyEndpoint(),
			Username: auth.UserName(),
			Password: pulumi.ToSecret(auth.Password()).(pulumi.StringOutput),
		},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.RepoDigest = img.RepoDigest
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"repoDigest": img.RepoDigest, "tag": pulumi.String(tag)}); err != nil {
		return nil, err
	}
	return c, nil
}
