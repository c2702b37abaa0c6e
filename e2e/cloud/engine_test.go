//go:build engine

package cloud_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/e2e"
	"appstack/e2e/cloud"
	"appstack/infra"
	"appstack/internal/lifecycle"
	"appstack/testing/offlinetest"
)

// boots are the stand-in's outcomes for the hosts this test creates, in order: two good boots, then one that
// fails at pull (the readiness gate reads them through the provider, as it reads SSM on a real account).
const boots = "ready\nready\nfailed pull docker pull web failed after 5 attempts\n"

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
			t.Fatal("no Pulumi CLI in $APPSTACK_PULUMI_ROOT/bin or .tools/pulumi/bin: make pulumi-cli builds one there")
		}
		t.Skip("no Pulumi CLI in $APPSTACK_PULUMI_ROOT/bin or .tools/pulumi/bin: make pulumi-cli " +
			"(tools/pulumi-cli/build.sh: about 6 minutes cold), or set APPSTACK_PULUMI_ROOT")
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
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "pulumi-resource-aws"), "./testing/standin")
	build.Dir = offlinetest.Root()
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	raw, err := os.ReadFile(filepath.Join(bin, "pulumi-resource-aws"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "pulumi-resource-docker"), raw, 0o755))

	ssmFile := filepath.Join(t.TempDir(), "ssm.json")
	bootsFile := filepath.Join(t.TempDir(), "boots")
	require.NoError(t, os.WriteFile(bootsFile, []byte(boots), 0o600))
	m := &lifecycle.Manager{
		Dir:     work,
		Program: infra.Program,
		Options: []auto.LocalWorkspaceOption{auto.Pulumi(cmd), auto.PulumiHome(t.TempDir()),
			auto.EnvVars(map[string]string{
				"PULUMI_BACKEND_URL":       "file://" + state,
				"PULUMI_CONFIG_PASSPHRASE": "e2e-engine-test",
				"PULUMI_SKIP_UPDATE_CHECK": "true",
				"APPSTACK_STANDIN_LOG":     filepath.Join(t.TempDir(), "standin.log"),
				"APPSTACK_STANDIN_STATE":   t.TempDir(), // the stand-ins' ECR registry
				"APPSTACK_STANDIN_SSM":     ssmFile,
				"APPSTACK_STANDIN_BOOTS":   bootsFile,
				"PATH":                     bin + string(os.PathListSeparator) + os.Getenv("PATH"),
			})},
		Progress: &strings.Builder{},
		// The stand-in's parameter store stands for SSM, where the modelled hosts wrote their signals.
		Parameters: offlinetest.StandinParameters{File: ssmFile, Region: "eu-west-1"},
	}
	t.Chdir(work) // the inline program resolves build contexts against the working directory
	ctx := context.Background()
	o, err := e2e.Parse([]string{"-stack", "pr-e2e-engine1", "-region", "eu-west-1"})
	require.NoError(t, err)
	c, err := cloud.New(ctx, m, &strings.Builder{}, o)
	require.NoError(t, err)
	assert.Equal(t, "appstack", c.Project)
	assert.Equal(t, "eu-west-1", c.Region, "-region overrides staging's aws:region")

	st, err := c.Create(ctx, o)
	require.NoError(t, err)
	// The Manager works in a copy of the project (it never edits the checkout); the stack file is the copy's.
	dir, err := m.ProjectDir()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	assert.FileExists(t, filepath.Join(dir, "Pulumi.pr-e2e-engine1.yaml"), "a DIY backend keeps the configuration here")
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
	booted, malformed := first.Boots()
	assert.Empty(t, malformed)
	require.Len(t, booted, 1, "the gate's boot timeline is read from the engine's diagnostic events")
	assert.Equal(t, "boot timeline "+out1.InstanceID+": install=12s pull=8s secret=1s start=2s health=20s total=43s",
		booted[0].String())

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

	require.NoError(t, st.SetServices(ctx, v1.WithVersion("3").JSON()))
	failed := &e2e.Timeline{Label: "failing", Start: time.Now()}
	_, err = st.Up(ctx, failed.Add)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed its boot at step \"pull\"")
	_, switched = failed.Switch()
	assert.False(t, switched, "a failed gate moves nothing")

	require.NoError(t, st.Destroy(ctx))
	assert.Empty(t, offlinetest.StandinParameters{File: ssmFile}.Under(t, "/appstack/pr-e2e-engine1/"),
		"the destroy deletes the readiness signals the hosts wrote")
	ws, err := auto.NewLocalWorkspace(ctx, append([]auto.LocalWorkspaceOption{auto.WorkDir(work),
		auto.Program(m.Program)}, m.Options...)...)
	require.NoError(t, err)
	list, err := ws.ListStacks(ctx)
	require.NoError(t, err)
	assert.Empty(t, list, "destroyed and removed")
	assert.NoFileExists(t, filepath.Join(dir, "Pulumi.pr-e2e-engine1.yaml"), "the stack file goes with the stack")
}
