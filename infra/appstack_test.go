package infra_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/components/identity"
	"appstack/components/registry"
	"appstack/infra/appstack"
	"appstack/internal/offline"
	"appstack/stacks"
	"appstack/testing/offlinetest"
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

// deployApp runs the App component for cfg against reg, the registry that successive deploys share.
func deployApp(t *testing.T, reg *offline.Registry, cfg stacks.Config) *offline.Result {
	t.Helper()
	res, err := offline.Run(func(ctx *pulumi.Context) error {
		app, err := appstack.New(ctx, "app", &appstack.Args{Config: &cfg, ProjectDir: offlinetest.Root()})
		if err != nil {
			return err
		}
		ctx.Export("imageDigests", app.ImageDigests)
		return nil
	}, offline.Options{Stack: "test",
		Config: map[string]string{"aws:region": offlinetest.Region}, Registry: reg})
	require.NoError(t, err)
	return res
}

func webConfig(env stacks.Environment, web stacks.Service) stacks.Config {
	cfg := stacks.Defaults(env)
	cfg.Region = offlinetest.Region
	cfg.IngressCidrs = []string{"10.0.0.0/8"}
	web.Name, web.Port, web.HealthPath, web.ReadyPath = "web", 8080, "/health", "/ready"
	cfg.Services = []stacks.Service{web}
	return cfg
}

// hostPolicy returns the host's inline policy statements by Sid.
func hostPolicy(t *testing.T, res *offline.Result) map[string]identity.Statement {
	t.Helper()
	doc := parseDocument(t, offlinetest.Str(t, offlinetest.One(t, res, "aws:iam/rolePolicy:RolePolicy"), "policy"))
	out := map[string]identity.Statement{}
	for _, s := range doc.Statement {
		out[s.Sid] = s
	}
	return out
}

// A rollback pins a service to an earlier digest with image: instead of build:. The repository holding that
// image must stay (a deleted repository takes its images with it, forcibly in ephemeral stacks), and the host
// must keep its pull rights and ecr:GetAuthorizationToken, or its boot ends in failed:pull.
func TestARollbackByPinnedDigestKeepsTheRepositoryAndThePullRights(t *testing.T) {
	for _, env := range []stacks.Environment{stacks.Staging, stacks.Ephemeral} {
		t.Run(string(env), func(t *testing.T) {
			reg := &offline.Registry{}
			built := deployApp(t, reg, webConfig(env, stacks.Service{Build: &stacks.Build{Context: "app", Dockerfile: "app/Dockerfile"}}))
			repo := offlinetest.One(t, built, "aws:ecr/repository:Repository")
			pinned := imageDigest(t, built)

			rolledBack := deployApp(t, reg, webConfig(env, stacks.Service{Image: pinned}))
			again := offlinetest.One(t, rolledBack, "aws:ecr/repository:Repository")
			assert.Equal(t, repo.URN, again.URN, "the same repository, so pulumi deletes nothing")
			assert.Empty(t, rolledBack.OfType("docker:index/image:Image"), "nothing is built")

			grants := hostPolicy(t, rolledBack)
			assert.Contains(t, grants["EcrPull"].Resource, repo.Outputs["arn"].StringValue())
			assert.Equal(t, []string{"*"}, grants["EcrLogin"].Resource)
			assert.Equal(t, []string{"ecr:GetAuthorizationToken"}, grants["EcrLogin"].Action)
			assert.Contains(t, offlinetest.Str(t, offlinetest.One(t, rolledBack, "aws:ec2/instance:Instance"),
				"userData"), pinned, "the host runs the pinned digest")
		})
	}
}

func TestTheHostMayPullEveryPinnedECRImage(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, image, want string
	}{
		{"another repository of the account", "123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/team/api" + digest,
			"arn:aws:ecr:ap-southeast-1:123456789012:repository/team/api"},
		{"another account and region", "210987654321.dkr.ecr.eu-west-1.amazonaws.com/shared" + digest,
			"arn:aws:ecr:eu-west-1:210987654321:repository/shared"},
		{"the China partition", "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/shared" + digest,
			"arn:aws-cn:ecr:cn-north-1:210987654321:repository/shared"},
		{"GovCloud", "210987654321.dkr.ecr.us-gov-west-1.amazonaws.com/shared" + digest,
			"arn:aws-us-gov:ecr:us-gov-west-1:210987654321:repository/shared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := registry.RepositoryArnOf(tc.image)
			require.True(t, ok)
			assert.Equal(t, tc.want, got)

			res := deployApp(t, &offline.Registry{}, webConfig(stacks.Staging, stacks.Service{Image: tc.image}))
			grants := hostPolicy(t, res)
			assert.Contains(t, grants["EcrPull"].Resource, tc.want)
			assert.Contains(t, grants["EcrPull"].Resource,
				offlinetest.One(t, res, "aws:ecr/repository:Repository").Outputs["arn"].StringValue())
			assert.Equal(t, []string{"ecr:GetAuthorizationToken"}, grants["EcrLogin"].Action)
		})
	}
	_, ok := registry.RepositoryArnOf("public.ecr.aws/nginx/nginx" + digest)
	assert.False(t, ok, "public registries need no grant")
	_, ok = registry.RepositoryArnOf("docker.io/library/nginx" + digest)
	assert.False(t, ok)
}

// imageDigest is the web service's image reference from the run's imageDigests output.
func imageDigest(t *testing.T, res *offline.Result) string {
	t.Helper()
	m, ok := res.Exports["imageDigests"].(map[string]string)
	require.True(t, ok, "imageDigests: %v", res.Exports)
	return m["web"]
}

func TestProductionKeepsTheKeyOfItsTables(t *testing.T) {
	for _, tc := range []struct {
		env  stacks.Environment
		keep bool
	}{{stacks.Production, true}, {stacks.Staging, false}, {stacks.Ephemeral, false}} {
		t.Run(string(tc.env), func(t *testing.T) {
			cfg := webConfig(tc.env, stacks.Service{Image: "public.ecr.aws/x/y@sha256:" + strings.Repeat("0", 64)})
			cfg.Tables = []stacks.Table{{Name: "events", HashKey: "id", HashKeyType: "S"}}
			res := deployApp(t, &offline.Registry{}, cfg)
			key := offlinetest.One(t, res, "aws:kms/key:Key")
			tbl := offlinetest.One(t, res, "aws:dynamodb/table:Table")
			assert.Equal(t, tc.keep, key.Protect, "protect")
			assert.Equal(t, tc.keep, key.RetainOnDelete, "retainOnDelete")
			assert.Equal(t, tbl.Protect, key.Protect, "the key is kept wherever its tables are")
		})
	}
}

// program is a Pulumi program that creates one component, named name, and nothing else.
func program[A, C any](newComponent func(*pulumi.Context, string, *A, ...pulumi.ResourceOption) (C, error),
	name string, args *A) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		_, err := newComponent(ctx, name, args)
		return err
	}
}

func parseDocument(t *testing.T, doc string) identity.Document {
	t.Helper()
	var d identity.Document
	require.NoError(t, json.Unmarshal([]byte(doc), &d))
	return d
}
