package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blang/semver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCLI answers `pulumi stack output --json` with outputs and records every command.
type fakeCLI struct {
	outputs map[string]any
	ran     []string
}

func (f *fakeCLI) Run(_ context.Context, _ string, _ io.Reader, _, _ []io.Writer, _ []string,
	args ...string) (string, string, int, error) {
	f.ran = append(f.ran, strings.Join(args, " "))
	if len(args) >= 2 && args[0] == "stack" && args[1] == "output" {
		raw, err := json.Marshal(f.outputs)
		return string(raw), "", 0, err
	}
	return "", "unexpected command", 1, errors.New("exit status 1")
}

func (f *fakeCLI) Version() semver.Version { return semver.MustParse("3.200.0") }

func goodOutputs() map[string]any {
	out := map[string]any{"stateBucket": "s3://appstack-state-1234", "region": "ap-southeast-1"}
	for _, env := range []string{"review", "staging", "production"} {
		out[env+"SecretsProvider"] = "awskms://alias/appstack-secrets-" + env + "?region=ap-southeast-1"
	}
	return out
}

func TestSetupRefusesBootstrapOutputsThatWouldMakeAPassphraseStack(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"an empty provider is refused, naming the output", func(o map[string]any) { o["stagingSecretsProvider"] = "" },
			"the bootstrap's output stagingSecretsProvider is missing or empty"},
		{"a missing provider is refused", func(o map[string]any) { delete(o, "productionSecretsProvider") },
			"the bootstrap's output productionSecretsProvider is missing or empty"},
		{"a missing state bucket is refused", func(o map[string]any) { delete(o, "stateBucket") },
			"the bootstrap's output stateBucket is missing or empty"},
		{"the passphrase provider is refused", func(o map[string]any) { o["stagingSecretsProvider"] = "passphrase" },
			`stagingSecretsProvider: "passphrase" is not the awskms://`},
		{"another environment's key is refused", func(o map[string]any) {
			o["productionSecretsProvider"] = "awskms://alias/appstack-secrets-staging?region=ap-southeast-1"
		}, "productionSecretsProvider: \"awskms://alias/appstack-secrets-staging"},
		{"a bucket that is not a URL is refused", func(o map[string]any) { o["stateBucket"] = "appstack-state" },
			`stateBucket: "appstack-state" is not a backend URL`},
		{"a non-string output is refused", func(o map[string]any) { o["reviewSecretsProvider"] = 7 },
			"reviewSecretsProvider is missing or empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outs := goodOutputs()
			tc.edit(outs)
			cli := &fakeCLI{outputs: outs}
			s := &setupRun{ctx: context.Background(), cmd: cli, dir: t.TempDir(), out: io.Discard}
			_, err := s.readBootstrap("bootstrap", "main", "")
			assert.ErrorContains(t, err, tc.want)
			assert.Equal(t, []string{"stack output --json --stack main"}, cli.ran, "nothing runs after the read")
		})
	}
	s := &setupRun{ctx: context.Background(), cmd: &fakeCLI{outputs: goodOutputs()}, out: io.Discard}
	outs, err := s.readBootstrap("bootstrap", "main", "")
	require.NoError(t, err)
	assert.Equal(t, "s3://appstack-state-1234", outs["stateBucket"])
}

func TestSetupChecksTheStackFilesProvider(t *testing.T) {
	const want = "awskms://alias/appstack-secrets-staging?region=ap-southeast-1"
	for _, tc := range []struct {
		name, file, want string
	}{
		{"the KMS provider with its data key is right", "secretsprovider: " + want + "\nencryptedkey: AQID\n", ""},
		{"a passphrase stack is refused with the command that moves it", "encryptionsalt: v1:abc\n",
			"has the secrets provider passphrase in Pulumi.staging.yaml, not " + want +
				": run pulumi stack change-secrets-provider '" + want + "' -s staging"},
		{"another key is refused", "secretsprovider: awskms://alias/appstack-secrets\nencryptedkey: AQID\n",
			"has the secrets provider awskms://alias/appstack-secrets in"},
		{"a provider without its data key is refused", "secretsprovider: " + want + "\n", "not " + want},
		{"a stack file without a provider is refused", "config:\n  appstack:environment: staging\n",
			"Pulumi.staging.yaml names no secrets provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "Pulumi.staging.yaml")
			require.NoError(t, os.WriteFile(file, []byte(tc.file), 0o600))
			err := checkStackFileProvider(file, "staging", want)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSetupCommandLine(t *testing.T) {
	err := run(context.Background(), []string{"setup", "extra"}, io.Discard, nil)
	assert.ErrorIs(t, err, errUsage)
	err = run(context.Background(), []string{"setup", "-pulumi-version", "latest"}, io.Discard, nil)
	assert.ErrorIs(t, err, errUsage)
}
