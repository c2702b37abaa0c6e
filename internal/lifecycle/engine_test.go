//go:build engine

package lifecycle_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/infra"
	"appstack/internal/lifecycle"
	"appstack/internal/offline/offlinetest"
)

const canary = "canary-engine-4d2e-secret"

// pulumiRoot finds a Pulumi CLI as <root>/bin/pulumi: $APPSTACK_PULUMI_ROOT, or .tools/pulumi, where .ci/run
// builds it. Without one the test skips, except in CI.
func pulumiRoot(t *testing.T) string {
	t.Helper()
	for _, root := range []string{os.Getenv("APPSTACK_PULUMI_ROOT"), filepath.Join(offlinetest.Root(), ".tools",
		"pulumi")} {
		if root == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err == nil {
			return root
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Pulumi CLI: .ci/run builds one into .tools/pulumi with ../shared/tools/pulumi-cli/build.sh")
	}
	t.Skip("no Pulumi CLI in .tools/pulumi (../shared/tools/pulumi-cli/build.sh .tools/pulumi/bin)")
	return ""
}

// engine is a project directory, a file backend and the stand-in providers, driven by a lifecycle.Manager.
type engine struct {
	m     *lifecycle.Manager
	work  string
	state string
	log   string
	// registry is the directory of the stand-ins' ECR registry state.
	registry string
}

func newEngine(t *testing.T) *engine {
	root := pulumiRoot(t)
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	require.NoError(t, err)

	e := &engine{work: t.TempDir(), state: t.TempDir(), log: filepath.Join(t.TempDir(), "standin.log"),
		registry: t.TempDir()}
	for _, f := range []string{"Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.production.yaml"} {
		copyFile(t, filepath.Join(offlinetest.Root(), f), filepath.Join(e.work, f))
	}
	require.NoError(t, os.CopyFS(filepath.Join(e.work, "app"), os.DirFS(filepath.Join(offlinetest.Root(), "app"))))

	// The stand-in providers: one binary, installed under both plugin names.
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "pulumi-resource-aws"), "./internal/standin")
	build.Dir = offlinetest.Root()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	copyFile(t, filepath.Join(bin, "pulumi-resource-aws"), filepath.Join(bin, "pulumi-resource-docker"))

	e.m = &lifecycle.Manager{
		Dir: e.work,
		// The program itself, inline; its readiness gate reads through the stand-in provider, which models
		// each host's boot (internal/standin/ssm.go).
		Program: infra.Program,
		Options: []auto.LocalWorkspaceOption{auto.Pulumi(cmd), auto.PulumiHome(t.TempDir()),
			auto.EnvVars(map[string]string{
				"PULUMI_BACKEND_URL":       "file://" + e.state,
				"PULUMI_CONFIG_PASSPHRASE": "engine-test-passphrase",
				"PULUMI_SKIP_UPDATE_CHECK": "true",
				"APPSTACK_STANDIN_LOG":     e.log,
				"APPSTACK_STANDIN_STATE":   e.registry, // the stand-ins' ECR registry
				"APPSTACK_STANDIN_SSM":     filepath.Join(e.state, "standin-ssm.json"),
				"APPSTACK_STANDIN_BOOTS":   filepath.Join(e.state, "standin-boots"),
				"PATH":                     bin + string(os.PathListSeparator) + os.Getenv("PATH"),
			})},
		Progress: testWriter{t},
	}
	// The inline program resolves build contexts against the working directory.
	t.Chdir(e.work)
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, raw, 0o755))
}

// ops runs an up and returns each resource's operation by name (create, same, update, replace, ...).
func (e *engine) up(t *testing.T, ctx context.Context, stack string) (auto.UpResult, map[string][]string) {
	t.Helper()
	ch := make(chan events.EngineEvent)
	ops := map[string][]string{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.ResourcePreEvent != nil {
				md := ev.ResourcePreEvent.Metadata
				name := md.URN[strings.LastIndex(md.URN, "::")+2:]
				ops[name] = append(ops[name], string(md.Op))
			}
		}
	}()
	res, err := e.m.Up(ctx, stack, optup.EventStreams(ch))
	<-done
	require.NoError(t, err)
	return res, ops
}

func (e *engine) calls(t *testing.T) []map[string]string {
	t.Helper()
	f, err := os.Open(e.log)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c map[string]string
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		out = append(out, c)
	}
	return out
}

func (e *engine) stackNames(t *testing.T, ctx context.Context) []string {
	t.Helper()
	ws, err := auto.NewLocalWorkspace(ctx, append([]auto.LocalWorkspaceOption{auto.WorkDir(e.work),
		auto.Program(e.m.Program)}, e.m.Options...)...)
	require.NoError(t, err)
	list, err := ws.ListStacks(ctx)
	require.NoError(t, err)
	var names []string
	for _, s := range list {
		names = append(names, s.Name[strings.LastIndex(s.Name, "/")+1:])
	}
	slices.Sort(names)
	return names
}

