package preview_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
)

func TestAYAMLErrorNamesTheFileAndTheLineThatBreaksIt(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"a key indented less than its neighbours",
			"config:\n  aws:region: ap-southeast-1\n  appstack:services:\n    - name: web\n      port: 8080\n" +
				"     image: x\n",
			":6: did not find expected '-' indicator"},
		{"a tab in the indentation",
			"config:\n  aws:region: ap-southeast-1\n\tappstack:environment: staging\n",
			":3: found a tab character that violates indentation"},
		{"a key twice",
			"config:\n  appstack:domain: a.example.com\n  appstack:domain: b.example.com\n",
			`: unmarshal errors:` + "\n" + `  line 3: mapping key "appstack:domain" already defined at line 2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "Pulumi.dev.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			_, err := offline.ReadStackFile(path)
			require.Error(t, err)
			assert.Equal(t, path+tc.want, err.Error())
		})
	}
}

func TestPlaceholderSecretsAreNamedByTheirKey(t *testing.T) {
	f, err := offline.ParseStackFile([]byte("config:\n  appstack:secrets:\n" +
		"    JWT_SECRET:\n      secure: v1:set-with-pulumi-config-set-secret\n" +
		"    API_KEY:\n      secure: v1:c2FsdHNhbHQ=:Y2lwaGVydGV4dA==\n" +
		"    SERVICE_KEY:\n      secure: AAABAKxeL1ZQbmV0d29yaw==\n" +
		"  appstack:token:\n    secure: REPLACE-ME\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"appstack:secrets.JWT_SECRET", "appstack:token"}, f.Placeholders,
		"the passphrase/KMS form and the Pulumi Cloud form are ciphertext; the rest are placeholders")
	assert.Equal(t, []string{"appstack:secrets", "appstack:token"}, f.SecretKeys)
}

func TestStackNamesListsTheStackFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.production.yaml", "notes.yaml"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	assert.Equal(t, []string{"production", "staging"}, offline.StackNames(dir))
}
