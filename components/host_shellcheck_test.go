package components_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appstack/components/host"
	"appstack/infra"
	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

// shellcheck finds the linter. CI installs it (.ci/run) and fails without it; elsewhere the test skips, saying so.
func shellcheck(t *testing.T) string {
	t.Helper()
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
	return bin
}

// lint runs shellcheck once over every script, named by what rendered it.
func lint(t *testing.T, bin string, scripts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--shell=bash", "--severity=style"}
	for name, script := range scripts {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".sh")
		require.NoError(t, os.WriteFile(path, []byte(script), 0o600))
		args = append(args, path)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "shellcheck:\n%s", out)
}

// TestBootScriptsPassShellcheck lints the scripts the committed stacks really render, through the program —
// staging, production, a review stack (the ephemeral profile), staging on the ECS-optimised AMI — and made-up
// spec for a corner the stacks do not reach. shellcheck runs once over all of them: it is most of this
// package's test time.
func TestBootScriptsPassShellcheck(t *testing.T) {
	bin := shellcheck(t)
	// Four services with secrets: the corner the committed stacks (one service, no secret) do not reach.
	script, err := host.RenderBootScript(bootSpec(4))
	require.NoError(t, err)
	scripts := map[string]string{"four services": script}
	// A service pulled from GHCR with a registry login: the login code renders only then.
	if scripts["private registry"], err = host.RenderBootScript(ghcrSpec()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, stack string }{
		{"staging", "staging"}, {"production", "production"}, {"ephemeral", "staging"},
		{"staging on ecs-al2023", "staging"},
	} {
		cfg := offlinetest.StackConfig(t, tc.stack, nil).Config
		switch tc.name {
		case "ephemeral":
			cfg["appstack:environment"] = "ephemeral"
		case "staging on ecs-al2023":
			cfg["appstack:instance"] = `{"ami":"ecs-al2023"}`
		}
		res, err := offlinetest.RunStack(t, infra.Program, tc.stack, cfg)
		require.NoError(t, err, tc.name)
		scripts[tc.name] = userData(t, offlinetest.One(t, res, instanceType))
	}
	lint(t, bin, scripts)
}

// userData is the instance's boot script, gunzipped when it went as userDataBase64.
func userData(t *testing.T, inst offline.Resource) string {
	t.Helper()
	if v, ok := offline.Lookup(inst.Inputs, "userData"); ok && v.IsString() {
		return v.StringValue()
	}
	raw, err := base64.StdEncoding.DecodeString(offlinetest.Str(t, inst, "userDataBase64"))
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	script, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(script)
}
