package workflows

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/project"
)

// Without a Pulumi CLI and its Go language host, `make engine` (the last step of `make test`) passes with every
// engine test skipped; its last line then says so, and how to build them. With both at hand it says nothing.
// The go test run itself is replaced by /bin/true: only the Makefile's own lines are under test.
func TestMakeEngineSaysWhenTheEngineTestsDidNotRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no make: .ci/run installs it")
		}
		t.Skip("no make on PATH")
	}
	engine := func(root string) string {
		t.Helper()
		cmd := exec.Command("make", "-s", "-f", filepath.Join(project.Root(), "Makefile"), "engine",
			"GOTESTSUM=/bin/true")
		cmd.Dir = t.TempDir() // no .tools/pulumi here
		// Run as a make of its own, not a sub-make of the `make test` that runs this test.
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "APPSTACK_PULUMI_ROOT="+root)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	withBinaries := func(names ...string) string {
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "bin"), 0o755))
		for _, name := range names {
			require.NoError(t, os.WriteFile(filepath.Join(root, "bin", name), []byte("#!/bin/sh\n"), 0o755))
		}
		return root
	}

	for name, root := range map[string]string{
		"no root":                         "",
		"a root without the CLI":          withBinaries(),
		"a CLI without its language host": withBinaries("pulumi"),
	} {
		out := engine(root)
		assert.Contains(t, out, "SKIPPED: the engine tests (testing/engine, e2e/cloud) did not run",
			name)
		assert.Contains(t, out, "make pulumi-cli", name)
	}
	assert.NotContains(t, engine(withBinaries("pulumi", "pulumi-language-go")), "SKIPPED")
}
