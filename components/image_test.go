package components_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/image"
	"appstack/internal/offline/offlinetest"
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

func TestImageIsBuiltForThePlatformAndPushedWithECRCredentials(t *testing.T) {
	dir := writeContext(t)
	res := offlinetest.Run(t, program(image.New, "web", &image.Args{
		Context: "svc", Platform: "linux/arm64", ProjectDir: dir,
		BuildArgs:     map[string]string{"VERSION": "1"},
		RepositoryURL: pulumi.String("123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/web"),
		RegistryID:    pulumi.String("123456789012"),
	}))
	img := offlinetest.One(t, res, "docker:index/image:Image")
	want := "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/web:" +
		tag(t, dir, map[string]string{"VERSION": "1"}, "linux/arm64")
	assert.Equal(t, want, offlinetest.Str(t, img, "imageName"), "the tag is the content hash")
	assert.Equal(t, "linux/arm64", offlinetest.Str(t, img, "build.platform"))
	assert.Equal(t, "svc", offlinetest.Str(t, img, "build.context"), "paths stay relative to the project")
	assert.Equal(t, "svc/Dockerfile", offlinetest.Str(t, img, "build.dockerfile"))
	assert.Equal(t, "https://123456789012.dkr.ecr.ap-southeast-1.amazonaws.com",
		offlinetest.Str(t, img, "registry.server"))
	assert.Equal(t, "AWS", offlinetest.Str(t, img, "registry.username"))
	assert.True(t, offlinetest.Prop(t, img, "registry.password").IsSecret(), "the registry token stays secret")

	var asked bool
	for _, inv := range res.Invokes {
		if inv.Token == "aws:ecr/getAuthorizationToken:getAuthorizationToken" {
			asked = inv.Args["registryId"].StringValue() == "123456789012"
		}
	}
	assert.True(t, asked, "credentials come from the repository's registry")
}

func TestImageArgsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args image.Args
		want string
	}{
		{image.Args{Platform: "linux/amd64"}, `image "web": Context is required`},
		{image.Args{Context: "svc", Platform: "windows/amd64"}, `Platform "windows/amd64": want linux/amd64 or linux/arm64`},
		{image.Args{Context: "svc", Platform: "linux/amd64"}, `RepositoryURL and RegistryID are required`},
	} {
		_, err := offlinetest.RunErr(program(image.New, "web", &tc.args))
		assert.ErrorContains(t, err, tc.want)
	}
}
