// Package workflows holds the tests of the GitHub workflows' own rules (actionlint checks their syntax).
package workflows

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"appstack/internal/project"
)

// pinned is owner/repo[/path]@<full commit SHA> # vMAJOR.MINOR.PATCH.
var pinned = regexp.MustCompile(`^([\w.-]+/[\w.-]+)(/[\w./-]+)?@[0-9a-f]{40} # v(\d+)\.\d+\.\d+$`)

// minimumMajor refuses deprecated releases, such as the v3 artifact actions that broke seed 000's pipeline.
var minimumMajor = map[string]int{
	"actions/checkout": 4, "actions/setup-go": 5, "actions/upload-artifact": 4, "actions/download-artifact": 4,
	"aws-actions/configure-aws-credentials": 4,
}

type workflow struct {
	path        string
	On          yaml.Node              `yaml:"on"`
	Permissions map[string]string      `yaml:"permissions"`
	Jobs        map[string]*job        `yaml:"jobs"`
	Runs        struct{ Steps []step } `yaml:"runs"`
	raw         string
}

type job struct {
	Permissions map[string]string `yaml:"permissions"`
	Environment any               `yaml:"environment"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress any    `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Steps []step `yaml:"steps"`
}

type step struct {
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
}

// load reads every workflow and the local setup action, with each uses: line as written (comment included).
func load(t *testing.T) []*workflow {
	t.Helper()
	root := project.Root()
	paths, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	require.NoError(t, err)
	paths = append(paths, filepath.Join(root, ".github", "actions", "setup", "action.yml"))
	require.GreaterOrEqual(t, len(paths), 6)
	var out []*workflow
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		w := &workflow{path: filepath.Base(p), raw: string(raw)}
		require.NoError(t, yaml.Unmarshal(raw, w), p)
		out = append(out, w)
	}
	return out
}

func usesLines(raw string) []string {
	var out []string
	for _, line := range strings.Split(raw, "\n") {
		if _, after, ok := strings.Cut(strings.TrimSpace(line), "uses: "); ok {
			out = append(out, after)
		}
	}
	return out
}

func TestActionsArePinnedToCurrentReleases(t *testing.T) {
	for _, w := range load(t) {
		for _, uses := range usesLines(w.raw) {
			if strings.HasPrefix(uses, "./") {
				continue
			}
			m := pinned.FindStringSubmatch(uses)
			if !assert.NotNil(t, m, "%s: %q is not pinned to a commit SHA with a # vX.Y.Z comment", w.path, uses) {
				continue
			}
			major, _ := strconv.Atoi(m[3])
			assert.GreaterOrEqual(t, major, minimumMajor[m[1]], "%s: %s is a deprecated release", w.path, uses)
		}
	}
}

func TestThePinRuleCatchesTagsAndOldReleases(t *testing.T) {
	for _, bad := range []string{"actions/upload-artifact@v3", "actions/checkout@main",
		"actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8"} {
		assert.Nil(t, pinned.FindStringSubmatch(bad), bad)
	}
	m := pinned.FindStringSubmatch("actions/upload-artifact@ff15f0306b3f739f7b6fd43fb5d26cd321bd4de5 # v3.1.3")
	require.NotNil(t, m)
	major, _ := strconv.Atoi(m[3])
	assert.Less(t, major, minimumMajor["actions/upload-artifact"], "a v3 pin is caught as deprecated")
}

func TestPermissionsAreLeastPrivilege(t *testing.T) {
	for _, w := range load(t) {
		if w.Jobs == nil {
			continue // the composite action has no permissions of its own
		}
		assert.Equal(t, map[string]string{"contents": "read"}, w.Permissions,
			"%s: the workflow default is read-only; jobs ask for more", w.path)
		for name, j := range w.Jobs {
			usesAWS := false
			for _, s := range j.Steps {
				usesAWS = usesAWS || strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@")
			}
			assert.Equal(t, usesAWS, j.Permissions["id-token"] == "write",
				"%s/%s: id-token: write exactly where AWS credentials are assumed through OIDC", w.path, name)
			for perm, level := range j.Permissions {
				assert.NotEqual(t, "write-all", level, "%s/%s: %s", w.path, name, perm)
			}
		}
	}
}

func TestNoLongLivedCloudKeys(t *testing.T) {
	for _, w := range load(t) {
		for _, forbidden := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "aws-access-key-id",
			"SSH_PRIVATE_KEY", "PULUMI_CONFIG_PASSPHRASE"} {
			assert.NotContains(t, w.raw, forbidden, w.path)
		}
		for _, s := range append(w.Runs.Steps, stepsOf(w)...) {
			if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
				assert.Contains(t, s.With["role-to-assume"], "vars.AWS_", "%s: roles come from repository variables", w.path)
			}
		}
	}
}

func stepsOf(w *workflow) []step {
	var out []step
	for _, j := range w.Jobs {
		out = append(out, j.Steps...)
	}
	return out
}

func TestDeploysAreSerialisedPerStackAndNeverCancelled(t *testing.T) {
	for _, w := range load(t) {
		for name, j := range w.Jobs {
			if !strings.Contains(w.raw, "stackctl up") && !strings.Contains(w.raw, "stackctl review") &&
				!strings.Contains(w.raw, "stackctl reap") {
				continue
			}
			if j.Permissions["id-token"] != "write" && !strings.Contains(w.path, "reap") {
				continue
			}
			group := j.Concurrency.Group
			if group == "" {
				group = "workflow"
			}
			if strings.Contains(w.raw, "concurrency:\n  group: pulumi-") {
				continue // a workflow-wide group
			}
			assert.True(t, strings.HasPrefix(group, "pulumi-"), "%s/%s: one concurrency group per stack", w.path, name)
			assert.Equal(t, false, j.Concurrency.CancelInProgress, "%s/%s: a deploy is never cancelled halfway",
				w.path, name)
		}
	}
}

func TestProductionWaitsForStagingAndItsEnvironment(t *testing.T) {
	for _, w := range load(t) {
		if w.path != "deploy.yml" {
			continue
		}
		assert.Equal(t, "production", w.Jobs["production"].Environment, "approval can be required there")
		assert.Contains(t, w.raw, "needs: staging")
		assert.Contains(t, w.raw, "go run ./cmd/smoke -outputs outputs.json")
		return
	}
	t.Fatal("no deploy.yml")
}
