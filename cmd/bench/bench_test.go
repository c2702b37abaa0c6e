package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/project"
)

func TestFloorImportsWhatTheProgramImports(t *testing.T) {
	t.Chdir(project.Root())
	imports, err := programImports()
	require.NoError(t, err)
	assert.Contains(t, imports, "github.com/pulumi/pulumi-aws/sdk/v7/go/aws/ec2")
	got, err := os.ReadFile(filepath.Join("internal", "bench", "floor", "main.go"))
	require.NoError(t, err)
	assert.Equal(t, floorSource(imports), string(got), "the floor is stale: go run ./cmd/bench -write-floor")
}

func TestFitFindsALine(t *testing.T) {
	slope, intercept, r2 := fit([]point{{resources: 10, ns: 1000}, {resources: 20, ns: 2000}, {resources: 40, ns: 4000}})
	assert.InDelta(t, 100, slope, 1e-9)
	assert.InDelta(t, 0, intercept, 1e-6)
	assert.InDelta(t, 1, r2, 1e-9)
	_, _, r2 = fit([]point{{resources: 10, ns: 1000}, {resources: 20, ns: 9000}, {resources: 40, ns: 2000}})
	assert.Less(t, r2, 0.5, "a curve is not mistaken for a line")
}

func TestBenchLineParses(t *testing.T) {
	m := benchLine.FindStringSubmatch("BenchmarkOfflinePreview/services=50-2   76   15528191 ns/op   70.00 resources   5889343 B/op   82405 allocs/op")
	require.NotNil(t, m)
	assert.Equal(t, []string{"50", "15528191", "70.00", "82405"}, m[1:])
}

func TestRewriteReplacesOnlyTheResults(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "p.md")
	require.NoError(t, os.WriteFile(doc, []byte("intro\n"+docStart+"\nold\n"+docEnd+"\nmodel\n"), 0o600))
	require.NoError(t, rewrite(doc, "new\n"))
	got, err := os.ReadFile(doc)
	require.NoError(t, err)
	assert.Equal(t, "intro\n"+docStart+"\nnew\n"+docEnd+"\nmodel\n", string(got))
}

// sdkTestBinaries is how many test binaries may link the Pulumi SDK. Each costs 2.5-6 s of linking on two
// cores, which was nearly all of a warm `go test ./...` (docs/performance.md): the components' tests share
// one binary, the policy's share the program's, and package stacks links no Pulumi code.
const sdkTestBinaries = 7

func TestFewTestBinariesLinkThePulumiSDK(t *testing.T) {
	t.Chdir(project.Root())
	// With -test, go list names each test binary's main package "<package>.test".
	out, err := exec.Command("go", "list", "-test", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./...").Output()
	require.NoError(t, err)
	var linking []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, deps, _ := strings.Cut(line, " ")
		if strings.HasSuffix(name, ".test") && slices.Contains(strings.Fields(deps), "github.com/pulumi/pulumi/sdk/v3/go/pulumi") {
			linking = append(linking, name)
		}
	}
	assert.LessOrEqual(t, len(linking), sdkTestBinaries, "test binaries that link the Pulumi SDK: %v", linking)
	assert.NotContains(t, linking, "appstack/stacks.test", "typed config must not need the Pulumi SDK")
}

// toolsAndScaffolding are the packages the program (`pulumi up`) must never link: the offline preview and its
// mocks, the stand-in providers, the CI side and the test suites. Each is a package path; its subpackages are
// forbidden with it.
var toolsAndScaffolding = []string{"appstack/internal/offline", "appstack/internal/preview",
	"appstack/internal/standin", "appstack/internal/lifecycle", "appstack/internal/e2e", "appstack/internal/ghcomment",
	"appstack/internal/notify", "appstack/internal/deploygate"}

// forbiddenLinks returns the packages of deps that the program must not link: toolsAndScaffolding and anything
// under a testdata folder.
func forbiddenLinks(deps []string) []string {
	var out []string
	for _, d := range deps {
		testdata := slices.Contains(strings.Split(d, "/"), "testdata")
		if testdata || slices.ContainsFunc(toolsAndScaffolding, func(p string) bool {
			return d == p || strings.HasPrefix(d, p+"/")
		}) {
			out = append(out, d)
		}
	}
	return out
}

func TestForbiddenLinksNamesToolsAndTestData(t *testing.T) {
	assert.Equal(t, []string{"appstack/internal/offline", "appstack/internal/offline/offlinetest",
		"appstack/internal/e2e/cloud", "appstack/components/testdata/fake"},
		forbiddenLinks([]string{"appstack/policy", "appstack/internal/offline", "appstack/internal/offline/offlinetest",
			"appstack/internal/offlinecheck", "appstack/internal/e2e/cloud", "appstack/components/testdata/fake",
			"github.com/pulumi/pulumi/sdk/v3/go/pulumi"}))
}

func TestTheProgramLinksNoToolOrTestScaffolding(t *testing.T) {
	t.Chdir(project.Root())
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "appstack/infra", "go list names the program's packages")
	assert.Empty(t, forbiddenLinks(deps), "the program (main.go) links these; `go list -deps .` shows the path")
}
