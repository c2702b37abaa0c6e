package components_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/host"
)

const (
	ghcrToken     = "ghp_registry-token-3f9a"
	ghcrParameter = "/appstack/test/app/secrets/GHCR_TOKEN"
)

// ghcrSpec is the usual spec plus a service pulled from GHCR with a login.
func ghcrSpec() host.BootSpec {
	s := spec()
	s.Services = append(s.Services, host.BootService{
		Name: "options", Image: "ghcr.io/koysor/quant-finance/options@sha256:" + strings.Repeat("ab", 32),
		Port: 8502, HealthPath: "/_stcore/health", ReadyPath: "/_stcore/health",
		RegistryLogin: &host.RegistryLogin{Username: "koysor", PasswordParameter: ghcrParameter},
	})
	return s
}

func TestAPrivateRegistryServiceBootsWithTheCredentialKeptOut(t *testing.T) {
	w := newWorld(t)
	w.secrets[ghcrParameter] = ghcrToken
	s := ghcrSpec()
	script, err := host.RenderBootScript(s)
	require.NoError(t, err)
	assert.NotContains(t, script, ghcrToken, "the user-data holds the parameter's name, never the token")
	assert.Contains(t, script, ghcrParameter)

	status, out := w.run(s)
	require.Equal(t, 0, status, out)
	assert.Equal(t, "ready", w.last().State, out)
	assert.NotContains(t, out, ghcrToken, "the token is never logged")
	assert.Equal(t, 1, w.ran("docker", "login", "--username", "koysor", "--password-stdin", "ghcr.io"))
	assert.Contains(t, w.loginStdin, ghcrToken, "the token reaches docker on stdin")
	for _, c := range w.calls {
		assert.NotContains(t, strings.Join(c, " "), ghcrToken, "the token is in no command's arguments")
	}
	assert.Equal(t, 1, w.ran("docker", "pull", s.Services[1].Image), "pulled by digest")
	require.Len(t, w.tempDirs, 1)
	for _, cfg := range w.pullConfig {
		assert.Equal(t, w.tempDirs[0], cfg, "every pull uses the boot's own Docker config")
	}
	assert.Equal(t, 1, w.ran("docker", "logout", "ghcr.io"))
	_, err = os.Stat(w.tempDirs[0])
	assert.True(t, os.IsNotExist(err), "the Docker config with the credential is gone after the pulls")
	env, err := os.ReadFile(w.dir + "/etc/options.env")
	require.NoError(t, err)
	assert.NotContains(t, string(env), ghcrToken, "the service does not receive the registry token")
}

func TestAFailedPullStillForgetsTheCredential(t *testing.T) {
	w := newWorld(t)
	w.secrets[ghcrParameter] = ghcrToken
	w.pullFails = -1
	w.clock = 1_700_000_000
	status, out := w.run(ghcrSpec())
	require.NotEqual(t, 0, status)
	assert.Equal(t, "pull", w.last().Step, out)
	require.Len(t, w.tempDirs, 1)
	_, err := os.Stat(w.tempDirs[0])
	assert.True(t, os.IsNotExist(err), "a failed boot deletes the Docker config too")
	assert.NotContains(t, out, ghcrToken)
}

func TestAMissingRegistryTokenFailsThePull(t *testing.T) {
	w := newWorld(t)
	status, out := w.run(ghcrSpec())
	require.NotEqual(t, 0, status)
	assert.Equal(t, "pull", w.last().Step, out)
	assert.Contains(t, w.last().Reason, "docker login to ghcr.io failed")
	assert.Zero(t, w.ran("docker", "pull", ghcrSpec().Services[1].Image), "no pull without the login")
}

func TestRegistryLoginsAreChecked(t *testing.T) {
	s := ghcrSpec()
	s.Services[0].RegistryLogin = &host.RegistryLogin{Username: "x", PasswordParameter: "/p"}
	_, err := host.RenderBootScript(s)
	assert.ErrorContains(t, err, `service "web": 123456789012.dkr.ecr.ap-southeast-1.amazonaws.com is ECR`)

	s = ghcrSpec()
	s.Services = append(s.Services, host.BootService{Name: "fixed-income", Port: 8503, HealthPath: "/h",
		ReadyPath: "/h", Image: "ghcr.io/koysor/quant-finance/fixed-income@sha256:" + strings.Repeat("cd", 32),
		RegistryLogin: &host.RegistryLogin{Username: "other", PasswordParameter: ghcrParameter}})
	_, err = host.RenderBootScript(s)
	assert.ErrorContains(t, err, `service "fixed-income": registry ghcr.io has another login`)

	s.Services[2].RegistryLogin.Username = "koysor"
	script, err := host.RenderBootScript(s)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(script, "retry registry_login"), "one login per registry")
}

func TestOnlyPrivateRegistryScriptsCarryTheLoginCode(t *testing.T) {
	script, err := host.RenderBootScript(spec())
	require.NoError(t, err)
	assert.NotContains(t, script, "registry_login", "a stack without a private registry keeps its user-data")
	assert.NotContains(t, script, "DOCKER_CONFIG")
}
