package workflows

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/project"
)

// The layout: what ships is the program (main.go, infra/, stacks/, policy/) and its library (components/); the
// tools (cmd/, internal/) and the test scaffolding (testing/, e2e/) never link into it.

// shipped are the folders the program that `pulumi up` runs may link: the module root's main package and these.
var shipped = []string{"infra", "stacks", "policy", "components"}

// goPackage is what `go list -json` says of a package that the layout rules read.
type goPackage struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
}

// goList runs `go list -json` at the project root, with the engine tests' build tag so that every package is seen.
func goList(t *testing.T, args ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-tags", "engine", "-json"}, args...)...)
	cmd.Dir = project.Root()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		require.NoError(t, dec.Decode(&p))
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// folderOf is a package's folder in the module: "" for the root, "components/host" for appstack/components/host.
func folderOf(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, "appstack"), "/")
}

// within reports whether folder is one of roots or under one.
func within(folder string, roots ...string) bool {
	for _, r := range roots {
		if folder == r || strings.HasPrefix(folder, r+"/") {
			return true
		}
	}
	return false
}

// linkProblems lists the appstack packages of deps that a program may not link: anything outside shipped, and
// any test data.
func linkProblems(deps []string) []string {
	var bad []string
	for _, d := range deps {
		if d != "appstack" && !strings.HasPrefix(d, "appstack/") {
			continue
		}
		if f := folderOf(d); f != "" && (!within(f, shipped...) || slices.Contains(strings.Split(f, "/"), "testdata")) {
			bad = append(bad, d)
		}
	}
	return bad
}

func TestTheProgramLinksOnlyWhatShips(t *testing.T) {
	pkgs := goList(t, ".")
	require.Len(t, pkgs, 1)
	assert.Empty(t, linkProblems(pkgs[0].Deps),
		"the program `pulumi up` runs links packages of the tools or the test scaffolding")
	// The rule itself: the mock runner, the preview, a stand-in, CI tooling and the real-account suite are
	// each refused, and the library is not.
	assert.Equal(t, []string{"appstack/internal/offline", "appstack/internal/preview", "appstack/testing/standin",
		"appstack/internal/lifecycle", "appstack/e2e/cloud", "appstack/components/testdata/fake"},
		linkProblems([]string{"appstack/internal/offline",
			"appstack/internal/preview", "appstack/testing/standin", "appstack/internal/lifecycle", "appstack/e2e/cloud",
			"appstack/components/testdata/fake", "appstack/components/host", "appstack/policy",
			"github.com/pulumi/pulumi/sdk/v3/go/pulumi"}))
}

// importProblems lists, for the library's packages, the imports of the application around it (the stack
// config, the program) and of anything that does not ship.
func importProblems(pkgs []goPackage) []string {
	var bad []string
	for _, p := range pkgs {
		if !within(folderOf(p.ImportPath), "components") {
			continue
		}
		for _, imp := range p.Imports {
			if (imp == "appstack" || strings.HasPrefix(imp, "appstack/")) && !within(folderOf(imp), "components") {
				bad = append(bad, p.ImportPath+" imports "+imp)
			}
		}
	}
	return bad
}

func TestTheLibraryImportsNeitherTheConfigNorTheProgram(t *testing.T) {
	assert.Empty(t, importProblems(goList(t, "./components/...")))
	assert.Equal(t, []string{"appstack/components/host imports appstack/stacks"}, importProblems([]goPackage{
		{ImportPath: "appstack/components/host", Imports: []string{"appstack/stacks", "appstack/components/tags"}},
		{ImportPath: "appstack/infra", Imports: []string{"appstack/stacks"}},
	}), "the rule catches a component that imports the config")
}

// layoutEntries reads the README's Layout block: the first word of each line, a path.
func layoutEntries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(project.Root(), "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n## Layout\n")
	require.True(t, ok, "README.md has no Layout section")
	_, block, ok := strings.Cut(section, "```\n")
	require.True(t, ok)
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	var entries []string
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			entries = append(entries, f[0])
		}
	}
	return entries
}

var packageEntry = regexp.MustCompile(`^[a-z0-9._-]+(/[a-z0-9._-]+)*/$`)

func TestTheReadmeLayoutListsEveryPackage(t *testing.T) {
	entries := layoutEntries(t)
	for _, p := range goList(t, "./...") {
		if f := folderOf(p.ImportPath); f != "" {
			assert.Contains(t, entries, f+"/", "README.md's Layout does not list %s", f)
		}
	}
	for _, e := range entries {
		_, err := os.Stat(filepath.Join(project.Root(), filepath.FromSlash(strings.TrimSuffix(e, "/"))))
		assert.NoError(t, err, "README.md's Layout lists %s, which does not exist", e)
		if strings.HasSuffix(e, "/") {
			assert.Regexp(t, packageEntry, e)
		}
	}
	assert.False(t, slices.Contains(entries, "internal/"), "list internal/'s packages one by one")
}

// The project's root holds the stack files of the stacks the deploy workflow deploys and no others, so that a reader
// of the root tells the real stacks at a glance; a documented stack lives among the examples (examples/<dir>/).
func TestTheRootHoldsOnlyTheDeployedStacks(t *testing.T) {
	deploy, err := os.ReadFile(filepath.Join(project.Root(), ".github", "workflows", "deploy.yml"))
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(project.Root(), "Pulumi.*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		assert.Contains(t, string(deploy), "stackctl up -stack "+stack+" ",
			"%s is at the project's root but deploy.yml never deploys it: move it to examples/<dir>/",
			filepath.Base(f))
	}
}
