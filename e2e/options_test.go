package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDefaults(t *testing.T) {
	o, err := Parse(nil)
	require.NoError(t, err)
	assert.Regexp(t, `^pr-e2e-[0-9a-f]{8}$`, o.Stack)
	assert.Equal(t, "staging", o.Base)
	assert.Equal(t, 3*time.Hour, o.TTL, "a short expiry, so that the reaper removes a stack a dead run left")
	assert.Equal(t, FailPull, o.FailWith)
	assert.False(t, o.Require)
	other, err := Parse(nil)
	require.NoError(t, err)
	assert.NotEqual(t, o.Stack, other.Stack, "each run gets its own stack")
}

func TestParseRefusesBadValuesNamingTheFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		flag string
	}{
		{"a stack the suite did not create", []string{"-stack", "pr-7"}, "-stack"},
		{"staging is never a test stack", []string{"-stack", "staging"}, "-stack"},
		{"upper case stack", []string{"-stack", "pr-e2e-ABC"}, "-stack"},
		{"zero expiry", []string{"-ttl", "0s"}, "-ttl"},
		{"expiry over a day", []string{"-ttl", "48h"}, "-ttl"},
		{"unparsable duration", []string{"-health-timeout", "soon"}, "-health-timeout"},
		{"no pause between requests", []string{"-interval", "0s"}, "-interval"},
		{"a loop bound too short for a deploy", []string{"-loop-bound", "10s"}, "-loop-bound"},
		{"unknown failure mode", []string{"-fail-with", "crash"}, "-fail-with"},
		{"empty base", []string{"-base", ""}, "-base"},
		{"request timeout beyond the bound", []string{"-request-timeout", "1m", "-loop-bound", "1m"}, "-request-timeout"},
		{"unknown flag", []string{"-nope"}, "-nope"},
		{"positional argument", []string{"staging"}, `"staging"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.args)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrUsage), "exit status 2: %v", err)
			assert.Contains(t, err.Error(), tc.flag)
		})
	}
}

func TestExitCodes(t *testing.T) {
	_, usage := Parse([]string{"-ttl", "1m"})
	assert.Equal(t, 2, ExitCode(usage), "a bad flag")
	assert.Equal(t, 2, ExitCode(fmt.Errorf("%w: -pulumi-version %q", ErrUsage, "x")))
	assert.Equal(t, 1, ExitCode(errors.New("step first deploy: boom")))
	assert.Equal(t, 0, ExitCode(nil), "passed or skipped")
}

func TestParseReportsEveryBadFlagAtOnce(t *testing.T) {
	_, err := Parse([]string{"-ttl", "1m", "-fail-with", "x", "-stack", "prod"})
	require.Error(t, err)
	for _, flag := range []string{"-ttl", "-fail-with", "-stack"} {
		assert.Contains(t, err.Error(), flag)
	}
}

// bareEnv is a machine with nothing configured: an empty home, no variables, no pulumi, no Docker socket.
func bareEnv(t *testing.T, vars map[string]string) Env {
	home := t.TempDir()
	return Env{
		Getenv: func(k string) string {
			if k == "HOME" {
				return home
			}
			return vars[k]
		},
		LookPath:     func(string) (string, error) { return "", errors.New("not found") },
		DockerSocket: filepath.Join(home, "docker.sock"),
	}
}

func noIdentity(t *testing.T) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		t.Error("AWS was called without credentials")
		return "", errors.New("unreachable")
	}
}

func TestWithoutCredentialsTheSuiteSkipsAndNamesWhatIsMissing(t *testing.T) {
	var out strings.Builder
	who, proceed, err := Prerequisites(t.Context(), bareEnv(t, nil), Options{}, &out, noIdentity(t))
	require.NoError(t, err, "a skip exits 0")
	assert.False(t, proceed)
	assert.Empty(t, who)
	msg := out.String()
	assert.Contains(t, msg, "SKIPPED")
	for _, want := range []string{"AWS credentials:", "AWS_ACCESS_KEY_ID", "profile \"default\"",
		"a Pulumi backend:", "PULUMI_BACKEND_URL", "a Docker engine", "docker.sock", "the Pulumi CLI:",
		"-pulumi-version", "Nothing was created"} {
		assert.Contains(t, msg, want)
	}
}

func TestRequireTurnsASkipIntoAFailure(t *testing.T) {
	var out strings.Builder
	_, proceed, err := Prerequisites(t.Context(), bareEnv(t, nil), Options{Require: true}, &out, noIdentity(t))
	require.Error(t, err)
	assert.False(t, proceed)
	assert.Contains(t, out.String(), "AWS credentials")
}

// dockerSocket serves the Docker Engine API's /_ping on a unix socket, answering status.
func dockerSocket(t *testing.T, status int) string {
	dir, err := os.MkdirTemp("", "d") // a short path: unix socket paths are limited to ~100 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return path
}

func TestWithEverythingTheSuiteProceedsAndAsksWhoItIs(t *testing.T) {
	env := bareEnv(t, map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
		"PULUMI_BACKEND_URL": "s3://state"})
	env.LookPath = func(string) (string, error) { return "/usr/bin/pulumi", nil }
	env.DockerSocket = dockerSocket(t, http.StatusOK)
	var out strings.Builder
	calls := 0
	who, proceed, err := Prerequisites(t.Context(), env, Options{}, &out, func(context.Context) (string, error) {
		calls++
		return "arn:aws:sts::123456789012:assumed-role/deploy/x", nil
	})
	require.NoError(t, err)
	assert.True(t, proceed)
	assert.Equal(t, 1, calls)
	assert.Contains(t, who, "assumed-role/deploy")
	assert.Contains(t, who, "environment (AWS_ACCESS_KEY_ID)")
	assert.Empty(t, out.String())

	_, proceed, err = Prerequisites(t.Context(), env, Options{}, &out, func(context.Context) (string, error) {
		return "", errors.New("ExpiredToken: the security token included in the request is expired")
	})
	assert.False(t, proceed)
	require.Error(t, err, "credentials that do not work fail the run: they are not a skip")
	assert.Contains(t, err.Error(), "ExpiredToken")
}

func TestCredentialSources(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vars   map[string]string
		config string // ~/.aws/config
		creds  string // ~/.aws/credentials
		want   string // "" when none
	}{
		{"nothing", nil, "", "", ""},
		{"a key id without its secret", map[string]string{"AWS_ACCESS_KEY_ID": "AKIA"}, "", "", ""},
		{"environment keys", map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"}, "", "",
			"environment"},
		{"OIDC web identity", map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"},
			"", "", "web identity"},
		{"container credentials", map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/c"}, "", "",
			"container"},
		{"default profile with keys", nil, "", "[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n",
			`profile "default"`},
		{"named SSO profile", map[string]string{"AWS_PROFILE": "dev"},
			"[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n[sso-session corp]\n" +
				"sso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n", "", `profile "dev"`},
		{"a profile with only a region", nil, "[default]\nregion = ap-southeast-1\n", "", ""},
		{"AWS_PROFILE names a profile that does not exist", map[string]string{"AWS_PROFILE": "gone"}, "",
			"[default]\naws_access_key_id = AKIA\naws_secret_access_key = s\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := bareEnv(t, tc.vars)
			home := env.home()
			require.NoError(t, os.MkdirAll(filepath.Join(home, ".aws"), 0o700))
			if tc.config != "" {
				require.NoError(t, os.WriteFile(filepath.Join(home, ".aws", "config"), []byte(tc.config), 0o600))
			}
			if tc.creds != "" {
				require.NoError(t, os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte(tc.creds), 0o600))
			}
			source, why := AWSCredentialSource(t.Context(), env)
			if tc.want == "" {
				assert.Empty(t, source)
				assert.Contains(t, why, "EC2 instance role is not probed")
				return
			}
			assert.Contains(t, source, tc.want)
		})
	}
}

func TestPulumiBackendAndDocker(t *testing.T) {
	env := bareEnv(t, nil)
	_, ok := pulumiBackend(env)
	assert.False(t, ok)
	dir := filepath.Join(env.home(), ".pulumi")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "credentials.json"), []byte(`{"current": ""}`), 0o600))
	_, ok = pulumiBackend(env)
	assert.False(t, ok, "a logged-out CLI has no current backend")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "credentials.json"),
		[]byte(`{"current": "s3://state", "accessTokens": {}}`), 0o600))
	_, ok = pulumiBackend(env)
	assert.True(t, ok, "pulumi login's current backend")

	why, ok := dockerEngine(t.Context(), env)
	assert.False(t, ok)
	assert.Contains(t, why, "docker.sock")
	env.DockerSocket = dockerSocket(t, http.StatusInternalServerError)
	why, ok = dockerEngine(t.Context(), env)
	assert.False(t, ok, "an engine that answers /_ping with an error is not ready")
	assert.Contains(t, why, "HTTP 500")
	env.DockerSocket = dockerSocket(t, http.StatusOK)
	_, ok = dockerEngine(t.Context(), env)
	assert.True(t, ok)
	_, ok = dockerEngine(t.Context(), bareEnv(t, map[string]string{"DOCKER_HOST": "unix:///nonexistent/docker.sock"}))
	assert.False(t, ok, "DOCKER_HOST's socket is the one asked")
}
