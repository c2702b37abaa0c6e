package components_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/image"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func contentTag(t *testing.T, project string) string {
	t.Helper()
	got, err := image.ContentTag(project, "svc", "svc/Dockerfile", nil, "linux/amd64")
	require.NoError(t, err)
	return got
}

// Docker resolves a build context that is a symbolic link to the directory it points to and sends that
// directory's files, so the tag follows them too.
func TestContentTagFollowsASymlinkedContext(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "shared", "svc")
	write(t, filepath.Join(real, "Dockerfile"), "FROM scratch\nCOPY main.go /\n")
	write(t, filepath.Join(real, "main.go"), "package main\n")
	project := filepath.Join(root, "project")
	require.NoError(t, os.MkdirAll(project, 0o755))
	require.NoError(t, os.Symlink(filepath.Join("..", "shared", "svc"), filepath.Join(project, "svc")))

	before := contentTag(t, project)
	write(t, filepath.Join(real, "main.go"), "package main // changed\n")
	assert.NotEqual(t, before, contentTag(t, project), "the code behind the linked context changed")

	t.Run("a context reached through a linked parent directory", func(t *testing.T) {
		project := filepath.Join(root, "linked-project")
		require.NoError(t, os.Symlink(filepath.Join(root, "shared"), project))
		before := contentTag(t, project)
		write(t, filepath.Join(real, "extra.txt"), "x")
		assert.NotEqual(t, before, contentTag(t, project))
	})

	t.Run("the same files give the same tag through the link and directly", func(t *testing.T) {
		assert.Equal(t, contentTag(t, filepath.Join(root, "shared")), contentTag(t, project))
	})
}

// Inside the context Docker sends a symlink as a link (its target path), not the file it points to: the tag
// follows the link's target path, and a file outside the context that the link names is not part of the build.
func TestContentTagHashesASymlinkInsideTheContextAsALink(t *testing.T) {
	project := t.TempDir()
	write(t, filepath.Join(project, "svc", "Dockerfile"), "FROM scratch\n")
	write(t, filepath.Join(project, "outside.txt"), "one")
	write(t, filepath.Join(project, "svc", "a.txt"), "a")
	write(t, filepath.Join(project, "svc", "b.txt"), "b")
	link := filepath.Join(project, "svc", "link")
	require.NoError(t, os.Symlink(filepath.Join("..", "outside.txt"), link))

	before := contentTag(t, project)
	write(t, filepath.Join(project, "outside.txt"), "two")
	assert.Equal(t, before, contentTag(t, project), "a file outside the context is not sent")

	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink("a.txt", link))
	retargeted := contentTag(t, project)
	assert.NotEqual(t, before, retargeted, "the link now points elsewhere")
	require.NoError(t, os.Remove(link))
	require.NoError(t, os.Symlink("b.txt", link))
	assert.NotEqual(t, retargeted, contentTag(t, project))
}

func TestContentTagNamesADanglingContextLink(t *testing.T) {
	project := t.TempDir()
	require.NoError(t, os.Symlink("missing", filepath.Join(project, "svc")))
	_, err := image.ContentTag(project, "svc", "svc/Dockerfile", nil, "linux/amd64")
	assert.ErrorContains(t, err, `reading build context "svc"`)
}
