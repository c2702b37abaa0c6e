package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"appstack/internal/project"
)

// readme is the project's README.md.
func readme(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(project.Root(), "README.md"))
	require.NoError(t, err)
	return string(raw)
}

// section is the text of the README section whose heading line is heading, up to the next heading of the
// same or a higher level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	start := strings.Index(doc, "\n"+heading+"\n")
	require.GreaterOrEqual(t, start, 0, "README.md has no %q", heading)
	body := doc[start+len(heading)+2:]
	level := strings.Repeat("#", strings.Index(heading, " "))
	for i := 0; i < len(body); {
		line, _, _ := strings.Cut(body[i:], "\n")
		if h, _, ok := strings.Cut(line, " "); ok && strings.Trim(h, "#") == "" && h != "" && len(h) <= len(level) {
			return body[:i]
		}
		i += len(line) + 1
	}
	return body
}

// fencedBlocks are the ```sh blocks of text, each without its fence lines and common indentation.
func fencedBlocks(text string) []string {
	var blocks []string
	var cur []string
	in := false
	indent := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```sh":
			in, cur = true, nil
			indent = line[:strings.Index(line, "```")]
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n")+"\n")
		case in:
			cur = append(cur, strings.TrimPrefix(line, indent))
		}
	}
	return blocks
}

// step is the text of item n ("5. **") of a numbered list.
func step(t *testing.T, text string, n string) string {
	t.Helper()
	start := strings.Index(text, "\n"+n+". **")
	require.GreaterOrEqual(t, start, 0, "no step %s", n)
	rest := text[start+1:]
	if end := regexp.MustCompile(`\n\d+\. \*\*`).FindStringIndex(rest[1:]); end != nil {
		return rest[:end[0]+1]
	}
	return rest
}

// setUp is what the README's "Setting up a repository from zero" tells a maintainer to run.
type setUp struct {
	// bootstrap is step 1's block; create is step 5's block, the stacks' creation.
	bootstrap, create string
	// setup is create's stackctl setup line; out is step 2's definition of out.
	setup, out string
	// secret is the command step 5 gives for setting one secret, NAME and 'value' its placeholders.
	secret string
}

func setUpSteps(t *testing.T) setUp {
	t.Helper()
	text := section(t, readme(t), "### Setting up a repository from zero")
	var s setUp
	blocks := fencedBlocks(step(t, text, "1"))
	require.NotEmpty(t, blocks, "step 1 has a command block")
	s.bootstrap = blocks[0]
	blocks = fencedBlocks(step(t, text, "2"))
	require.NotEmpty(t, blocks, "step 2 has a command block")
	for _, line := range strings.Split(blocks[0], "\n") {
		if strings.HasPrefix(line, "out()") {
			s.out = line
		}
	}
	require.NotEmpty(t, s.out, "step 2 defines out")
	five := step(t, text, "5")
	blocks = fencedBlocks(five)
	require.NotEmpty(t, blocks, "step 5 has a command block")
	s.create = blocks[0]
	for _, line := range strings.Split(s.create, "\n") {
		if strings.Contains(line, "stackctl setup") {
			s.setup = line
		}
	}
	require.NotEmpty(t, s.setup, "step 5 creates the stacks with stackctl setup:\n%s", s.create)
	if m := regexp.MustCompile("`(pulumi config set --secret [^`]*appstack:secrets\\.NAME[^`]*)`").
		FindStringSubmatch(five); m != nil {
		s.secret = m[1]
	}
	require.NotEmpty(t, s.secret, "step 5 says how to set a secret")
	return s
}

// The set-up's commands run from the repository's root and leave the reader there: a `cd` in one step breaks
// every relative path of the next.
func TestReadmeSetUpStaysAtTheRoot(t *testing.T) {
	s := setUpSteps(t)
	for _, block := range []string{s.bootstrap, s.out, s.create} {
		for _, line := range strings.Split(block, "\n") {
			assert.False(t, strings.HasPrefix(strings.TrimSpace(line), "cd "), "%q leaves the root", line)
		}
	}
	// Nothing in step 5 creates a stack but stackctl setup, which refuses an empty secrets provider.
	assert.NotContains(t, s.create, "stack init")
	assert.NotContains(t, s.create, "pulumi login")
}

// Every secret name the README has a reader set is one a service of the committed stacks lists: a secret no
// service reads is a step that does nothing. NAME is the placeholder.
func TestReadmeSecretsAreUsedByTheStacksServices(t *testing.T) {
	used := map[string]bool{}
	for _, stack := range []string{"staging", "production"} {
		raw, err := os.ReadFile(filepath.Join(project.Root(), "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		var f struct {
			Config struct {
				Services []struct {
					Secrets []string `yaml:"secrets"`
				} `yaml:"appstack:services"`
			} `yaml:"config"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &f))
		for _, svc := range f.Config.Services {
			for _, name := range svc.Secrets {
				used[name] = true
			}
		}
	}
	set := regexp.MustCompile(`pulumi config set --secret --path '?appstack:secrets\.([A-Za-z0-9_]+)`)
	matches := set.FindAllStringSubmatch(readme(t), -1)
	require.NotEmpty(t, matches, "the README says how to set a secret")
	for _, m := range matches {
		if m[1] == "NAME" {
			continue
		}
		assert.True(t, used[m[1]], "the README sets the secret %s, which no service of Pulumi.staging.yaml or "+
			"Pulumi.production.yaml lists in secrets:", m[1])
	}
}

// The by-hand deploy runs the policy pack, as CI does (stackctl's -policy-pack default).
func TestReadmeByHandDeployRunsThePolicyPack(t *testing.T) {
	blocks := fencedBlocks(section(t, readme(t), "## Deploying for real"))
	require.NotEmpty(t, blocks)
	var steps []string
	for _, line := range strings.Split(blocks[0], "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "pulumi" && slices.Contains([]string{"preview", "up"}, fields[1]) {
			steps = append(steps, line)
			assert.Contains(t, line, "--policy-pack policypack", "%q runs without the policy pack", line)
		}
	}
	assert.Len(t, steps, 2, "the by-hand deploy previews and ups:\n%s", blocks[0])
	_, err := os.Stat(filepath.Join(project.Root(), "policypack", "PulumiPolicy.yaml"))
	assert.NoError(t, err, "policypack is the policy pack's directory")
	assert.Contains(t, runHelp(t, "up", "-h"), `(default "policypack")`, "stackctl runs the same pack")
}
