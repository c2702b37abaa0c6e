//go:build engine

package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// A stack file that still holds an example's placeholder secret: the real CLI would stop at it with "could not
// decrypt configuration value: : bad value", naming no key; the step names the key and the command instead.
func TestAPlaceholderSecretIsNamedBeforeTheRealEngineRuns(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := context.Background()
	_, err := e.m.Stack(ctx, "staging") // the CLI writes the stack's secrets provider and key
	require.NoError(t, err)
	dir, err := e.m.ProjectDir()
	require.NoError(t, err)
	path := filepath.Join(dir, "Pulumi.staging.yaml")
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var file map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &file))
	require.NotEmpty(t, file["encryptedkey"], "%s", raw)
	file["config"].(map[string]any)["appstack:secrets"] = map[string]any{
		"JWT_SECRET": map[string]any{"secure": "v1:set-with-pulumi-config-set-secret"},
	}
	raw, err = yaml.Marshal(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o600))

	err = e.m.Preview(ctx, "staging", filepath.Join(t.TempDir(), "preview.txt"))
	require.Error(t, err)
	assert.ErrorContains(t, err, "Pulumi.staging.yaml: appstack:secrets.JWT_SECRET holds a placeholder")
	assert.ErrorContains(t, err, "pulumi config set --stack staging --secret --path 'appstack:secrets.JWT_SECRET' VALUE")
}
