package infra

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/offline"
	"appstack/testing/offlinetest"
)

func TestAGHCRServiceLogsInWithAStackSecret(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	cfg["appstack:secrets"] = fmt.Sprintf(`{"GHCR_TOKEN":%q}`, canary)
	image := "ghcr.io/koysor/quant-finance/options@sha256:" + strings.Repeat("ab", 32)
	cfg["appstack:services"] = `[{"name":"web","port":8080,"build":{"context":"app"}},` +
		`{"name":"options","port":8502,"healthPath":"/_stcore/health","readyPath":"/_stcore/health",` +
		`"image":"` + image + `","registryAuth":{"username":"koysor","passwordSecret":"GHCR_TOKEN"}}]`
	res := mustRun(t, "staging", cfg, "appstack:secrets")

	param := res.OfType(parameterType)
	require.Len(t, param, 1)
	value, _ := offline.Lookup(param[0].Inputs, "value")
	require.True(t, value.IsSecret(), "the token is stored as a secret, like every stack secret")
	assert.Equal(t, "SecureString", offlinetest.Str(t, param[0], "type"))
	assert.Equal(t, []string{canary}, plaintext(res), "only the parameter holds the token, as a secret")
	for name, v := range res.Exports {
		assert.NotContains(t, fmt.Sprint(v), canary, "export %s", name)
	}
	ud := offlinetest.Str(t, res.OfType(instanceType)[0], "userData")
	assert.Contains(t, ud, "retry registry_login ghcr.io koysor "+param[0].Outputs["name"].StringValue(),
		"the host reads the token by its parameter's name at boot")
	assert.Contains(t, ud, image)
	policy := offlinetest.Str(t, offlinetest.One(t, res, "aws:iam/rolePolicy:RolePolicy"), "policy")
	assert.Contains(t, policy, "parameter/appstack/staging/app/secrets/GHCR_TOKEN", "the host's role may read it")
	assert.Empty(t, openFindings(t, res, cfg))
}
