package stacks

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// source builds a Source from a config map; every key listed, secret ones named.
func source(t *testing.T, cfg map[string]string, secret ...string) Source {
	t.Helper()
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	return Source{
		Get: func(k string) (string, bool) { v, ok := cfg[k]; return v, ok },
		IsSecret: func(k string) bool {
			for _, s := range secret {
				if s == k {
					return true
				}
			}
			return false
		},
		Keys: keys,
		Dir:  dir,
	}
}

// valid is a minimal good configuration; cases change one key.
func valid() map[string]string {
	return map[string]string{
		"aws:region":            "ap-southeast-1",
		"appstack:environment":  "staging",
		"appstack:services":     `[{"name":"web","port":8080,"build":{"context":"app"}}]`,
		"appstack:ingressCidrs": `["203.0.113.0/24"]`,
	}
}

func with(changes map[string]string) map[string]string {
	cfg := valid()
	for k, v := range changes {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	var cfgErr *Error
	require.True(t, errors.As(err, &cfgErr), "want *stacks.Error, got %v", err)
	return cfgErr.Problems
}

func TestLoadAppliesProfileDefaults(t *testing.T) {
	for _, tc := range []struct {
		env        Environment
		typ        string
		monitoring bool
		protect    bool
		force      bool
		retention  int
	}{
		{Staging, "t3.small", false, false, false, 14},
		{Production, "t3.medium", true, true, false, 90},
		{Ephemeral, "t3.micro", false, false, true, 3},
	} {
		t.Run(string(tc.env)+" profile", func(t *testing.T) {
			cfg, err := Load(source(t, with(map[string]string{"appstack:environment": string(tc.env)})))
			require.NoError(t, err)
			assert.Equal(t, tc.typ, cfg.Instance.Type)
			assert.Equal(t, X86_64, cfg.Instance.Arch)
			assert.Equal(t, tc.monitoring, cfg.Instance.DetailedMonitoring)
			assert.Equal(t, tc.protect, cfg.Protect)
			assert.Equal(t, tc.force, cfg.ForceDelete)
			assert.Equal(t, tc.retention, cfg.LogRetentionDays)
			assert.Equal(t, 10, cfg.KeepImages)
			svc := cfg.Services[0]
			assert.Equal(t, "/health", svc.HealthPath)
			assert.Equal(t, "/ready", svc.ReadyPath)
			assert.Equal(t, "app/Dockerfile", svc.Build.Dockerfile)
		})
	}
}

func TestStackFileValuesOverrideDefaults(t *testing.T) {
	cfg, err := Load(source(t, with(map[string]string{
		"appstack:instance":         `{"type":"t4g.small","arch":"arm64"}`,
		"appstack:keepImages":       "25",
		"appstack:logRetentionDays": "30",
		"appstack:tables":           `[{"name":"trading-data","hashKey":"order_id"}]`,
	})))
	require.NoError(t, err)
	assert.Equal(t, Instance{Type: "t4g.small", Arch: ARM64, RootVolumeGiB: 20, AMI: "al2023"}, cfg.Instance,
		"keys not set keep the profile's default")
	assert.Equal(t, 25, cfg.KeepImages)
	assert.Equal(t, 30, cfg.LogRetentionDays)
	assert.Equal(t, "S", cfg.Tables[0].HashKeyType)
	assert.Equal(t, "linux/arm64", cfg.Instance.Arch.Platform())
}

func TestLoadRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes map[string]string
		secret  []string
		want    string
	}{
		{"a port above 65535 is not a TCP port",
			map[string]string{"appstack:services": `[{"name":"a","port":8080,"image":"` + pinned + `"},` +
				`{"name":"b","port":70000,"image":"` + pinned + `"}]`},
			nil, "appstack:services[1].port: 70000 is not a TCP port"},
		{"a service is never named like a stack's target groups",
			map[string]string{"appstack:services": `[{"name":"pr-api","port":8080,"image":"` + pinned + `"}]`},
			nil, `appstack:services[0].name: "pr-api" starts with "pr-", the name of a stack's target groups`},
		{"port 22 is never a service port",
			map[string]string{"appstack:services": `[{"name":"web","port":22,"image":"` + pinned + `"}]`},
			nil, "appstack:services[0].port: 22 is the SSH port"},
		{"port 3389 is never a service port",
			map[string]string{"appstack:services": `[{"name":"web","port":3389,"image":"` + pinned + `"}]`},
			nil, "appstack:services[0].port: 3389 is the RDP port"},
		{"a privileged port is rejected",
			map[string]string{"appstack:services": `[{"name":"web","port":80,"image":"` + pinned + `"}]`},
			nil, "appstack:services[0].port: 80 is a privileged port"},
		{"a port given as a string names the field",
			map[string]string{"appstack:services": `[{"name":"web","port":"8080","build":{"context":"app"}}]`},
			nil, "appstack:services[0].port: want a whole number, got a JSON string"},
		{"duplicate service names",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"image":"` + pinned + `"},` +
				`{"name":"web","port":8081,"image":"` + pinned + `"}]`},
			nil, `appstack:services[1].name: "web" is already the name of services[0]`},
		{"duplicate ports",
			map[string]string{"appstack:services": `[{"name":"a","port":8501,"image":"` + pinned + `"},` +
				`{"name":"b","port":8501,"image":"` + pinned + `"}]`},
			nil, "appstack:services[1].port: 8501 is already the port of services[0]"},
		{"a health path without a leading slash",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"healthPath":"health",` +
				`"build":{"context":"app"}}]`},
			nil, `appstack:services[0].healthPath: "health" must start with /`},
		{"a ready path with a space",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"readyPath":"/re ady",` +
				`"build":{"context":"app"}}]`},
			nil, `appstack:services[0].readyPath: "/re ady" contains a space`},
		{"a misspelled service key is an error, with a hint",
			map[string]string{"appstack:services": `[{"name":"web","prot":8080,"build":{"context":"app"}}]`},
			nil, `appstack:services[0].prot: unknown key (did you mean "port"?)`},
		{"a misspelled top-level key is an error, with a hint",
			map[string]string{"appstack:instnce": `{"type":"t3.small"}`},
			nil, `appstack:instnce: unknown key (did you mean "instance"?)`},
		{"a misspelled instance key is an error",
			map[string]string{"appstack:instance": `{"tpye":"t3.small"}`},
			nil, `appstack:instance.tpye: unknown key (did you mean "type"?)`},
		{"an unknown environment",
			map[string]string{"appstack:environment": "prod"},
			nil, `appstack:environment: "prod" is not an environment; want one of staging, production, ephemeral`},
		{"a missing environment",
			map[string]string{"appstack:environment": ""},
			nil, "appstack:environment: not set"},
		{"a missing region",
			map[string]string{"aws:region": ""},
			nil, "aws:region: not set"},
		{"an instance type with a dash",
			map[string]string{"appstack:instance": `{"type":"t2-micro"}`},
			nil, `appstack:instance.type: "t2-micro" is not an EC2 instance type (did you mean "t2.micro"?)`},
		{"a made-up instance type",
			map[string]string{"appstack:instance": `{"type":"huge"}`},
			nil, `appstack:instance.type: "huge" is not an EC2 instance type`},
		{"a paravirtual-only type, which cannot boot Amazon Linux 2023",
			map[string]string{"appstack:instance": `{"type":"m1.small"}`},
			nil, `appstack:instance.type: "m1.small" boots only paravirtual AMIs`},
		{"a size its previous-generation family never had",
			map[string]string{"appstack:instance": `{"type":"m3.4xlarge"}`},
			nil, `appstack:instance.type: "m3.4xlarge" is not an EC2 instance type: the m3 family has m3.2xlarge, ` +
				`m3.large, m3.medium, m3.xlarge`},
		{"an arm64 type on x86_64",
			map[string]string{"appstack:instance": `{"type":"t4g.small"}`},
			nil, "appstack:instance.arch: x86_64 does not match instance type t4g.small, which is arm64"},
		{"an x86_64 type on arm64",
			map[string]string{"appstack:instance": `{"type":"t3.small","arch":"arm64"}`},
			nil, "appstack:instance.arch: arm64 does not match instance type t3.small, which is x86_64"},
		{"a root volume smaller than the AMI",
			map[string]string{"appstack:instance": `{"rootVolumeGiB":4}`},
			nil, "appstack:instance.rootVolumeGiB: 4: want 8 to 16384"},
		{"an AMI appstack does not boot",
			map[string]string{"appstack:instance": `{"ami":"ubuntu"}`},
			nil, `appstack:instance.ami: "ubuntu": want al2023 or ecs-al2023`},
		{"a bad CIDR",
			map[string]string{"appstack:ingressCidrs": `["10.0.0.0/33"]`},
			nil, `appstack:ingressCidrs[0]: "10.0.0.0/33" is not a CIDR block`},
		{"a CIDR with host bits",
			map[string]string{"appstack:ingressCidrs": `["10.1.2.3/8"]`},
			nil, `appstack:ingressCidrs[0]: "10.1.2.3/8" has host bits set (did you mean "10.0.0.0/8"?)`},
		{"no ingress CIDRs: there is no default audience",
			map[string]string{"appstack:ingressCidrs": ""},
			nil, "appstack:ingressCidrs: not set"},
		{"the whole internet needs a stated reason",
			map[string]string{"appstack:ingressCidrs": `["0.0.0.0/0"]`},
			nil, `appstack:ingressCidrs[0]: "0.0.0.0/0" opens the service ports to the whole internet`},
		{"the whole IPv6 internet needs a stated reason",
			map[string]string{"appstack:ingressCidrs": `["::/0"]`},
			nil, `appstack:ingressCidrs[0]: "::/0" opens the service ports to the whole internet`},
		{"a secret referenced but not set",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},` +
				`"secrets":["JWT_SECRET"]}]`},
			nil, "appstack:services[0].secrets[0]: JWT_SECRET is not set in appstack:secrets"},
		{"secrets set without --secret",
			map[string]string{"appstack:secrets": `{"JWT_SECRET":"x"}`},
			nil, "appstack:secrets: must be set with --secret"},
		{"a secret name that is not an environment variable",
			map[string]string{"appstack:secrets": `{"jwt-secret":"x"}`},
			[]string{"appstack:secrets"}, "appstack:secrets.jwt-secret: secret names become environment variables"},
		{"an image not pinned by digest",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"image":"nginx:1.27"}]`},
			nil, `appstack:services[0].image: "nginx:1.27" is not pinned by digest`},
		{"both build and image",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"image":"` + pinned + `",` +
				`"build":{"context":"app"}}]`},
			nil, "appstack:services[0]: set build or image, not both"},
		{"neither build nor image",
			map[string]string{"appstack:services": `[{"name":"web","port":8080}]`},
			nil, "appstack:services[0]: set build (a Dockerfile to build) or image"},
		{"a build context that does not exist",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"build":{"context":"nope"}}]`},
			nil, `appstack:services[0].build.context: "nope" is not a directory in the project`},
		{"a Dockerfile that does not exist",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,` +
				`"build":{"context":"app","dockerfile":"app/Dockerfile.prod"}}]`},
			nil, `appstack:services[0].build.dockerfile: "app/Dockerfile.prod" is not a file in the project`},
		{"an environment value with a line break",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},` +
				`"env":{"GREETING":"a\nb"}}]`},
			nil, "appstack:services[0].env.GREETING: values cannot contain line breaks"},
		{"an environment variable appstack sets",
			map[string]string{"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},` +
				`"env":{"PORT":"1"}}]`},
			nil, "appstack:services[0].env.PORT: PORT is set by appstack"},
		{"an upper-case service name",
			map[string]string{"appstack:services": `[{"name":"Web","port":8080,"build":{"context":"app"}}]`},
			nil, `appstack:services[0].name: "Web": want 1-32 lower-case letters`},
		{"services is not a list",
			map[string]string{"appstack:services": `web`},
			nil, `appstack:services: want a list, got "web"`},
		{"no services",
			map[string]string{"appstack:services": ""},
			nil, "appstack:services: not set; at least one is required"},
		{"a table without a hash key",
			map[string]string{"appstack:tables": `[{"name":"events"}]`},
			nil, "appstack:tables[0].hashKey: not set"},
		{"a table key type that is not S, N or B",
			map[string]string{"appstack:tables": `[{"name":"events","hashKey":"id","hashKeyType":"string"}]`},
			nil, `appstack:tables[0].hashKeyType: "string": want S (string), N (number) or B (binary)`},
		{"a TTL on a key attribute",
			map[string]string{"appstack:tables": `[{"name":"events","hashKey":"id","ttlAttribute":"id"}]`},
			nil, `appstack:tables[0].ttlAttribute: "id" is a key attribute`},
		{"a range key equal to the hash key",
			map[string]string{"appstack:tables": `[{"name":"events","hashKey":"id","rangeKey":"id"}]`},
			nil, `appstack:tables[0].rangeKey: "id" is also the hash key`},
		{"duplicate table names",
			map[string]string{"appstack:tables": `[{"name":"e","hashKey":"id"},{"name":"e","hashKey":"id"}]`},
			nil, `appstack:tables[1].name: "e" is already the name of tables[0]`},
		{"a subnet without its VPC",
			map[string]string{"appstack:subnetId": "subnet-0123456789abcdef0"},
			nil, "appstack:vpcId: vpcId and subnetId go together"},
		{"a log retention CloudWatch does not offer",
			map[string]string{"appstack:logRetentionDays": "10"},
			nil, "appstack:logRetentionDays: 10 is not a CloudWatch Logs retention period"},
		{"a waiver without a reason",
			map[string]string{"appstack:waivers": `[{"rule":"APPSTACK-NET-007"}]`},
			nil, "appstack:waivers[0].reason: a waiver needs a stated reason"},
		{"a misspelled waiver key",
			map[string]string{"appstack:waivers": `[{"rule":"APPSTACK-NET-007","reson":"x"}]`},
			nil, `appstack:waivers[0].reson: unknown key (did you mean "reason"?)`},
		{"an expiry on a stack that is not ephemeral",
			map[string]string{"appstack:expiresAt": "2026-12-01T00:00:00Z"},
			nil, "appstack:expiresAt: only ephemeral stacks expire; this one is staging"},
		{"an expiry that is not a time",
			map[string]string{"appstack:environment": "ephemeral", "appstack:expiresAt": "tomorrow"},
			nil, `appstack:expiresAt: "tomorrow" is not an RFC 3339 time`},
		{"keepImages that is not a number",
			map[string]string{"appstack:keepImages": "ten"},
			nil, `appstack:keepImages: "ten" is not a whole number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(source(t, with(tc.changes), tc.secret...))
			require.Error(t, err)
			found := false
			for _, p := range problems(t, err) {
				found = found || strings.HasPrefix(p, tc.want)
			}
			assert.True(t, found, "want a problem starting %q, got:\n%v", tc.want, err)
		})
	}
}

const pinned = "public.ecr.aws/nginx/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, err := Load(source(t, with(map[string]string{
		"appstack:environment":  "prod",
		"appstack:services":     `[{"name":"web","port":70000,"healthPath":"x","build":{"context":"app"}}]`,
		"appstack:ingressCidrs": `["nope"]`,
	})))
	got := problems(t, err)
	assert.Len(t, got, 4, "environment, port, health path and CIDR: %v", got)
	assert.Contains(t, err.Error(), "invalid stack configuration (4 problem(s))")
}

func TestSecretsAreNamesOnly(t *testing.T) {
	cfg, err := Load(source(t, with(map[string]string{
		"appstack:secrets": `{"JWT_SECRET":"s3cr3t-value","API_KEY":"k"}`,
		"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},"secrets":["JWT_SECRET"]},` +
			`{"name":"api","port":8081,"build":{"context":"app"},"secrets":["API_KEY"]}]`,
	}), "appstack:secrets"))
	require.NoError(t, err)
	assert.Equal(t, []string{"API_KEY", "JWT_SECRET"}, cfg.SecretNames)
	assert.NotContains(t, strings.Join(cfg.SecretNames, ""), "s3cr3t-value")
}

