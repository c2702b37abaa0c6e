//go:build engine

package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"appstack/internal/project"
	"appstack/testing/standin/kmsapi"
)

// enginePulumiRoot is a Pulumi CLI as <root>/bin/pulumi: $APPSTACK_PULUMI_ROOT, or .tools/pulumi, where .ci/run
// builds it. Without one the test skips, except in CI.
func enginePulumiRoot(t *testing.T) string {
	t.Helper()
	for _, root := range []string{os.Getenv("APPSTACK_PULUMI_ROOT"), filepath.Join(project.Root(), ".tools",
		"pulumi")} {
		if root == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err == nil {
			return root
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Pulumi CLI in .tools/pulumi/bin or $APPSTACK_PULUMI_ROOT/bin")
	}
	t.Skip("no Pulumi CLI in .tools/pulumi/bin or $APPSTACK_PULUMI_ROOT/bin")
	return ""
}

// cloneRepo copies the project's files as a clone has them (tracked, and new files not ignored) into a
// temporary directory.
func cloneRepo(t *testing.T) string {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = project.Root()
	out, err := ls.Output()
	require.NoError(t, err)
	repo := t.TempDir()
	for _, f := range strings.Split(string(out), "\x00") {
		raw, err := os.ReadFile(filepath.Join(project.Root(), f))
		if f == "" || err != nil {
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(repo, f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(repo, f), raw, 0o644))
	}
	return repo
}

// The README's set-up, run as written against the real Pulumi CLI: file backends stand in for the bootstrap's
// local state and the S3 state bucket, and a KMS stand-in for the bootstrap's three secrets keys. The stacks
// must come out with their environment's KMS provider and data key, never a passphrase, and a second run must
// change nothing.
func TestReadmeSetUpCreatesKMSStacks(t *testing.T) {
	root := enginePulumiRoot(t)
	steps := setUpSteps(t)
	repo := cloneRepo(t)
	bootstrapState, bucket := t.TempDir(), t.TempDir()

	// The bootstrap's state stays where its Pulumi.yaml says; here a file backend of the test's own.
	pyaml := filepath.Join(repo, "bootstrap", "Pulumi.yaml")
	raw, err := os.ReadFile(pyaml)
	require.NoError(t, err)
	require.Contains(t, string(raw), "url: file://~", "bootstrap/Pulumi.yaml names the bootstrap's own backend")
	require.NoError(t, os.WriteFile(pyaml, []byte(strings.Replace(string(raw), "url: file://~",
		"url: file://"+bootstrapState, 1)), 0o644))

	kms := &kmsapi.Server{Aliases: []string{"alias/appstack-secrets-review", "alias/appstack-secrets-staging",
		"alias/appstack-secrets-production"}}
	srv := httptest.NewServer(kms)
	t.Cleanup(srv.Close)
	// The bootstrap's outputs (bootstrap/program.go), with the providers pointed at the stand-in: with awssdk=v2
	// the CLI's awskms (gocloud.dev secrets/awskms) uses aws-sdk-go-v2, which honours AWS_ENDPOINT_URL_KMS.
	provider := func(env string) string {
		return "awskms://alias/appstack-secrets-" + env + "?region=ap-southeast-1&awssdk=v2"
	}
	outputs := map[string]any{
		"stateBucket": "file://" + bucket, "region": "ap-southeast-1",
		"reviewSecretsProvider": provider("review"), "stagingSecretsProvider": provider("staging"),
		"productionSecretsProvider": provider("production"),
		"boundaryPolicyArn":         "arn:aws:iam::111122223333:policy/appstack/appstack-host-boundary",
	}

	home := t.TempDir()
	env := append(os.Environ(),
		"PATH="+filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"APPSTACK_PULUMI_ROOT="+root,
		"PULUMI_HOME="+home,
		"PULUMI_BACKEND_URL=",
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_CONFIG_PASSPHRASE=",
		"PULUMI_CONFIG_PASSPHRASE_FILE=",
		"AWS_ACCESS_KEY_ID=AKIASETUPTEST0000000",
		"AWS_SECRET_ACCESS_KEY=setup-test-secret-key",
		"AWS_REGION=ap-southeast-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_KMS="+srv.URL,
	)
	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-e", "-o", "pipefail", "-c", script)
		cmd.Dir = repo
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s\n%s", script, out)
		t.Logf("%s\n%s", script, out)
		return string(out)
	}
	// What step 1 leaves: the bootstrap's stack with its outputs, in the bootstrap's backend, and the maintainer
	// logged in there as `pulumi login --local` leaves them.
	dep, err := json.Marshal(map[string]any{"version": 3, "deployment": map[string]any{
		"manifest": map[string]any{"time": "2026-01-01T00:00:00Z", "magic": "", "version": ""},
		"resources": []any{map[string]any{
			"urn":  "urn:pulumi:main::appstack-bootstrap::pulumi:pulumi:Stack::appstack-bootstrap-main",
			"type": "pulumi:pulumi:Stack", "custom": false, "outputs": outputs,
		}},
	}})
	require.NoError(t, err)
	depFile := filepath.Join(t.TempDir(), "bootstrap.json")
	require.NoError(t, os.WriteFile(depFile, dep, 0o600))
	sh("pulumi login file://" + t.TempDir() + " && PULUMI_CONFIG_PASSPHRASE=bootstrap pulumi -C bootstrap " +
		"stack init main --secrets-provider passphrase && PULUMI_CONFIG_PASSPHRASE=bootstrap pulumi -C bootstrap " +
		"stack import -s main --file " + depFile)

	first := sh(steps.create)
	assert.Contains(t, first, "staging: created")
	assert.Contains(t, first, "production: created")
	files := map[string][]byte{}
	for _, stack := range setupStacks {
		raw, err := os.ReadFile(filepath.Join(repo, "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		files[stack] = raw
		var s struct {
			SecretsProvider string `yaml:"secretsprovider"`
			EncryptedKey    string `yaml:"encryptedkey"`
			EncryptionSalt  string `yaml:"encryptionsalt"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &s))
		assert.Equal(t, provider(stack), s.SecretsProvider, "%s: the KMS provider of its environment", stack)
		assert.NotEmpty(t, s.EncryptedKey, "%s: the data key KMS wrapped", stack)
		assert.Empty(t, s.EncryptionSalt, "%s: not a passphrase stack", stack)
		blob, err := base64.StdEncoding.DecodeString(s.EncryptedKey)
		require.NoError(t, err)
		assert.Equal(t, "alias/appstack-secrets-"+stack, kms.AliasOf(blob), "%s's data key is wrapped by its "+
			"environment's key", stack)
		_, err = os.Stat(filepath.Join(bucket, ".pulumi", "stacks", "appstack", stack+".json"))
		assert.NoError(t, err, "%s lives in the state bucket", stack)
		assert.Contains(t, first, stack+": created in file://"+bucket+" with secrets provider "+provider(stack))
	}
	_, err = os.Stat(filepath.Join(bucket, ".pulumi", "meta.yaml"))
	assert.NoError(t, err, "the login wrote the backend's meta.yaml")
	assert.Contains(t, first, "PULUMI_SECRETS_PROVIDER="+provider("review"))

	// A secret set as step 5 says is encrypted with the staging key and reads back through it.
	sh(strings.Replace(steps.secret, "NAME", "SETUP_TEST", 1))
	assert.Equal(t, "value", strings.TrimSpace(sh("pulumi config get --path 'appstack:secrets.SETUP_TEST' -s staging")))
	assert.Positive(t, kms.Calls("Decrypt", "alias/appstack-secrets-staging"))
	staging, err := os.ReadFile(filepath.Join(repo, "Pulumi.staging.yaml"))
	require.NoError(t, err)
	assert.NotContains(t, string(staging), "value\n", "the secret is stored encrypted")

	// Step 2's out still answers from the repository's root after the login to the state bucket.
	assert.Equal(t, "file://"+bucket, strings.TrimSpace(sh(steps.out+"\nout stateBucket")))

	// A second run changes nothing and says so.
	for stack := range files {
		raw, err := os.ReadFile(filepath.Join(repo, "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		files[stack] = raw
	}
	second := sh(steps.setup)
	assert.Contains(t, second, "nothing changed")
	assert.Contains(t, second, "staging: exists")
	for stack, before := range files {
		after, err := os.ReadFile(filepath.Join(repo, "Pulumi."+stack+".yaml"))
		require.NoError(t, err)
		assert.Equal(t, string(before), string(after), "the second run leaves Pulumi.%s.yaml alone", stack)
	}
}
