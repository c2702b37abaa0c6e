package components_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/image"
	"appstack/components/registry"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

func writeContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "svc", ".git"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "svc", "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "svc", "main.go"), []byte("package main\n"), 0o644))
	return dir
}

func tag(t *testing.T, dir string, args map[string]string, platform string) string {
	t.Helper()
	got, err := image.ContentTag(dir, "svc", "svc/Dockerfile", args, platform)
	require.NoError(t, err)
	return got
}

func TestContentTagFollowsEveryBuildInput(t *testing.T) {
	dir := writeContext(t)
	base := tag(t, dir, nil, "linux/amd64")
	assert.Regexp(t, `^c-[0-9a-f]{24}$`, base)
	assert.Equal(t, base, tag(t, dir, nil, "linux/amd64"), "same inputs, same tag")

	for _, tc := range []struct {
		name   string
		change func()
		args   map[string]string
		plat   string
	}{
		{"a source file changes", func() {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "svc", "main.go"), []byte("package main //x\n"), 0o644))
		}, nil, "linux/amd64"},
		{"a file becomes executable", func() {
			require.NoError(t, os.Chmod(filepath.Join(dir, "svc", "main.go"), 0o755))
		}, nil, "linux/amd64"},
		{"a file is added", func() {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "svc", "extra.txt"), []byte("x"), 0o644))
		}, nil, "linux/amd64"},
		{"a symlink is added", func() {
			require.NoError(t, os.Symlink("main.go", filepath.Join(dir, "svc", "link.go")))
		}, nil, "linux/amd64"},
		{"a build argument changes", func() {}, map[string]string{"VERSION": "2"}, "linux/amd64"},
		{"the platform changes", func() {}, nil, "linux/arm64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tag(t, dir, nil, "linux/amd64")
			tc.change()
			assert.NotEqual(t, before, tag(t, dir, tc.args, tc.plat))
		})
	}
}

// pulumi-docker's context digest hashes each file's full mode string (provider.go hashPath), so a checkout
// with another umask changes it; the tag keeps only the executable bit, so the same commit gives the same tag
// on a laptop and in CI.
func TestContentTagIgnoresModeBitsOtherThanExecutable(t *testing.T) {
	dir := writeContext(t)
	before := tag(t, dir, nil, "linux/amd64")
	require.NoError(t, os.Chmod(filepath.Join(dir, "svc", "main.go"), 0o664))
	assert.Equal(t, before, tag(t, dir, nil, "linux/amd64"))
}

func TestContentTagSkipsGit(t *testing.T) {
	dir := writeContext(t)
	before := tag(t, dir, nil, "linux/amd64")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "svc", ".git", "HEAD"), []byte("ref"), 0o644))
	assert.Equal(t, before, tag(t, dir, nil, "linux/amd64"))
}

func TestContentTagNamesAMissingContext(t *testing.T) {
	_, err := image.ContentTag(t.TempDir(), "nope", "nope/Dockerfile", nil, "linux/amd64")
	assert.ErrorContains(t, err, `reading build context "nope"`)
}

// deployImage runs one deploy of the web service's repository and image against reg, the registry that
// successive deploys share, and returns the run and the digest the host would run.
func deployImage(t *testing.T, reg *offline.Registry, dir string, buildArgs map[string]string,
	platform string) (*offline.Result, string, error) {
	t.Helper()
	res, err := offline.Run(func(ctx *pulumi.Context) error {
		repo, err := registry.New(ctx, "web", &registry.Args{})
		if err != nil {
			return err
		}
		img, err := image.New(ctx, "web", &image.Args{
			Context: "svc", Platform: platform, ProjectDir: dir, BuildArgs: buildArgs,
			RepositoryURL: repo.RepositoryURL, RepositoryName: repo.RepositoryName, RegistryID: repo.RegistryID,
		})
		if err != nil {
			return err
		}
		ctx.Export("digest", img.RepoDigest)
		return nil
	}, offline.Options{Stack: "test", Config: map[string]string{"aws:region": offlinetest.Region}, Registry: reg})
	if err != nil {
		return res, "", err
	}
	return res, res.Exports["digest"].(string), nil
}

func TestImageIsBuiltForThePlatformAndPushedWithECRCredentials(t *testing.T) {
	dir := writeContext(t)
	res, digest, err := deployImage(t, &offline.Registry{}, dir, map[string]string{"VERSION": "1"}, "linux/arm64")
	require.NoError(t, err)
	repo := offlinetest.One(t, res, "aws:ecr/repository:Repository")
	url := repo.Outputs["repositoryUrl"].StringValue()
	img := offlinetest.One(t, res, "docker:index/image:Image")
	want := url + ":" + tag(t, dir, map[string]string{"VERSION": "1"}, "linux/arm64")
	assert.Equal(t, want, offlinetest.Str(t, img, "imageName"), "the tag is the content hash")
	assert.Equal(t, "linux/arm64", offlinetest.Str(t, img, "build.platform"))
	assert.Equal(t, "svc", offlinetest.Str(t, img, "build.context"), "paths stay relative to the project")
	assert.Equal(t, "svc/Dockerfile", offlinetest.Str(t, img, "build.dockerfile"))
	assert.Equal(t, "https://123456789012.dkr.ecr.ap-southeast-1.amazonaws.com",
		offlinetest.Str(t, img, "registry.server"))
	assert.Equal(t, "AWS", offlinetest.Str(t, img, "registry.username"))
	assert.True(t, offlinetest.Prop(t, img, "registry.password").IsSecret(), "the registry token stays secret")
	assert.Regexp(t, `^`+regexp.QuoteMeta(url)+`@sha256:[0-9a-f]{64}$`, digest,
		"the host runs the digest ECR holds under the tag")

	var asked, listed bool
	for _, inv := range res.Invokes {
		switch inv.Token {
		case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
			asked = inv.Args["registryId"].StringValue() == "123456789012"
		case "aws:ecr/getImages:getImages":
			listed = inv.Args["repositoryName"].StringValue() == repo.ID
		}
	}
	assert.True(t, asked, "credentials come from the repository's registry")
	assert.True(t, listed, "the repository's images are looked up through the provider, by the repository's id")
}

