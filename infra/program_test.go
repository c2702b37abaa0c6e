package infra

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/infra/appstack"
	"appstack/internal/offline"
	"appstack/policy"
	"appstack/stacks"
	"appstack/stacks/pulumisource"
	"appstack/testing/offlinetest"
)

const (
	canary        = "canary-5be1-do-not-leak"
	appType       = "appstack:components:App"
	instanceType  = "aws:ec2/instance:Instance"
	ingressType   = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	tableType     = "aws:dynamodb/table:Table"
	repoType      = "aws:ecr/repository:Repository"
	eipType       = "aws:ec2/eip:Eip"
	parameterType = "aws:ssm/parameter:Parameter"
)

func stackFile(t *testing.T, stack string) *offline.StackFile {
	t.Helper()
	return offlinetest.StackConfig(t, stack, nil)
}

// run evaluates the program from the project directory with a config.
func run(t *testing.T, stack string, cfg map[string]string, secretKeys ...string) (*offline.Result, error) {
	t.Helper()
	return offlinetest.RunStack(t, Program, stack, cfg, secretKeys...)
}

func mustRun(t *testing.T, stack string, cfg map[string]string, secretKeys ...string) *offline.Result {
	t.Helper()
	res, err := run(t, stack, cfg, secretKeys...)
	require.NoError(t, err)
	return res
}

// ephemeral is the config a review stack gets: staging's, with the ephemeral profile.
func ephemeral(t *testing.T) map[string]string {
	cfg := maps.Clone(stackFile(t, "staging").Config)
	cfg["appstack:environment"] = "ephemeral"
	cfg["appstack:expiresAt"] = "2030-01-02T03:04:05Z"
	return cfg
}

func TestCommittedStacksDeployCleanly(t *testing.T) {
	for _, tc := range []struct {
		stack string
		cfg   func(t *testing.T) map[string]string
	}{
		{"staging", func(t *testing.T) map[string]string { return stackFile(t, "staging").Config }},
		{"production", func(t *testing.T) map[string]string { return stackFile(t, "production").Config }},
		{"pr-7", ephemeral},
	} {
		t.Run(tc.stack+" evaluates with zero open policy findings", func(t *testing.T) {
			cfg := tc.cfg(t)
			res := mustRun(t, tc.stack, cfg)
			assert.Empty(t, openFindings(t, res, cfg))
			assert.Len(t, res.OfType(appType), 1)
			for _, name := range []string{"serviceUrls", "publicIp", "instanceId", "repositoryUrls", "imageDigests",
				"tableNames", "tableArns", "logGroupName", "environment"} {
				assert.Contains(t, res.Exports, name)
			}
			// stackctl recognises a review stack on a runner without its stack file by these outputs.
			assert.Equal(t, cfg["appstack:environment"], res.Exports["environment"])
			if expires, ok := cfg["appstack:expiresAt"]; ok {
				assert.Equal(t, expires, res.Exports["expiresAt"])
			} else {
				assert.NotContains(t, res.Exports, "expiresAt")
			}
			urls := res.Exports["serviceUrls"].(map[string]string)
			assert.Regexp(t, `^http://203\.0\.113\.\d+:8080/$`, urls["web"])
			digest := res.Exports["imageDigests"].(map[string]string)["web"]
			assert.Regexp(t, `\.dkr\.ecr\.ap-southeast-1\.amazonaws\.com/app-web-repo-[0-9a-f]+@sha256:[0-9a-f]{64}$`,
				digest)
		})
	}
}

func TestProfilesDriveProtectionSizeAndRetention(t *testing.T) {
	for _, tc := range []struct {
		name       string
		stack      string
		cfg        func(t *testing.T) map[string]string
		protect    bool
		force      bool
		typ        string
		monitoring bool
		retention  float64
	}{
		{"production table and address are protected and retained", "production",
			func(t *testing.T) map[string]string { return stackFile(t, "production").Config },
			true, false, "t3.medium", true, 90},
		{"staging is unprotected and keeps its images", "staging",
			func(t *testing.T) map[string]string { return stackFile(t, "staging").Config },
			false, false, "t3.small", false, 14},
		{"ephemeral stacks force-delete and stay small", "pr-7", ephemeral,
			false, true, "t3.micro", false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustRun(t, tc.stack, tc.cfg(t))
			tbl := res.OfType(tableType)[0]
			assert.Equal(t, tc.protect, tbl.Protect)
			assert.Equal(t, tc.protect, tbl.RetainOnDelete)
			assert.Equal(t, tc.protect, offlinetest.Bool(t, tbl, "deletionProtectionEnabled"))
			assert.Equal(t, tc.protect, res.OfType(eipType)[0].Protect)
			assert.Equal(t, tc.force, offlinetest.Bool(t, res.OfType(repoType)[0], "forceDelete"))
			inst := res.OfType(instanceType)[0]
			assert.Equal(t, tc.typ, offlinetest.Str(t, inst, "instanceType"))
			assert.Equal(t, tc.monitoring, offlinetest.Bool(t, inst, "monitoring"))
			v, _ := offline.Lookup(res.OfType("aws:cloudwatch/logGroup:LogGroup")[0].Inputs, "retentionInDays")
			assert.Equal(t, tc.retention, v.NumberValue())
		})
	}
}