func TestGarbageNeverPanics(t *testing.T) {
	for _, raw := range []string{"", "null", "[", "{}", "[null]", "[1]", `[{"build":null}]`, `[{"env":[]}]`,
		`[{"build":{"args":{"":"x"}}}]`, "[[]]", `"x"`} {
		for _, k := range []string{"appstack:services", "appstack:tables", "appstack:instance",
			"appstack:ingressCidrs", "appstack:secrets"} {
			assert.NotPanics(t, func() {
				_, _ = Load(source(t, with(map[string]string{k: raw + " "}), "appstack:secrets"))
			}, "%s = %q", k, raw)
		}
	}
}

func TestValidateChecksConfigBuiltInCode(t *testing.T) {
	cfg := Defaults(Production)
	cfg.Region = "ap-southeast-1"
	cfg.Services = []Service{{Name: "web", Port: 8080, HealthPath: "/health", ReadyPath: "/ready", Image: pinned}}
	require.EqualError(t, cfg.Validate("."), "invalid stack configuration (1 problem(s)):\n  "+
		"appstack:ingressCidrs: not set: list who may reach the service ports (there is no default)")
	cfg.IngressCidrs = []string{"10.0.0.0/8"}
	require.NoError(t, cfg.Validate("."))
}

func TestAnUnknownKeyHidesNoOtherProblem(t *testing.T) {
	_, err := Load(source(t, with(map[string]string{
		"appstack:services": `[{"name":"a","port":8080,"image":"` + pinned + `"},` +
			`{"name":"b","port":70000,"prot":8080,"helthPath":"/h","readyPath":"ready","image":"nginx:1.27",` +
			`"build":{"contxt":"app"}}]`,
		"appstack:instance": `{"tpye":"t3.small","rootVolumeGiB":4}`,
	})))
	got := problems(t, err)
	for _, want := range []string{
		`appstack:services[1].build.contxt: unknown key (did you mean "context"?)`,
		`appstack:services[1].helthPath: unknown key (did you mean "healthPath"?)`,
		`appstack:services[1].prot: unknown key (did you mean "port"?)`,
		"appstack:services[1].port: 70000 is not a TCP port",
		`appstack:services[1].readyPath: "ready" must start with /`,
		"appstack:services[1]: set build or image, not both",
		`appstack:instance.tpye: unknown key (did you mean "type"?)`,
		"appstack:instance.rootVolumeGiB: 4: want 8 to 16384",
	} {
		assert.True(t, slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, want) }),
			"want a problem starting %q, got:\n%s", want, strings.Join(got, "\n"))
	}
	t.Run("each problem is an error of its own", func(t *testing.T) {
		var joined interface{ Unwrap() []error }
		require.True(t, errors.As(err, &joined))
		assert.Len(t, joined.Unwrap(), len(got))
		assert.EqualError(t, joined.Unwrap()[0], got[0])
	})
}

func TestASecretNoServiceUsesIsAWarning(t *testing.T) {
	cfg, err := Load(source(t, with(map[string]string{
		"appstack:secrets": `{"JWT_SECRET":"x","API_KEY":"y","GHCR_TOKEN":"z"}`,
		"appstack:services": `[{"name":"web","port":8080,"build":{"context":"app"},"secrets":["JWT_SECRET"]},` +
			`{"name":"ui","port":8081,"image":"ghcr.io/o/ui@sha256:` + strings.Repeat("ab", 32) + `",` +
			`"registryAuth":{"username":"o","passwordSecret":"GHCR_TOKEN"}}]`,
	}), "appstack:secrets"))
	require.NoError(t, err, "the deploy still works")
	assert.Equal(t, []string{"appstack:secrets.API_KEY: set, but no service uses it: list it in the secrets of " +
		"the service that needs it (appstack:services[].secrets), or remove it (pulumi config rm --path " +
		"'appstack:secrets.API_KEY')"}, cfg.UnusedSecrets())
}
