// Package workflows holds the tests of the GitHub workflows' own rules (actionlint, run by make lint, checks their
// syntax, the injections it knows and, with shellcheck, their scripts; rules_test.go's header says which rules
// stay here because actionlint covers them only in part, and what it misses). Each rule is a check function that
// returns its problems; the tests run every check on the committed workflows (no problems) and on the workflows
// as they were before the rules existed (testdata/before: problems), so each rule is shown to fail on what it is
// meant to catch.
package workflows

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"appstack/internal/project"
)

type workflow struct {
	path        string
	raw         string
	Name        string            `yaml:"name"`
	On          yaml.Node         `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Defaults    struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Concurrency concurrency            `yaml:"concurrency"`
	Jobs        map[string]*job        `yaml:"jobs"`
	Runs        struct{ Steps []step } `yaml:"runs"`
}

type job struct {
	name        string
	text        string            // the job as YAML, for rules about what it mentions at all
	Name        string            `yaml:"name"`
	If          string            `yaml:"if"`
	Needs       stringList        `yaml:"needs"`
	Permissions map[string]string `yaml:"permissions"`
	Environment environment       `yaml:"environment"`
	Concurrency concurrency       `yaml:"concurrency"`
	Env         map[string]string `yaml:"env"`
	Outputs     map[string]string `yaml:"outputs"`
	Steps       []step            `yaml:"steps"`
	// TimeoutMinutes is the job's timeout-minutes (0 when unset: GitHub's 360).
	TimeoutMinutes int `yaml:"timeout-minutes"`
}

type step struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// environment is `environment: name` or `environment: {name, url}`.
type environment struct{ Name, URL string }

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Name = n.Value
		return nil
	}
	var m struct{ Name, URL string }
	err := n.Decode(&m)
	e.Name, e.URL = m.Name, m.URL
	return err
}

// concurrency is `concurrency: group` or `concurrency: {group, cancel-in-progress}`.
type concurrency struct {
	Group            string
	CancelInProgress any
}

func (c *concurrency) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Group = n.Value
		return nil
	}
	var m struct {
		Group            string `yaml:"group"`
		CancelInProgress any    `yaml:"cancel-in-progress"`
	}
	err := n.Decode(&m)
	c.Group, c.CancelInProgress = m.Group, m.CancelInProgress
	return err
}

// stringList is `needs: a` or `needs: [a, b]`.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = []string{n.Value}
		return nil
	}
	var l []string
	err := n.Decode(&l)
	*s = l
	return err
}

// parse reads one workflow (or the composite action) from its text.
func parse(path, raw string) (*workflow, error) {
	w := &workflow{path: path, raw: raw}
	if err := yaml.Unmarshal([]byte(raw), w); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var nodes struct {
		Jobs map[string]yaml.Node `yaml:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(raw), &nodes); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, j := range w.Jobs {
		n := nodes.Jobs[name]
		text, err := yaml.Marshal(&n)
		if err != nil {
			return nil, err
		}
		j.name, j.text = name, string(text)
	}
	return w, nil
}

func readAll(t *testing.T, dir string, extra ...string) map[string]*workflow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	require.NoError(t, err)
	paths = append(paths, extra...)
	out := map[string]*workflow{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		w, err := parse(filepath.Base(p), string(raw))
		require.NoError(t, err)
		out[w.path] = w
	}
	return out
}

// load reads the committed workflows and the local setup action (as action.yml).
func load(t *testing.T) map[string]*workflow {
	root := project.Root()
	ws := readAll(t, filepath.Join(root, ".github", "workflows"), filepath.Join(root, ".github", "actions", "setup", "action.yml"))
	for _, name := range []string{"ci.yml", "preview.yml", "preview-comment.yml", "deploy.yml", "review-stack.yml",
		"reap.yml", "drift.yml", "e2e.yml", "action.yml"} {
		require.Contains(t, ws, name)
	}
	return ws
}

