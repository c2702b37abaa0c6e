package components_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"appstack/components/host"
)

// TestBootScriptPassesShellcheck lints the rendered script. CI installs shellcheck (.ci/run); elsewhere the test
// skips without it, saying so.
func TestBootScriptPassesShellcheck(t *testing.T) {
	bin, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is not installed; .ci/run installs it")
		}
		t.Skip("shellcheck is not installed (apt-get install shellcheck)")
	}
	bad := filepath.Join(t.TempDir(), "bad.sh")
	require.NoError(t, os.WriteFile(bad, []byte("#!/bin/bash\nrm $1\n"), 0o600))
	require.Error(t, exec.Command(bin, "--shell=bash", bad).Run(), "shellcheck must flag an unquoted expansion")

	ecs := spec()
	ecs.ECSAMI = true
	for name, spec := range map[string]host.BootSpec{"one service": spec(), "four services": bootSpec(4),
		"ECS-optimised AMI": ecs} {
		t.Run(name, func(t *testing.T) {
			script, err := host.RenderBootScript(spec)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "boot.sh")
			require.NoError(t, os.WriteFile(path, []byte(script), 0o600))
			out, err := exec.Command(bin, "--shell=bash", "--severity=style", path).CombinedOutput()
			require.NoError(t, err, "shellcheck:\n%s", out)
		})
	}
}