// The repository is IMMUTABLE and ECR refuses to push a tag it holds, even with identical content, so a tag
// that comes back is reused with its digest and never pushed again.
func TestAnExistingTagIsReusedAndNeverPushedAgain(t *testing.T) {
	t.Run("a revert to an earlier content tag reuses its digest", func(t *testing.T) {
		dir, reg := writeContext(t), &offline.Registry{}
		main := filepath.Join(dir, "svc", "main.go")
		_, first, err := deployImage(t, reg, dir, nil, "linux/amd64")
		require.NoError(t, err)

		require.NoError(t, os.WriteFile(main, []byte("package main // v2\n"), 0o644))
		res, second, err := deployImage(t, reg, dir, nil, "linux/amd64")
		require.NoError(t, err)
		assert.Len(t, res.OfType("docker:index/image:Image"), 1, "a new tag is built and pushed")
		assert.NotEqual(t, first, second)

		require.NoError(t, os.WriteFile(main, []byte("package main\n"), 0o644))
		res, reverted, err := deployImage(t, reg, dir, nil, "linux/amd64")
		require.NoError(t, err, "the earlier tag must not be pushed again")
		assert.Empty(t, res.OfType("docker:index/image:Image"), "nothing is built or pushed")
		assert.Equal(t, first, reverted, "the host runs the image first pushed under the tag")
	})

	t.Run("a create that failed after its push reuses what was pushed", func(t *testing.T) {
		dir, reg := writeContext(t), &offline.Registry{}
		// The repository and the pushed tag exist; the image resource never made it into the state.
		res, first, err := deployImage(t, reg, dir, nil, "linux/amd64")
		require.NoError(t, err)
		repo := offlinetest.One(t, res, "aws:ecr/repository:Repository").ID
		digest, ok := reg.Digest(repo, tag(t, dir, nil, "linux/amd64"))
		require.True(t, ok)
		assert.True(t, strings.HasSuffix(first, "@"+digest))

		res, again, err := deployImage(t, reg, dir, nil, "linux/amd64")
		require.NoError(t, err)
		assert.Empty(t, res.OfType("docker:index/image:Image"))
		assert.Equal(t, first, again)
	})

	t.Run("another platform is another tag, and is pushed", func(t *testing.T) {
		dir, reg := writeContext(t), &offline.Registry{}
		_, amd, err := deployImage(t, reg, dir, nil, "linux/amd64")
		require.NoError(t, err)
		res, arm, err := deployImage(t, reg, dir, nil, "linux/arm64")
		require.NoError(t, err)
		assert.Len(t, res.OfType("docker:index/image:Image"), 1)
		assert.NotEqual(t, amd, arm)
	})
}

func TestTheRegistryAnswersLikeECR(t *testing.T) {
	reg := &offline.Registry{}
	reg.CreateRepository("web", "IMMUTABLE")
	first, err := reg.Push("web", "c-1", offline.Account)
	require.NoError(t, err)
	_, err = reg.Push("web", "c-1", offline.Account)
	assert.ErrorContains(t, err, "ImageTagAlreadyExistsException: tag invalid: The image tag 'c-1' already exists "+
		"in the 'web' repository and cannot be overwritten because the repository is immutable.",
		"identical content is refused too")
	d, _ := reg.Digest("web", "c-1")
	assert.Equal(t, first, d, "the refused push changed nothing")

	reg.CreateRepository("mutable", "")
	_, err = reg.Push("mutable", "latest", offline.Account)
	require.NoError(t, err)
	_, err = reg.Push("mutable", "latest", offline.Account)
	assert.NoError(t, err, "a MUTABLE repository moves the tag")

	_, err = reg.ListImages("nope", offline.Account)
	assert.ErrorContains(t, err, "RepositoryNotFoundException")
	_, err = reg.Push("nope", "c-1", offline.Account)
	assert.ErrorContains(t, err, "RepositoryNotFoundException")

	assert.ErrorContains(t, reg.DeleteRepository("web", offline.Account, false), "RepositoryNotEmptyException")
	require.NoError(t, reg.DeleteRepository("web", offline.Account, true), "forceDelete deletes it with its images")
	_, err = reg.ListImages("web", offline.Account)
	assert.Error(t, err)
}

func TestImageArgsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args image.Args
		want string
	}{
		{image.Args{Platform: "linux/amd64"}, `image "web": Context is required`},
		{image.Args{Context: "svc", Platform: "windows/amd64"}, `Platform "windows/amd64": want linux/amd64 or linux/arm64`},
		{image.Args{Context: "svc", Platform: "linux/amd64"}, `RepositoryURL, RepositoryName and RegistryID are required`},
	} {
		_, err := offlinetest.RunErr(program(image.New, "web", &tc.args))
		assert.ErrorContains(t, err, tc.want)
	}
}