func TestStackLifecycleOnTheRealEngine(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()

	// staging exists in the backend, with a secret set the way the README says.
	staging, err := e.m.Stack(ctx, "staging")
	require.NoError(t, err)
	require.NoError(t, staging.SetConfigWithOptions(ctx, "appstack:secrets.CANARY",
		auto.ConfigValue{Value: canary, Secret: true}, &auto.ConfigOptions{Path: true}))

	t.Run("stackctl creates pr-7 from staging's committed config and ups it", func(t *testing.T) {
		st, err := e.m.CreateReview(ctx, 7, "staging", 72*time.Hour)
		require.NoError(t, err)
		cfg, err := st.GetAllConfig(ctx)
		require.NoError(t, err)
		assert.Equal(t, "ephemeral", cfg["appstack:environment"].Value)
		assert.Equal(t, "8080", gjson(t, cfg["appstack:services"].Value, 0, "port"))
		assert.True(t, cfg["appstack:secrets"].Secret, "the copied secret stays a secret")
		_, err = time.Parse(time.RFC3339, cfg["appstack:expiresAt"].Value)
		assert.NoError(t, err)

		res, ops := e.up(t, ctx, "pr-7")
		assert.Contains(t, res.Outputs["serviceUrls"].Value, "web")
		assert.Equal(t, []string{"create"}, ops["app-host-instance"])
		assert.Equal(t, []string{"create"}, ops["app-events-table"])
	})

	t.Run("a changed digest replaces only the host and what follows it", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(e.work, "app", "main.go"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("\n// a change to the sample service\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())

		_, ops := e.up(t, ctx, "pr-7")
		replaced := map[string]bool{}
		for name, list := range ops {
			if slices.Contains(list, "replace") {
				replaced[name] = true
			}
		}
		assert.Equal(t, map[string]bool{"app-host-instance": true, "app-host-eip-assoc": true}, replaced,
			"ops: %v", ops)
		assert.Equal(t, []string{"update"}, ops["app-web-image"], "pulumi-docker updates in place, and pushes")
		for _, name := range []string{"app-host-eip", "app-events-table", "app-web-repo", "app-secrets-key",
			"app-network-sg", "app-identity-role"} {
			assert.Equal(t, []string{"same"}, ops[name], name)
		}
		var deleted []string
		for _, c := range e.calls(t) {
			if c["op"] == "delete" {
				deleted = append(deleted, c["name"])
			}
		}
		assert.ElementsMatch(t, []string{"app-host-instance", "app-host-eip-assoc"}, deleted,
			"the old host goes only after the new one took the address")
	})

	t.Run("a production destroy is refused by protect", func(t *testing.T) {
		prod, err := e.m.Stack(ctx, "production")
		require.NoError(t, err)
		e.up(t, ctx, "production")
		_, err = prod.Destroy(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "protect")
		assert.ErrorIs(t, e.m.Destroy(ctx, "production"), lifecycle.ErrNotEphemeral)
	})

	t.Run("the ephemeral destroy and remove leaves no stack behind", func(t *testing.T) {
		require.NoError(t, e.m.Destroy(ctx, "pr-7"))
		assert.NotContains(t, e.stackNames(t, ctx), "pr-7")
	})

	t.Run("the canary secret is never in plain text in the backend or the project", func(t *testing.T) {
		for _, dir := range []string{e.state, e.work} {
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				raw, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				assert.NotContains(t, string(raw), canary, path)
				return nil
			})
			require.NoError(t, err)
		}
	})

	t.Run("the reaper removes only expired or closed ephemeral stacks", func(t *testing.T) {
		_, err := e.m.CreateReview(ctx, 8, "staging", -time.Hour)
		require.NoError(t, err)
		_, err = e.m.CreateReview(ctx, 9, "staging", 72*time.Hour)
		require.NoError(t, err)
		_, err = e.m.CreateReview(ctx, 10, "staging", 72*time.Hour)
		require.NoError(t, err)

		reaped, err := e.m.Reap(ctx, []int{10})
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"pr-8", "pr-10"}, reaped)
		assert.Equal(t, []string{"pr-9", "production", "staging"}, e.stackNames(t, ctx))
	})
}

// gjson reads field of element i of a JSON list.
func gjson(t *testing.T, raw string, i int, field string) string {
	t.Helper()
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &list))
	require.Greater(t, len(list), i)
	v, ok := list[i][field]
	if !ok {
		require.NoError(t, errors.New("no field "+field))
	}
	b, _ := json.Marshal(v)
	return string(b)
}
