//go:build engine

package cloud_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/infra"
	"appstack/internal/e2e"
	"appstack/internal/e2e/cloud"
	"appstack/internal/lifecycle"
	"appstack/internal/offline/offlinetest"
	"appstack/internal/readiness"
)

const bootLine = "boot timeline i-0123456789abcdef0: install=12s pull=8s secret=1s start=2s health=20s total=43s"

// gate answers the hosts' readiness gates as the SSM gate would: ready, or, while failing is set, a failed boot.
type gate struct{ failing atomic.Bool }

func (g *gate) Wait(_ context.Context, req readiness.WaitRequest) error {
	if g.failing.Load() {
		return fmt.Errorf("host %s is not ready: the new host failed its boot at step %q: docker pull web failed "+
			"after 5 attempts. The Elastic IP stays on the previous host", req.InstanceID, "pull")
	}
	return nil
}

// TestTheAdapterDrivesTheRealEngine runs the suite's stack adapter on the real Pulumi CLI, a file backend and
// the stand-in providers: the stack it creates, the configuration it edits, the engine events it turns into a
// timeline, the outputs it reads, the failure it reports and the destroy.
func TestTheAdapterDrivesTheRealEngine(t *testing.T) {
	root := os.Getenv("APPSTACK_PULUMI_ROOT")
	if root == "" {
		root = filepath.Join(offlinetest.Root(), ".tools", "pulumi")
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no Pulumi CLI: .ci/run builds one into .tools/pulumi, or set APPSTACK_PULUMI_ROOT")
		}
		t.Skip("no Pulumi CLI in .tools/pulumi: set APPSTACK_PULUMI_ROOT")
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	require.NoError(t, err)
	work, state := t.TempDir(), t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.staging.yaml"} {
		raw, err := os.ReadFile(filepath.Join(offlinetest.Root(), f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, f), raw, 0o644))
	}
	require.NoError(t, os.CopyFS(filepath.Join(work, "app"), os.DirFS(filepath.Join(offlinetest.Root(), "app"))))
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "pulumi-resource-aws"), "./internal/standin")
	build.Dir = offlinetest.Root()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	raw, err := os.ReadFile(filepath.Join(bin, "pulumi-resource-aws"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "pulumi-resource-docker"), raw, 0o755))

	g := &gate{}
	m := &lifecycle.Manager{
		Dir: work,
		Program: func(ctx *pulumi.Context) error {
			// The deploy prints each gated host's boot timeline as an info diagnostic (ctx.Log.Info).
			if err := ctx.Log.Info(bootLine, nil); err != nil {
				return err
			}
			return infra.Program(readiness.WithWaiter(ctx, g))
		},
		Options: []auto.LocalWorkspaceOption{auto.Pulumi(cmd), auto.PulumiHome(t.TempDir()),
			auto.EnvVars(map[string]string{
				"PULUMI_BACKEND_URL":       "file://" + state,
				"PULUMI_CONFIG_PASSPHRASE": "e2e-engine-test",
				"PULUMI_SKIP_UPDATE_CHECK": "true",
				"APPSTACK_STANDIN_LOG":     filepath.Join(t.TempDir(), "standin.log"),
				"PATH":                     bin + string(os.PathListSeparator) + os.Getenv("PATH"),
			})},
		Progress: &strings.Builder{},
	}
	t.Chdir(work) // the inline program resolves build contexts against the working directory
	ctx := context.Background()
	o, err := e2e.Parse([]string{"-stack", "e2e-engine1", "-region", "eu-west-1"})
	require.NoError(t, err)
	c, err := cloud.New(ctx, m, &strings.Builder{}, o)
	require.NoError(t, err)
	assert.Equal(t, "appstack", c.Project)
	assert.Equal(t, "eu-west-1", c.Region, "-region overrides staging's aws:region")

	st, err := c.Create(ctx, o)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(work, "Pulumi.e2e-engine1.yaml"), "a DIY backend keeps the configuration here")
	_, err = c.Create(ctx, o)
	require.Error(t, err, "a stack that exists is refused")
	assert.Contains(t, err.Error(), "exists already")

	raw2, err := st.Services(ctx)
	require.NoError(t, err)
	v1, err := e2e.ParseServices(raw2)
	require.NoError(t, err)
	assert.Equal(t, "web", v1.First())

	first := &e2e.Timeline{Label: "first", Start: time.Now()}
	out1, err := st.Up(ctx, first.Add)
	require.NoError(t, err)
	assert.NotEmpty(t, out1.InstanceID)
	assert.Contains(t, out1.ImageDigests["web"], "@sha256:")
	_, switched := first.Switch()
	assert.True(t, switched, "the association's create is the first switch")
	boots, malformed := first.Boots()
	assert.Empty(t, malformed)
	require.Len(t, boots, 1, "the boot timeline is read from the engine's diagnostic events")
	assert.Equal(t, bootLine, boots[0].String())

	require.NoError(t, st.SetServices(ctx, v1.WithVersion("2").JSON()))
	second := &e2e.Timeline{Label: "second", Start: time.Now()}
	out2, err := st.Up(ctx, second.Add)
	require.NoError(t, err)
	assert.NotEqual(t, out1.InstanceID, out2.InstanceID, "a changed env makes a new host")
	_, switched = second.Switch()
	assert.True(t, switched, "the association's update is read from the engine's events")
	var ops []string
	for _, e := range second.Events() {
		if e.Type == e2e.InstanceType {
			ops = append(ops, e.Op)
		}
	}
	assert.Contains(t, ops, "create-replacement")

	g.failing.Store(true)
	failed := &e2e.Timeline{Label: "failing", Start: time.Now()}
	_, err = st.Up(ctx, failed.Add)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed its boot at step \"pull\"")
	_, switched = failed.Switch()
	assert.False(t, switched, "a failed gate moves nothing")
	g.failing.Store(false)

	require.NoError(t, st.Destroy(ctx))
	ws, err := auto.NewLocalWorkspace(ctx, append([]auto.LocalWorkspaceOption{auto.WorkDir(work),
		auto.Program(m.Program)}, m.Options...)...)
	require.NoError(t, err)
	list, err := ws.ListStacks(ctx)
	require.NoError(t, err)
	assert.Empty(t, list, "destroyed and removed")
	assert.NoFileExists(t, filepath.Join(work, "Pulumi.e2e-engine1.yaml"), "the stack file goes with the stack")
}
