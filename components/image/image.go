// Package image is the component that builds a service's image and pushes it to its ECR repository.
package image

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ecr"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
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
	// RepositoryName is the repository's name, unknown until it exists (registry.Registry.RepositoryName).
	// Required: its images are listed to reuse a tag it already holds.
	RepositoryName pulumi.StringInput
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
	// Reused is true when the repository already held Tag, so nothing was built or pushed.
	Reused bool
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
	case a.RepositoryURL == nil || a.RegistryID == nil || a.RepositoryName == nil:
		return fmt.Errorf("image %q: RepositoryURL, RepositoryName and RegistryID are required", name)
	}
	return nil
}

// New makes sure the repository holds the image of the service's current build inputs and reports its digest.
//
// The tag is a hash of the build inputs (ContentTag), and the repository's tags are IMMUTABLE: ECR refuses a
// push of a tag it already holds with ImageTagAlreadyExistsException, even for identical content. So New first
// lists the repository's images through the AWS provider (aws:ecr/getImages, the deploy's own credentials
// and region). When the tag is there, New declares no docker.Image at all and the host runs
// <repositoryUrl>@<the digest ECR holds>; only a tag the repository lacks is built and pushed. That covers
// every way an existing tag comes back: a revert to an earlier commit, a deploy from another machine whose
// file modes change pulumi-docker's context digest but not the tag, a create that failed after its push.
//
// Why not a docker.Image with skipPush and ignoreChanges: pulumi-docker v4.10.0 (provider/provider.go) adds
// build.contextDigest (file contents and full mode bits) in Check, after the engine applied ignoreChanges,
// and its Diff turns any input change into an Update that builds and pushes again; with skipPush it still
// builds and reports the local image id as repoDigest (provider/image.go). Its Delete leaves the registry
// alone, so dropping the docker.Image once its tag exists never deletes an image.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Image, error) {
	a := args.withDefaults()
	if err := a.validate(name); err != nil {
		return nil, err
	}
	tag, err := ContentTag(a.ProjectDir, a.Context, a.Dockerfile, a.BuildArgs, a.Platform)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", name, err)
	}
	c := &Image{Tag: tag}
	if err := ctx.RegisterComponentResource(Type, name, c, opts...); err != nil {
		return nil, err
	}
	existing, err := existingDigest(ctx, c, a.RepositoryName, tag)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", name, err)
	}
	if existing != "" {
		c.Reused = true
		c.RepoDigest = pulumi.Sprintf("%s@%s", a.RepositoryURL, existing)
	} else {
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
		// The host runs what ECR holds under the tag, read after the push: the same source as a reused tag,
		// and never a local image id or pulumi-docker's "<none>@<none>".
		pushed := pulumi.All(a.RepositoryName, img.RepoDigest).ApplyT(func(v []any) string {
			return v[0].(string)
		}).(pulumi.StringOutput)
		c.RepoDigest = pulumi.All(a.RepositoryURL, ecr.GetImagesOutput(ctx, ecr.GetImagesOutputArgs{
			RepositoryName: pushed,
		}, pulumi.Parent(c))).ApplyT(func(v []any) (string, error) {
			d, ok := digestOf(v[1].(ecr.GetImagesResult).ImageIds, tag)
			if !ok {
				return "", fmt.Errorf("image %q: tag %s is not in repository %s after the push", name, tag, v[0])
			}
			return v[0].(string) + "@" + d, nil
		}).(pulumi.StringOutput)
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"repoDigest": c.RepoDigest, "tag": pulumi.String(tag),
		"reused": pulumi.Bool(c.Reused)}); err != nil {
		return nil, err
	}
	return c, nil
}

// existingDigest returns the digest the repository holds under tag, or "" when it holds none. A repository
// that does not exist yet (its name is unknown in a preview) holds nothing.
func existingDigest(ctx *pulumi.Context, parent pulumi.Resource, repository pulumi.StringInput, tag string) (
	string, error) {
	// The lookup decides whether a docker.Image is declared at all, so it needs the name as a plain value:
	// registering resources inside an apply would hide them from previews.
	res, err := internals.UnsafeAwaitOutput(ctx.Context(), repository.ToStringOutput())
	if err != nil {
		return "", err
	}
	name, ok := res.Value.(string)
	if !res.Known || !ok || name == "" {
		return "", nil
	}
	images, err := ecr.GetImages(ctx, &ecr.GetImagesArgs{RepositoryName: name}, pulumi.Parent(parent))
	if err != nil {
		return "", fmt.Errorf("listing the images of repository %s: %w", name, err)
	}
	d, _ := digestOf(images.ImageIds, tag)
	return d, nil
}

func digestOf(images []ecr.GetImagesImageId, tag string) (string, bool) {
	for _, img := range images {
		if img.ImageTag == tag && img.ImageDigest != "" {
			return img.ImageDigest, true
		}
	}
	return "", false
}
