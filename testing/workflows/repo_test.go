package workflows

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"appstack/internal/project"
)

func TestDependabotKeepsActionsAndModulesCurrent(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(project.Root(), ".github", "dependabot.yml"))
	require.NoError(t, err)
	var cfg struct {
		Version int
		Updates []struct {
			Ecosystem   string   `yaml:"package-ecosystem"`
			Directory   string   `yaml:"directory"`
			Directories []string `yaml:"directories"`
			Schedule    struct{ Interval string }
		}
	}
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	assert.Equal(t, 2, cfg.Version)
	dirs := map[string][]string{}
	for _, u := range cfg.Updates {
		assert.NotEmpty(t, u.Schedule.Interval, u.Ecosystem)
		dirs[u.Ecosystem] = append(append(dirs[u.Ecosystem], u.Directories...), u.Directory)
	}
	// "/" covers .github/workflows only; the local composite action's pins need their own directory.
	for _, d := range []string{"/", "/.github/actions/*"} {
		assert.True(t, slices.Contains(dirs["github-actions"], d), "github-actions: %s", d)
	}
	for _, d := range []string{"/", "/app", "/tools"} {
		assert.True(t, slices.Contains(dirs["gomod"], d), "gomod: %s (a go.mod lives there)", d)
		_, err := os.Stat(filepath.Join(project.Root(), d, "go.mod"))
		assert.NoError(t, err)
	}
}

func TestCodeOwnersReviewThePipelineAndTheBootstrap(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(project.Root(), ".github", "CODEOWNERS"))
	require.NoError(t, err)
	owners := map[string][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		owners[f[0]] = f[1:]
	}
	// The production stack and what judges its pull requests' diff are reviewed too: the diff's check runs the
	// pull request's own code (docs/security.md).
	for _, path := range []string{"/.github/", "/bootstrap/", "/Pulumi.production.yaml", "/policy/", "/internal/preview/",
		"/cmd/preview/"} {
		require.NotEmpty(t, owners[path], "%s has an owner", path)
		for _, o := range owners[path] {
			assert.True(t, strings.HasPrefix(o, "@"), "%s: %s is a user or @org/team", path, o)
		}
	}
	readme, err := os.ReadFile(filepath.Join(project.Root(), "README.md"))
	require.NoError(t, err)
	for _, o := range owners["/.github/"] {
		if strings.Contains(o, "OWNER") {
			assert.Contains(t, string(readme), o, "the README tells the maintainer to replace the placeholder")
		}
	}
}

func TestTheReadmeListsEverySettingTheWorkflowsRead(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(project.Root(), "README.md"))
	require.NoError(t, err)
	names := append([]string{}, settings...)
	for env, vars := range environmentSettings {
		assert.Contains(t, string(readme), "`"+env+"`", "the README sets up environment %s", env)
		names = append(names, vars...)
	}
	for _, name := range names {
		_, bare, _ := strings.Cut(name, ".")
		assert.Contains(t, string(readme), "`"+bare+"`", "the README tells the maintainer to set %s", name)
	}
}

// Production's secrets are decrypted by the production preview's role: the README has the maintainer give that
// environment the production reviewers, and the tag ruleset that keeps a tag named main out.
func TestTheReadmeGuardsProductionsSecretsWithTheProductionReviewers(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(project.Root(), "README.md"))
	require.NoError(t, err)
	rows := 0
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		for _, env := range []string{"production-preview", "production"} {
			if strings.HasPrefix(line, "| `"+env+"` |") {
				rows++
				assert.Contains(t, line, "the production reviewers", "%s: %s", env, line)
				assert.Contains(t, line, "*Prevent self-review*", "%s: %s", env, line)
			}
		}
	}
	assert.GreaterOrEqual(t, rows, 4, "both environment tables list both environments")
	assert.Contains(t, string(raw), `"target": "tag"`, "a tag ruleset")
	assert.Contains(t, string(raw), `"exclude": ["refs/tags/v*"]`, "only release tags may be created")
	assert.Contains(t, string(raw), `"include": ["refs/heads/main"]`, "a ruleset on the branch, by its full ref")
}
