package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/lifecycle"
)

// projectWithDefaults is a project whose Pulumi.yaml gives config defaults and values that its stack files may
// leave out, as Pulumi projects may (https://www.pulumi.com/docs/iac/concepts/projects/project-file/, config).
const projectWithDefaults = `name: appstack
runtime: go
config:
  appstack:services:
    default:
      - name: web
        port: 8080
        build:
          context: app
  environment:
    default: staging
  appstack:instanceType:
    default: t3.small
  aws:region:
    value: ap-southeast-1
`

func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	return dir
}

func TestStackConfigIncludesTheProjectsDefaults(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"Pulumi.yaml": projectWithDefaults,
		"Pulumi.staging.yaml": "config:\n  appstack:instanceType: t3.medium\n  appstack:secrets:\n" +
			"    JWT_SECRET:\n      secure: v1:abc\n",
	})
	got, err := lifecycle.ReadStackConfig(dir, "staging")
	require.NoError(t, err)
	assert.JSONEq(t, `[{"name":"web","port":8080,"build":{"context":"app"}}]`, got.Config["appstack:services"],
		"a project default the stack file leaves out")
	assert.Equal(t, "staging", got.Config["appstack:environment"], "a default without a namespace is the project's")
	assert.Equal(t, "ap-southeast-1", got.Config["aws:region"], "a project value of another namespace")
	assert.Equal(t, "t3.medium", got.Config["appstack:instanceType"], "the stack file wins over the default")
	assert.Equal(t, []string{"appstack:secrets"}, got.SecretKeys)
	assert.NotContains(t, got.Config["appstack:secrets"], "v1:abc", "a secure value is never read as plain text")

	_, err = lifecycle.ReadStackConfig(dir, "production")
	assert.ErrorIs(t, err, fs.ErrNotExist, "a stack without a file is told apart from an empty one")
}

// A rollback pins the services the stack runs, and a project default names them as well as the stack file does:
// reading the stack file alone found no services at all.
func TestRollbackPinsTheServicesOfAProjectDefault(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"Pulumi.yaml":         projectWithDefaults,
		"Pulumi.staging.yaml": "config:\n  appstack:environment: staging\n",
	})
	ref := "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/app-api-repo@sha256:" + strings.Repeat("a", 64)
	outputs := filepath.Join(t.TempDir(), "outputs.json")
	require.NoError(t, os.WriteFile(outputs, []byte(`{"imageDigests": {"api": "`+ref+`"}}`), 0o600))
	_, err := (&lifecycle.Manager{Dir: dir}).Rollback(context.Background(), "staging", outputs)
	require.Error(t, err)
	assert.ErrorContains(t, err, "no recorded digest in "+outputs+" for service(s) web (recorded: api)")
}