func TestBehaviourFollowsConfigNotStackName(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	res := mustRun(t, "production", cfg)
	assert.False(t, res.OfType(tableType)[0].Protect, "a stack named production with environment staging")
}

func TestEveryTaggableResourceIsTagged(t *testing.T) {
	res := mustRun(t, "production", stackFile(t, "production").Config)
	tagged := 0
	for _, r := range res.Resources {
		v, ok := offline.Lookup(r.Inputs, "tags")
		if !ok {
			continue
		}
		tagged++
		got := v.ObjectValue().Mappable()
		for _, k := range policy.RequiredTags {
			assert.NotEmpty(t, got[k], "%s %s has no %s tag", r.Type, r.Name, k)
		}
		assert.Equal(t, "production", got["environment"])
		assert.Equal(t, "production", got["stack"])
		assert.Equal(t, "appstack", got["managed-by"])
	}
	assert.GreaterOrEqual(t, tagged, 10)
}

func TestEveryChildHasItsComponentAsParent(t *testing.T) {
	res := mustRun(t, "staging", stackFile(t, "staging").Config)
	byURN := map[string]offline.Resource{}
	for _, r := range res.Resources {
		byURN[r.URN] = r
	}
	for _, r := range res.Resources {
		parent, ok := byURN[r.Parent]
		if r.Type == appType {
			assert.False(t, ok, "the App sits directly under the stack")
			continue
		}
		require.True(t, ok, "%s %s has parent %q, not a component of this stack", r.Type, r.Name, r.Parent)
		assert.False(t, parent.Custom, "%s %s is parented to a custom resource", r.Type, r.Name)
		assert.True(t, strings.HasPrefix(r.Name, parent.Name), "%s is named after its parent %s", r.Name,
			parent.Name)
	}
}

func TestSecretsNeverAppearInPlainText(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	cfg["appstack:secrets"] = fmt.Sprintf(`{"JWT_SECRET":%q}`, canary)
	cfg["appstack:services"] = `[{"name":"web","port":8080,"build":{"context":"app"},"secrets":["JWT_SECRET"]}]`
	res := mustRun(t, "staging", cfg, "appstack:secrets")

	param := res.OfType(parameterType)
	require.Len(t, param, 1)
	value, _ := offline.Lookup(param[0].Inputs, "value")
	require.True(t, value.IsSecret())
	assert.Equal(t, canary, value.SecretValue().Element.StringValue(), "the parameter stores the real value")

	assert.Equal(t, []string{canary}, plaintext(res), "only the parameter holds it, as a secret")
	for name, v := range res.Exports {
		assert.NotContains(t, fmt.Sprint(v), canary, "export %s", name)
	}
	ud, _ := offline.Lookup(res.OfType(instanceType)[0].Inputs, "userData")
	assert.Contains(t, ud.StringValue(), param[0].Outputs["name"].StringValue(), "the host reads it by name")
	assert.Empty(t, openFindings(t, res, cfg))
}

// plaintext lists every canary occurrence in any input, secret or not, so the test above fails if one leaks.
func plaintext(res *offline.Result) []string {
	var found []string
	for _, r := range res.Resources {
		raw, _ := json.Marshal(resource.NewObjectProperty(r.Inputs).Mappable())
		for range strings.Count(string(raw), canary) {
			found = append(found, canary)
		}
	}
	return found
}

