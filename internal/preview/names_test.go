package preview_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/preview"
	"appstack/testing/offlinetest"
)

// committedReports previews every committed stack file: the project's own and each example's.
func committedReports(t *testing.T) map[string]*preview.Report {
	t.Helper()
	out := map[string]*preview.Report{}
	root, err := filepath.Glob(filepath.Join(offlinetest.Root(), "Pulumi.*.yaml"))
	require.NoError(t, err)
	for _, f := range root {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		t.Chdir(offlinetest.Root())
		r, err := preview.Run(".", stack)
		require.NoError(t, err, f)
		out[filepath.Base(f)] = r
	}
	examples, err := filepath.Glob(filepath.Join(offlinetest.Root(), "examples", "*", "Pulumi.*.yaml"))
	require.NoError(t, err)
	for _, f := range examples {
		team := filepath.Base(filepath.Dir(f))
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		out["examples/"+team+"/"+filepath.Base(f)] = exampleReport(t, team, stack)
	}
	require.GreaterOrEqual(t, len(out), 6, "the project's stacks and the examples'")
	return out
}

// Two children of one parent with the same name (an image and a registry, say) have distinct URNs when their
// types differ, but read as one resource in the preview tree and in `pulumi stack`.
func TestNoTwoSiblingsShareAName(t *testing.T) {
	for file, r := range committedReports(t) {
		t.Run(file, func(t *testing.T) {
			seen := map[string]string{}
			for _, res := range r.Resources {
				key := res.Parent + " " + res.Name
				if other, ok := seen[key]; ok {
					assert.Failf(t, "two siblings share a name", "%s and %s are both %q under %s", other, res.Type,
						res.Name, res.Parent)
				}
				seen[key] = res.Type
			}
		})
	}
}

// testdata/deployed holds the previews of the stacks as they are deployed. A rename in the program must carry
// an alias, so that pulumi moves each deployed resource to its new name instead of deleting it and creating
// another. Refresh the files only with a release that deployed both stacks.
func TestRenamesKeepTheDeployedStacksResources(t *testing.T) {
	for _, stack := range []string{"staging", "production"} {
		t.Run(stack, func(t *testing.T) {
			base, err := preview.ReadReport(filepath.Join(offlinetest.Root(), "internal", "preview", "testdata",
				"deployed", stack+".json"))
			require.NoError(t, err)
			renamed := map[string]string{}
			for _, c := range preview.Diff(base, report(t, stack, nil)) {
				assert.NotEqual(t, "remove", c.Kind, "%s %s is deleted", c.Type, c.Name)
				assert.Empty(t, c.ReplaceBecause, "%s %s is replaced", c.Type, c.Name)
				if c.RenamedFrom != "" {
					renamed[c.Name] = c.RenamedFrom
				}
			}
			prefix := "urn:pulumi:" + stack + "::appstack::appstack:components:App$appstack:components:Image"
			assert.Equal(t, map[string]string{
				"app-web-image":       prefix + "::app-web",
				"app-web-image-image": prefix + "$docker:index/image:Image::app-web-image",
			}, renamed, "the image component and its push keep their state under the new names")
		})
	}
}

// A table or service whose name makes its component a namesake of another child is a warning naming its key.
func TestATableNamedLikeAServiceIsAWarning(t *testing.T) {
	r := report(t, "staging", map[string]string{
		"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"}},` +
			`{"name":"web-image","port":8081,"image":"public.ecr.aws/nginx/nginx@sha256:` + strings.Repeat("a", 64) + `"}]`,
		"appstack:tables": `[{"name":"web","hashKey":"id"},{"name":"secrets","hashKey":"id"}]`,
	})
	assert.Contains(t, r.Warnings, "appstack:services[0].name: service web's image is named <app>-web-image, as "+
		"service web-image's registry (appstack:services[1].name): the preview and pulumi stack show the name "+
		"twice; give a new one another name (renaming a deployed one replaces it)")
	assert.Len(t, r.Warnings, 3, "%v", r.Warnings)
	joined := strings.Join(r.Warnings, "\n")
	assert.Contains(t, joined, "appstack:tables[0].name: table web is named <app>-web, as service web's registry")
	assert.Contains(t, joined, "appstack:tables[1].name: table secrets is named <app>-secrets, as the app's own "+
		"secrets component")
	assert.Empty(t, report(t, "staging", nil).Warnings, "the committed stack has no namesakes")
}

func TestTheDiffShowsARenameAsKept(t *testing.T) {
	base, err := preview.ReadReport(filepath.Join(offlinetest.Root(), "internal", "preview", "testdata", "deployed",
		"staging.json"))
	require.NoError(t, err)
	head := report(t, "staging", nil)
	var out bytes.Buffer
	require.NoError(t, preview.WriteDiff(&out, base, head, preview.Diff(base, head)))
	assert.Contains(t, out.String(), "0 to add, 0 to change in place, 0 to replace, 0 to remove, 2 renamed and kept")
	assert.Contains(t, out.String(), "~  appstack:components:Image app-web-image  (renamed from app-web, kept "+
		"through its alias)")
}
