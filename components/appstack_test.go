package components_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"appstack/components/appstack"
	"appstack/internal/offline/offlinetest"
	"appstack/stacks"
)

func TestArgsAreChecked(t *testing.T) {
	pinned := "public.ecr.aws/x/y@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	good := stacks.Defaults(stacks.Staging)
	good.Region = offlinetest.Region
	good.IngressCidrs = []string{"10.0.0.0/8"}
	good.Services = []stacks.Service{{Name: "web", Port: 8080, HealthPath: "/health", ReadyPath: "/ready",
		Image: pinned}}
	withSecret := good
	withSecret.SecretNames = []string{"TOKEN"}
	badPort := good
	badPort.Services = []stacks.Service{{Name: "web", Port: 22, HealthPath: "/h", ReadyPath: "/r", Image: pinned}}

	for _, tc := range []struct {
		name string
		args *appstack.Args
		want string
	}{
		{"config is required", &appstack.Args{}, `appstack "app": Config is required`},
		{"config built in code is validated", &appstack.Args{Config: &badPort},
			`appstack:services[0].port: 22 is the SSH port`},
		{"secret values are required for secret names", &appstack.Args{Config: &withSecret},
			`Secrets is required when Config.SecretNames is set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := offlinetest.RunErr(program(appstack.New, "app", tc.args))
			assert.ErrorContains(t, err, tc.want)
			assert.Empty(t, res.Resources)
		})
	}
	res := offlinetest.Run(t, program(appstack.New, "app", &appstack.Args{Config: &good}))
	assert.NotEmpty(t, res.Resources)
}

func TestTableEnvVar(t *testing.T) {
	assert.Equal(t, "APPSTACK_TABLE_TRADING_DATA", appstack.TableEnvVar("trading-data"))
}

func TestHostRoleCarriesTheBoundary(t *testing.T) {
	cfg := stacks.Defaults(stacks.Staging)
	cfg.Region = offlinetest.Region
	cfg.IngressCidrs = []string{"10.0.0.0/8"}
	cfg.Services = []stacks.Service{{Name: "web", Port: 8080, HealthPath: "/health", ReadyPath: "/ready",
		Image: "public.ecr.aws/x/y@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}

	t.Run("by default the bootstrap's, in the stack's account and partition", func(t *testing.T) {
		res := offlinetest.Run(t, program(appstack.New, "app", &appstack.Args{Config: &cfg}))
		role := offlinetest.One(t, res, "aws:iam/role:Role")
		assert.Equal(t, "arn:aws:iam::123456789012:policy/appstack/appstack-host-boundary",
			offlinetest.Str(t, role, "permissionsBoundary"))
	})
	t.Run("appstack:permissionsBoundary names another", func(t *testing.T) {
		other := cfg
		other.PermissionsBoundary = "arn:aws:iam::123456789012:policy/platform/boundary"
		res := offlinetest.Run(t, program(appstack.New, "app", &appstack.Args{Config: &other}))
		assert.Equal(t, other.PermissionsBoundary,
			offlinetest.Str(t, offlinetest.One(t, res, "aws:iam/role:Role"), "permissionsBoundary"))
	})
	t.Run("a value that is not a policy ARN is refused with the key", func(t *testing.T) {
		bad := cfg
		bad.PermissionsBoundary = "appstack-host-boundary"
		_, err := offlinetest.RunErr(program(appstack.New, "app", &appstack.Args{Config: &bad}))
		assert.ErrorContains(t, err, `appstack:permissionsBoundary: "appstack-host-boundary" is not an IAM managed policy ARN`)
	})
}
