package stacks

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ghcr = "ghcr.io/koysor/quant-finance/options@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// ghcrService is a service pulling from GHCR with auth, whose JSON replaces the whole services list.
func ghcrService(image, auth string) map[string]string {
	return map[string]string{
		"appstack:services": `[{"name":"options","port":8502,"image":"` + image + `"` + auth + `}]`,
		"appstack:secrets":  `{"GHCR_TOKEN":"token-value"}`,
	}
}

func TestAPrivateRegistryServiceLoads(t *testing.T) {
	cfg, err := Load(source(t, with(ghcrService(ghcr,
		`,"registryAuth":{"username":"koysor","passwordSecret":"GHCR_TOKEN"}`)), "appstack:secrets"))
	require.NoError(t, err)
	assert.Equal(t, &RegistryAuth{Username: "koysor", PasswordSecret: "GHCR_TOKEN"}, cfg.Services[0].RegistryAuth)
}

func TestRegistryAuthIsChecked(t *testing.T) {
	auth := `,"registryAuth":{"username":"koysor","passwordSecret":"GHCR_TOKEN"}`
	ecr := "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/web@sha256:" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		name    string
		changes map[string]string
		want    string
	}{
		{"a digest-less reference names the key", ghcrService("ghcr.io/koysor/quant-finance/options:latest", auth),
			`appstack:services[0].image: "ghcr.io/koysor/quant-finance/options:latest" is not pinned by digest`},
		{"a malformed reference names the key", ghcrService("ghcr.io//options@sha256:"+strings.Repeat("0", 64), auth),
			`appstack:services[0].image: "ghcr.io//options@sha256:`},
		{"the password must be a stack secret", ghcrService(ghcr,
			`,"registryAuth":{"username":"koysor","passwordSecret":"GH_PAT"}`),
			"appstack:services[0].registryAuth.passwordSecret: GH_PAT is not set in appstack:secrets"},
		{"the password secret is required", ghcrService(ghcr, `,"registryAuth":{"username":"koysor"}`),
			"appstack:services[0].registryAuth.passwordSecret: not set"},
		{"the username is required", ghcrService(ghcr, `,"registryAuth":{"passwordSecret":"GHCR_TOKEN"}`),
			"appstack:services[0].registryAuth.username: not set"},
		{"a username with a space", ghcrService(ghcr,
			`,"registryAuth":{"username":"koy sor","passwordSecret":"GHCR_TOKEN"}`),
			`appstack:services[0].registryAuth.username: "koy sor"`},
		{"a password given in the stack file is an unknown key", ghcrService(ghcr,
			`,"registryAuth":{"username":"koysor","password":"hunter2"}`),
			`appstack:services[0].registryAuth.password: unknown key`},
		{"ECR is reached with the role, not a password", ghcrService(ecr, auth),
			"appstack:services[0].registryAuth: 123456789012.dkr.ecr.ap-southeast-1.amazonaws.com is an ECR registry"},
		{"a built image needs no registry credential", map[string]string{
			"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"}` + auth + `}]`,
			"appstack:secrets":  `{"GHCR_TOKEN":"token-value"}`},
			"appstack:services[0].registryAuth: only for a prebuilt image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(source(t, with(tc.changes), "appstack:secrets"))
			require.Error(t, err)
			found := false
			for _, p := range problems(t, err) {
				found = found || strings.HasPrefix(p, tc.want)
			}
			assert.True(t, found, "want a problem starting %q, got:\n%v", tc.want, err)
			assert.NotContains(t, err.Error(), "token-value")
		})
	}
}

func TestEphemeralStacksNeverAdopt(t *testing.T) {
	cfg := with(map[string]string{
		"appstack:environment": "ephemeral",
		"appstack:tables":      `[{"name":"trading","hashKey":"order_id","adopt":{"name":"mexc_trading_data"}}]`,
		"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},` +
			`"adoptRepository":{"name":"mexc-sniper-rust"}}]`,
		"appstack:adoptAddress": "eipalloc-0a1b2c3d4e5f60718",
	})
	_, err := Load(source(t, cfg))
	require.Error(t, err)
	ps := problems(t, err)
	for _, k := range []string{"appstack:adoptAddress: ", "appstack:tables[0].adopt: ",
		"appstack:services[0].adoptRepository: "} {
		assert.True(t, slices.ContainsFunc(ps, func(p string) bool {
			return strings.HasPrefix(p, k+"an ephemeral stack never adopts")
		}), "%s in %v", k, ps)
	}

	// What a review stack copies: the same configuration without the adoption keys, which then loads.
	copied, dropped, err := WithoutAdoptions(cfg)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"appstack:adoptAddress", "appstack:tables[0].adopt",
		"appstack:services[0].adoptRepository"}, dropped)
	assert.Contains(t, cfg, "appstack:adoptAddress", "the base configuration is not changed")
	loaded, err := Load(source(t, copied))
	require.NoError(t, err)
	assert.Nil(t, loaded.Tables[0].Adopt)
	assert.Equal(t, "order_id", loaded.Tables[0].HashKey, "everything else is kept")

	_, _, err = WithoutAdoptions(map[string]string{"appstack:tables": "{"})
	assert.ErrorContains(t, err, "appstack:tables: want a list")
}