// before reads the workflows as they were before these rules: each rule must find problems there.
func before(t *testing.T) map[string]*workflow {
	return readAll(t, filepath.Join("testdata", "before"))
}

// sorted returns the workflows in name order, so problems come out in a stable order.
func sorted(ws map[string]*workflow) []*workflow {
	out := make([]*workflow, 0, len(ws))
	for _, w := range ws {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func (w *workflow) jobs() []*job {
	out := make([]*job, 0, len(w.Jobs))
	for _, j := range w.Jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// triggers returns the workflow's events and their settings.
func (w *workflow) triggers() map[string]yaml.Node {
	out := map[string]yaml.Node{}
	switch w.On.Kind {
	case yaml.ScalarNode:
		out[w.On.Value] = yaml.Node{}
	case yaml.SequenceNode:
		for _, n := range w.On.Content {
			out[n.Value] = yaml.Node{}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(w.On.Content); i += 2 {
			out[w.On.Content[i].Value] = *w.On.Content[i+1]
		}
	}
	return out
}

func (w *workflow) on(event string) bool {
	_, ok := w.triggers()[event]
	return ok
}

func (j *job) assumesRole() (step, bool) {
	for _, s := range j.Steps {
		if strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
			return s, true
		}
	}
	return step{}, false
}

// script is every run: block of the job, one after the other.
func (j *job) script() string {
	var b strings.Builder
	for _, s := range j.Steps {
		b.WriteString(s.Run + "\n")
	}
	return b.String()
}

// stackctl returns each stackctl command line in the job's scripts (continuation lines joined).
func (j *job) stackctl() []string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(j.script(), "\\\n", " "), "\n") {
		if i := strings.Index(line, "stackctl "); i >= 0 {
			out = append(out, strings.Join(strings.Fields(line[i:]), " "))
		}
	}
	return out
}

var stackFlag = regexp.MustCompile(`(?:^|\s)-stack "?([^"\s]+)"?`)

// stacks returns the stacks the job's stackctl commands name, by subcommand ("up" → ["staging"]).
func (j *job) stacks() map[string][]string {
	out := map[string][]string{}
	for _, cmd := range j.stackctl() {
		sub := strings.Fields(cmd)[1]
		for _, m := range stackFlag.FindAllStringSubmatch(cmd, -1) {
			out[sub] = append(out[sub], m[1])
		}
		if _, ok := out[sub]; !ok {
			out[sub] = nil
		}
	}
	return out
}

func stepWith(j *job, pred func(step) bool) (int, step, bool) {
	for i, s := range j.Steps {
		if pred(s) {
			return i, s, true
		}
	}
	return -1, step{}, false
}

func runs(substr string) func(step) bool {
	return func(s step) bool { return strings.Contains(strings.ReplaceAll(s.Run, "\\\n", " "), substr) }
}

// problems collects a check's findings.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// rule is one check and what it must find in the workflows as they were.
type rule struct {
	name  string
	check func(map[string]*workflow) problems
	// catches are texts that must appear among the problems found in testdata/before (and its bad files).
	catches []string
	// bad replaces or adds workflow files (name → YAML) in testdata/before, for a rule the old workflows kept.
	bad map[string]string
}

func TestEveryRuleHoldsForTheWorkflowsAndCatchesTheOldOnes(t *testing.T) {
	current := load(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			assert.Empty(t, r.check(current), "the committed workflows")
			old := before(t)
			for name, raw := range r.bad {
				w, err := parse(name, raw)
				require.NoError(t, err)
				old[name] = w
			}
			found := r.check(old)
			require.NotEmpty(t, found, "the rule finds nothing in the workflows it was written against")
			all := strings.Join(found, "\n")
			for _, want := range r.catches {
				assert.Contains(t, all, want)
			}
		})
	}
}

func TestRulesHaveUniqueNames(t *testing.T) {
	var names []string
	for _, r := range rules {
		assert.NotContains(t, names, r.name)
		names = append(names, r.name)
	}
}