func TestMissingSecretOrPlainSecretsFailBeforeAnyResource(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes map[string]string
		secret  []string
		want    string
	}{
		{"a referenced secret that is not set",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},` +
				`"secrets":["JWT_SECRET"]}]`},
			nil, "appstack:services[0].secrets[0]: JWT_SECRET is not set in appstack:secrets"},
		{"secrets stored in plain text",
			map[string]string{"appstack:secrets": `{"JWT_SECRET":"x"}`},
			nil, "appstack:secrets: must be set with --secret"},
		{"a misspelled key",
			map[string]string{"appstack:ingresCidrs": `["10.0.0.0/8"]`},
			nil, `appstack:ingresCidrs: unknown key (did you mean "ingressCidrs"?)`},
		{"a waiver of a critical rule",
			map[string]string{"appstack:waivers": `[{"rule":"APPSTACK-NET-001","reason":"debugging"}]`},
			nil, "appstack:waivers[0].rule: APPSTACK-NET-001 (SSH (22) is never open) is critical"},
		{"a bad port", map[string]string{"appstack:services": `[{"name":"web","port":70000,"build":{"context":"app"}}]`},
			nil, "appstack:services[0].port: 70000 is not a TCP port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := stackFile(t, "staging").Config
			maps.Copy(cfg, tc.changes)
			res, err := run(t, "staging", cfg, tc.secret...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, res.Resources, "nothing is registered when the config is invalid")
		})
	}
}

func TestFourStreamlitAppsOnOneHost(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	var services []string
	for i, name := range []string{"quant-finance", "options", "fixed-income", "portfolio-management"} {
		services = append(services, fmt.Sprintf(`{"name":%q,"port":%d,"healthPath":"/_stcore/health",`+
			`"readyPath":"/_stcore/health","image":"ghcr.io/koysor/quant-finance/%s@sha256:%064x"}`,
			name, 8501+i, name, i+1))
	}
	cfg["appstack:services"] = "[" + strings.Join(services, ",") + "]"
	res := mustRun(t, "staging", cfg)

	rules := res.OfType(ingressType)
	require.Len(t, rules, 4)
	for i, r := range rules {
		v, _ := offline.Lookup(r.Inputs, "fromPort")
		assert.Equal(t, float64(8501+i), v.NumberValue())
	}
	assert.Len(t, res.OfType(repoType), 4,
		"every service keeps a repository, so a switch between build and image never deletes one")
	ud := offlinetest.Str(t, res.OfType(instanceType)[0], "userData")
	assert.LessOrEqual(t, len(ud), 16*1024)
	for i := range 4 {
		assert.Contains(t, ud, fmt.Sprintf("@sha256:%064x", i+1))
	}
	assert.Empty(t, openFindings(t, res, cfg))
}

func TestTwoAppsInOneProgramDoNotCollide(t *testing.T) {
	t.Chdir(offlinetest.Root())
	res, err := offline.Run(func(ctx *pulumi.Context) error {
		cfg, err := stacks.Load(pulumisource.FromContext(ctx))
		if err != nil {
			return err
		}
		for _, name := range []string{"blue-app", "green-app"} {
			if _, err := appstack.New(ctx, name, &appstack.Args{Config: cfg}); err != nil {
				return err
			}
		}
		return nil
	}, offline.Options{Stack: "staging", Config: stackFile(t, "staging").Config})
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, r := range res.Resources {
		assert.False(t, seen[r.URN], "duplicate URN %s", r.URN)
		seen[r.URN] = true
	}
	assert.Len(t, res.OfType(appType), 2)
	assert.Len(t, res.OfType(instanceType), 2)
}

func TestTablesReachTheServicesByEnvironment(t *testing.T) {
	res := mustRun(t, "staging", stackFile(t, "staging").Config)
	tbl := res.OfType(tableType)[0]
	ud := offlinetest.Str(t, res.OfType(instanceType)[0], "userData")
	assert.Contains(t, ud, "APPSTACK_TABLE_EVENTS="+tbl.Outputs["name"].StringValue())
	assert.Contains(t, ud, "PORT=8080")
}

func TestProgramReadsSecretsFromTheEnvironmentTheCLISets(t *testing.T) {
	cfg := stackFile(t, "staging").Config
	cfg["appstack:secret"] = "typo"
	raw, err := json.Marshal(cfg)
	require.NoError(t, err)
	t.Setenv(pulumi.EnvConfig, string(raw))
	t.Chdir(offlinetest.Root())
	// No WithKeys here: the key list comes from PULUMI_CONFIG, as under `pulumi up`.
	err = pulumi.RunErr(Program, pulumi.WithMocks("appstack", "staging", &offline.Mocks{Region: "ap-southeast-1"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `appstack:secret: unknown key (did you mean "secrets"?)`)
}

func TestOfflineStackFileMarksSecureValuesSecret(t *testing.T) {
	f, err := offline.ParseStackFile([]byte("config:\n  aws:region: ap-southeast-1\n  appstack:secrets:\n" +
		"    JWT_SECRET:\n      secure: v1:abc\n  appstack:keepImages: 5\n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"appstack:secrets"}, f.SecretKeys)
	assert.JSONEq(t, `{"JWT_SECRET":"`+offline.SecretPlaceholder+`"}`, f.Config["appstack:secrets"])
	assert.Equal(t, "5", f.Config["appstack:keepImages"])
	assert.NotContains(t, f.Config["appstack:secrets"], "v1:abc")
}

// openFindings are the policy findings the stack's waivers do not accept.
func openFindings(t *testing.T, res *offline.Result, cfg map[string]string) []policy.Finding {
	t.Helper()
	open, _ := policy.Review(offline.PolicyResources(res.Resources), offlinetest.Waivers(t, cfg))
	return open
}
