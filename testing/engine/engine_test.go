//go:build engine

package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/internal/lifecycle"
	"appstack/testing/offlinetest"
	"appstack/testing/standin/asgapi"
	"appstack/testing/standin/elbapi"
	"appstack/testing/standin/kmsapi"
	"appstack/testing/standin/ssmstore"
)

const canary = "canary-engine-4d2e-secret"

// pulumiRoot finds a Pulumi CLI and its Go language host as <root>/bin/pulumi and <root>/bin/pulumi-language-go:
// $APPSTACK_PULUMI_ROOT, or .tools/pulumi, where .ci/run builds them. Without them the test skips, except in CI.
func pulumiRoot(t *testing.T) string {
	t.Helper()
	for _, root := range []string{os.Getenv("APPSTACK_PULUMI_ROOT"), filepath.Join(offlinetest.Root(), ".tools",
		"pulumi")} {
		if root == "" {
			continue
		}
		_, cli := os.Stat(filepath.Join(root, "bin", "pulumi"))
		_, host := os.Stat(filepath.Join(root, "bin", "pulumi-language-go"))
		if cli == nil && host == nil {
			return root
		}
	}
	const how = "make pulumi-cli (tools/pulumi-cli/build.sh: about 6 minutes cold), or set APPSTACK_PULUMI_ROOT"
	if os.Getenv("CI") != "" {
		t.Fatal("no Pulumi CLI and Go language host in $APPSTACK_PULUMI_ROOT/bin or .tools/pulumi/bin: " + how)
	}
	t.Skip("no Pulumi CLI and Go language host in $APPSTACK_PULUMI_ROOT/bin or .tools/pulumi/bin: " + how)
	return ""
}

// binaries is the directory of the stand-in provider (under both plugin names) and the program, built once for
// every test of the package, as a job builds bin/appstack once for all its steps: the tests change the stacks
// and the sample service, never the program or the stand-in.
var binaries struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		_ = os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// buildBinaries builds the stand-in provider and the program, once, and returns their directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	binaries.once.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp("", "appstack-engine-bin-")
		if err != nil {
			binaries.err = err
			return
		}
		binaries.dir = dir
		// One go build of both main packages, so that the two links run side by side.
		build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./testing/standin", ".")
		build.Dir = offlinetest.Root()
		if out, err := build.CombinedOutput(); err != nil {
			binaries.err = fmt.Errorf("go build ./testing/standin .: %w\n%s", err, out)
			return
		}
		for _, plugin := range []string{"pulumi-resource-aws", "pulumi-resource-docker"} {
			if err := os.Link(filepath.Join(dir, "standin"), filepath.Join(dir, plugin)); err != nil {
				binaries.err = err
				return
			}
		}
		t.Logf("built the stand-in provider and the program in %s", time.Since(start).Round(time.Second))
	})
	require.NoError(t, binaries.err)
	return binaries.dir
}

// engine is a repository (the committed files), a file backend, a KMS stand-in and the stand-in providers. Each
// lifecycle step runs as a fresh runner does (fresh): a fresh clone of the repository and a fresh PULUMI_HOME,
// nothing kept from the last step but the backend. e.m is the current runner's Manager.
type engine struct {
	m     *lifecycle.Manager
	repo  string
	work  string
	state string
	log   string
	kms   *kmsapi.Server
	// kmsEndpoint is the KMS stand-in's address, which the CLI reaches through AWS_ENDPOINT_URL_KMS.
	kmsEndpoint string
	// kmsURL is the stacks' secrets provider, the way the workflows pass -secrets-provider.
	kmsURL string
	cmd    auto.PulumiCommand
	bin    string
	// program is the prebuilt program binary every runner reuses.
	program string
	// registry is the directory of the stand-ins' ECR registry state.
	registry string
	// asg is the Auto Scaling API stand-in, over the fleet the stand-in provider keeps (fleet): the rollout
	// controller reaches it through AWS_ENDPOINT_URL_AUTO_SCALING.
	asg    *asgapi.Server
	asgURL string
	// elbURL is the Elastic Load Balancing stand-in (DescribeTargetHealth) over the front door the stand-in
	// provider keeps (elbFile): a single host's deploy reaches it through AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2.
	elbURL string
	// ssmURL is the SSM stand-in (GetParametersByPath, DeleteParameters) over the stand-ins' parameter store: a
	// fleet's deploy reaches it through AWS_ENDPOINT_URL_SSM.
	ssmURL string
	// env is added to every runner's environment (newEngine).
	env map[string]string
}

// secretsKeyAlias is the alias of the key behind the stacks' secrets provider, in the KMS stand-in.
const secretsKeyAlias = "alias/appstack-secrets"

// newEngine starts an engine; env ("KEY=value") is added to every runner's environment, and so reaches the CLI,
// the program and the stand-in providers.
func newEngine(t *testing.T, env ...string) *engine {
	root := pulumiRoot(t)
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	require.NoError(t, err)

	e := &engine{repo: t.TempDir(), state: t.TempDir(), log: filepath.Join(t.TempDir(), "standin.log"), cmd: cmd,
		registry: t.TempDir(), env: map[string]string{}}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		require.True(t, ok, "newEngine: %q is not KEY=value", kv)
		e.env[k] = v
	}
	// The repository: the committed files as a clone has them.
	ls := exec.Command("git", "ls-files", "-z")
	ls.Dir = offlinetest.Root()
	out, err := ls.Output()
	require.NoError(t, err)
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(offlinetest.Root(), f)); err != nil {
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(e.repo, f)), 0o755))
		copyFile(t, filepath.Join(offlinetest.Root(), f), filepath.Join(e.repo, f))
	}
	// The documented stacks (examples/frontdoor, examples/fleet) at the project's root, as a user copies one there
	// to deploy it: their build contexts name the sample app, app/.
	for stack := range offlinetest.Documented {
		file := "Pulumi." + stack + ".yaml"
		copyFile(t, offlinetest.StackFilePath(stack), filepath.Join(e.repo, file))
	}

	// The stand-in providers (one binary, installed under both plugin names) and the program, as a job builds
	// bin/appstack; every step runs it through the Go language host (runtime go, runtime.options.binary), as
	// stackctl -binary does in the workflows.
	e.bin = buildBinaries(t)
	e.program = filepath.Join(e.bin, "appstack")

	// The KMS stand-in (testing/standin/kmsapi) holds the key behind the stacks' secrets provider.
	e.kms = &kmsapi.Server{Aliases: []string{secretsKeyAlias}}
	kms := httptest.NewServer(e.kms)
	t.Cleanup(kms.Close)
	e.kmsEndpoint = kms.URL
	e.asg = &asgapi.Server{Store: &asgapi.Store{File: e.fleetFile(), Boot: &ssmstore.Store{
		File: filepath.Join(e.state, "standin-ssm.json"), Boots: filepath.Join(e.state, "standin-boots")}}}
	asg := httptest.NewServer(e.asg)
	t.Cleanup(asg.Close)
	e.asgURL = asg.URL
	// The front door answers for the hosts the fleet registers in its target groups too.
	elb := httptest.NewServer(&elbapi.Server{Store: &elbapi.Store{File: e.elbFile()}, Fleet: e.asg.Store})
	t.Cleanup(elb.Close)
	e.elbURL = elb.URL
	// A fleet's deploy lists and prunes its hosts' readiness signals in the parameter store the stand-ins share.
	ssmSrv := httptest.NewServer(&ssmstore.Server{Store: &ssmstore.Store{File: filepath.Join(e.state,
		"standin-ssm.json")}})
	t.Cleanup(ssmSrv.Close)
	e.ssmURL = ssmSrv.URL
	// The CLI's awskms provider is gocloud.dev v0.37.0 secrets/awskms. With awssdk=v2 it loads an aws-sdk-go-v2
	// config (config v1.27.11), which honours AWS_ENDPOINT_URL_KMS (env_config.go; service/kms v1.30.1
	// resolveBaseEndpoint), so the stack's URL names no test endpoint. The default SDK v1 (aws-sdk-go v1.50.36)
	// does not read that variable; there the URL's endpoint= parameter (gocloud aws.ConfigFromURLParams) works.
	e.kmsURL = "awskms://" + secretsKeyAlias + "?region=ap-southeast-1&awssdk=v2"
	e.fresh(t)
	return e
}

// fresh starts a new runner: a fresh clone of the repository, a fresh PULUMI_HOME and a Manager on them, with the
// environment a workflow job has (the backend URL, AWS credentials for the key), and no passphrase.
func (e *engine) fresh(t *testing.T) *lifecycle.Manager {
	t.Helper()
	e.work = t.TempDir()
	require.NoError(t, os.CopyFS(e.work, os.DirFS(e.repo)))
	env := map[string]string{
		"PULUMI_BACKEND_URL":        "file://" + e.state,
		"PULUMI_SKIP_UPDATE_CHECK":  "true",
		"AWS_ACCESS_KEY_ID":         "AKIAENGINETEST000000",
		"AWS_SECRET_ACCESS_KEY":     "engine-test-secret-key",
		"AWS_REGION":                "ap-southeast-1",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_KMS":      e.kmsEndpoint,
		"APPSTACK_STANDIN_LOG":      e.log,
		"APPSTACK_STANDIN_STATE":    e.registry, // the stand-ins' ECR registry
		"APPSTACK_STANDIN_SSM":      filepath.Join(e.state, "standin-ssm.json"),
		"APPSTACK_STANDIN_BOOTS":    filepath.Join(e.state, "standin-boots"),
		"APPSTACK_STANDIN_FLEET":    e.fleetFile(),
		// The rollout controller's Auto Scaling client (aws-sdk-go-v2) honours the SDKs' per-service
		// endpoint variable.
		"AWS_ENDPOINT_URL_AUTO_SCALING": e.asgURL,
		// The single host's target health wait (DescribeTargetHealth) reaches the front door the stand-in keeps.
		"APPSTACK_STANDIN_ELB":                       e.elbFile(),
		"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2": e.elbURL,
		"AWS_ENDPOINT_URL_SSM":                       e.ssmURL,
		"PATH":                                       e.bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	maps.Copy(env, e.env)
	m := &lifecycle.Manager{
		Dir: e.work,
		// The program as the workflows run it: the prebuilt binary through the Go language host. Its
		// readiness gate reads through the stand-in provider, which models each host's boot
		// (testing/standin/ssm.go).
		Binary: e.program,
		Options: []auto.LocalWorkspaceOption{auto.Pulumi(e.cmd), auto.PulumiHome(t.TempDir()),
			auto.SecretsProvider(e.kmsURL),
			auto.EnvVars(env)},
		Progress: testWriter{t},
		// The stand-in's parameter store stands for SSM, where the modelled hosts wrote their signals.
		Parameters: e.parameters(),
		// No stand-in models IAM: the reaper's role clean-up is tested on its own (identities_test.go).
		Identities: noIdentities{},
	}
	e.m = m
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// commit copies a file of the current runner's project (where the CLI wrote it) into the repository, as a
// maintainer commits it.
func (e *engine) commit(t *testing.T, file string) {
	t.Helper()
	dir, err := e.m.ProjectDir()
	require.NoError(t, err)
	copyFile(t, filepath.Join(dir, file), filepath.Join(e.repo, file))
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

// up runs an up and returns each resource's operations by name (create, same, update, replace, ...).
func (e *engine) up(t *testing.T, ctx context.Context, stack string) (auto.UpResult, map[string][]string) {
	t.Helper()
	ch, ops, done := collectOps()
	res, err := e.m.Up(ctx, stack, optup.EventStreams(ch))
	<-done
	require.NoError(t, err)
	return res, ops
}

// collectOps returns an event stream for an operation and the map it fills, by resource name, with the
// operations the engine announces; done closes once the engine has closed the stream.
func collectOps() (ch chan events.EngineEvent, ops map[string][]string, done <-chan struct{}) {
	ch, ops = make(chan events.EngineEvent), map[string][]string{}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for ev := range ch {
			if ev.ResourcePreEvent != nil {
				md := ev.ResourcePreEvent.Metadata
				name := md.URN[strings.LastIndex(md.URN, "::")+2:]
				ops[name] = append(ops[name], string(md.Op))
			}
		}
	}()
	return ch, ops, closed
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
	t.Parallel()
	e := newEngine(t)
	ctx := context.Background()
	pulumiYAML, err := os.ReadFile(filepath.Join(e.repo, "Pulumi.yaml"))
	require.NoError(t, err)

	// staging exists in the backend with the KMS secrets provider, and a secret set the way the README says;
	// the maintainer commits both lines the CLI wrote (secretsprovider:, encryptedkey:).
	staging, err := e.m.Stack(ctx, "staging")
	require.NoError(t, err)
	require.NoError(t, staging.SetConfigWithOptions(ctx, "appstack:secrets.CANARY",
		auto.ConfigValue{Value: canary, Secret: true}, &auto.ConfigOptions{Path: true}))
	e.commit(t, "Pulumi.staging.yaml")
	raw, err := os.ReadFile(filepath.Join(e.repo, "Pulumi.staging.yaml"))
	require.NoError(t, err)
	require.NoError(t, lifecycle.CheckStackFile("Pulumi.staging.yaml", raw), "%s", raw)
	require.Contains(t, string(raw), "encryptedkey:")

	var before auto.OutputMap
	t.Run("a fresh runner creates pr-7 from staging's committed config and ups it", func(t *testing.T) {
		m := e.fresh(t)
		st, err := m.CreateReview(ctx, 7, "staging", 72*time.Hour)
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
		assert.Equal(t, "ephemeral", res.Outputs["environment"].Value)
		assert.Equal(t, []string{"create"}, ops["app-host-instance"])
		assert.Equal(t, []string{"create"}, ops["app-events-table"])
		before = res.Outputs
		assert.Positive(t, e.kms.Calls("Decrypt", secretsKeyAlias), "the data key is decrypted by the key service")
	})

	t.Run("the next push, on a fresh runner with no passphrase, replaces only the host and what follows it", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(e.repo, "app", "main.go"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("\n// a change to the sample service\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())

		m := e.fresh(t)
		_, err = m.CreateReview(ctx, 7, "staging", 72*time.Hour)
		require.NoError(t, err)
		_, ops := e.up(t, ctx, "pr-7")
		replaced := map[string]bool{}
		for name, list := range ops {
			if slices.Contains(list, "replace") {
				replaced[name] = true
			}
		}
		assert.Equal(t, map[string]bool{"app-host-instance": true, "app-host-eip-assoc": true}, replaced,
			"ops: %v", ops)
		assert.Equal(t, []string{"update"}, ops["app-web-image-image"], "pulumi-docker updates in place, and pushes")
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
		after, err := os.ReadFile(filepath.Join(e.work, "Pulumi.yaml"))
		require.NoError(t, err)
		assert.Equal(t, string(pulumiYAML), string(after), "-binary leaves the checkout's Pulumi.yaml as committed")
	})

	t.Run("outputs recorded before an up, and a rollback to them", func(t *testing.T) {
		m := e.fresh(t)
		file := filepath.Join(t.TempDir(), "last-good.json")
		require.NoError(t, lifecycle.WriteOutputs(file, before))
		current, err := m.Outputs(ctx, "pr-7")
		require.NoError(t, err)
		assert.NotEqual(t, before["imageDigests"].Value, current["imageDigests"].Value)

		_, err = m.CreateReview(ctx, 7, "staging", 72*time.Hour)
		require.NoError(t, err)
		res, err := m.Rollback(ctx, "pr-7", file)
		require.NoError(t, err)
		assert.Equal(t, before["imageDigests"].Value, res.Outputs["imageDigests"].Value)
		committed, err := os.ReadFile(filepath.Join(e.work, "Pulumi.staging.yaml"))
		require.NoError(t, err)
		assert.NotContains(t, string(committed), "sha256:", "the rollback pins images in the runner's copy only")
	})

	t.Run("drift: a refresh preview of an unchanged stack finds none", func(t *testing.T) {
		m := e.fresh(t)
		_, err := m.CreateReview(ctx, 7, "staging", 72*time.Hour)
		require.NoError(t, err)
		require.NoError(t, m.Drift(ctx, "pr-7", filepath.Join(t.TempDir(), "drift.txt")))
	})

	t.Run("a production destroy is refused by protect", func(t *testing.T) {
		m := e.fresh(t)
		prod, err := m.Stack(ctx, "production")
		require.NoError(t, err)
		e.up(t, ctx, "production")
		_, err = prod.Destroy(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "protect")
		assert.ErrorIs(t, e.fresh(t).Destroy(ctx, "production"), lifecycle.ErrNotEphemeral)
	})

	t.Run("a cancelled job's lock is released only when old enough", func(t *testing.T) {
		dir := filepath.Join(e.state, ".pulumi", "locks", "organization", "appstack", "production")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		lock := func(at time.Time) {
			raw, err := json.Marshal(map[string]any{"pid": 4242, "username": "runner", "hostname": "gha-1",
				"timestamp": at})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "cancelled-job.json"), raw, 0o600))
		}
		lock(time.Now().Add(-5 * time.Minute))
		m := e.fresh(t)
		_, err := m.Up(ctx, "production")
		require.ErrorContains(t, err, "locked")

		_, err = e.fresh(t).Unlock(ctx, "production", time.Hour, false)
		require.ErrorIs(t, err, lifecycle.ErrLockTooYoung)
		assert.FileExists(t, filepath.Join(dir, "cancelled-job.json"))

		lock(time.Now().Add(-2 * time.Hour))
		released, err := e.fresh(t).Unlock(ctx, "production", time.Hour, false)
		require.NoError(t, err)
		require.Len(t, released, 1)
		assert.Equal(t, "runner", released[0].Username)
		assert.Equal(t, "gha-1", released[0].Hostname)
		assert.NoFileExists(t, filepath.Join(dir, "cancelled-job.json"))
		_, err = e.fresh(t).Up(ctx, "production")
		require.NoError(t, err)
	})

	t.Run("a fresh runner destroys and removes pr-7, recognised as ephemeral from its deployment", func(t *testing.T) {
		require.NotEmpty(t, e.parameters().Under(t,
			"/appstack/pr-7/"), "pr-7's hosts wrote readiness signals")
		require.NoError(t, e.fresh(t).Destroy(ctx, "pr-7"))
		assert.NotContains(t, e.stackNames(t, ctx), "pr-7")
		assert.Empty(t, e.parameters().Under(t, "/appstack/pr-7/"),
			"the hosts' signals go with the stack")
		assert.NotEmpty(t, e.parameters().Under(t,
			"/appstack/production/"), "another stack's signals stay")
	})

	t.Run("the canary secret is never in plain text in the backend or the project", func(t *testing.T) {
		st, err := e.fresh(t).Stack(ctx, "staging")
		require.NoError(t, err)
		cfg, err := st.GetAllConfig(ctx)
		require.NoError(t, err)
		assert.Contains(t, cfg["appstack:secrets"].Value, canary, "a fresh runner decrypts the committed secret")
		for _, dir := range []string{e.state, e.repo, e.work} {
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				// The backend's files, and the stack files (this test's own source holds the canary).
				if dir != e.state && !strings.HasPrefix(d.Name(), "Pulumi.") {
					return nil
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

	t.Run("a decrypt failure is reported as what it is", func(t *testing.T) {
		m := e.fresh(t)
		path := filepath.Join(e.work, "Pulumi.staging.yaml")
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var kept []string
		for _, line := range strings.Split(string(raw), "\n") {
			if !strings.HasPrefix(line, "encryptedkey:") {
				kept = append(kept, line)
			}
		}
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o600))
		_, err = m.CreateReview(ctx, 12, "staging", time.Hour)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "cannot decrypt appstack:secrets of staging with its secrets provider awskms://")
		assert.Contains(t, err.Error(), "commit encryptedkey")
		assert.NotContains(t, err.Error(), "neither in the backend nor committed")
	})

	t.Run("the reaper removes only expired or closed ephemeral stacks, and names one it cannot read", func(t *testing.T) {
		for _, pr := range []struct {
			n   int
			ttl time.Duration
		}{{8, -time.Hour}, {9, 72 * time.Hour}, {10, 72 * time.Hour}} {
			m := e.fresh(t)
			_, err := m.CreateReview(ctx, pr.n, "staging", pr.ttl)
			require.NoError(t, err)
			_, err = m.Up(ctx, lifecycle.ReviewName(pr.n))
			require.NoError(t, err)
		}
		// pr-11's stack exists, but its job was cancelled before its first up: nothing says what it is.
		_, err := e.fresh(t).Stack(ctx, "pr-11")
		require.NoError(t, err)

		reaped, err := e.fresh(t).Reap(ctx, []int{10})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "stack pr-11: cannot tell its environment")
		assert.ElementsMatch(t, []string{"pr-8", "pr-10"}, reaped)
		assert.Equal(t, []string{"pr-11", "pr-9", "production", "staging"}, e.stackNames(t, ctx))

		// The next review of pr-11 starts it afresh.
		_, err = e.fresh(t).CreateReview(ctx, 11, "staging", time.Hour)
		require.NoError(t, err)
	})
}

func TestPolicyPackOnTheRealEngine(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := context.Background()
	t.Run("a waived finding passes", func(t *testing.T) {
		m := e.fresh(t)
		m.PolicyPacks = []string{filepath.Join(e.work, "policypack")}
		require.NoError(t, m.Preview(ctx, "staging", filepath.Join(t.TempDir(), "preview.txt")))
	})
	t.Run("an unwaived finding fails the preview", func(t *testing.T) {
		m := e.fresh(t)
		m.PolicyPacks = []string{filepath.Join(e.work, "policypack")}
		path := filepath.Join(e.work, "Pulumi.staging.yaml")
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		// Drop the EC2-010 waiver (a medium rule, advisory) and make the rule mandatory in the pack's config.
		text := strings.Replace(string(raw), "    - rule: APPSTACK-EC2-010\n", "", 1)
		text = strings.Replace(text, "      reason: the host serves the public on its Elastic IP and reaches AWS APIs "+
			"without a NAT gateway\n", "", 1)
		require.NotEqual(t, string(raw), text)
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		packConfig := filepath.Join(t.TempDir(), "policy-config.json")
		require.NoError(t, os.WriteFile(packConfig, []byte(`{"appstack-ec2-010": "mandatory"}`), 0o600))
		out := filepath.Join(t.TempDir(), "preview.txt")
		err = m.Preview(ctx, "staging", out, optpreview.PolicyPackConfigs(packConfig))
		require.Error(t, err)
		assert.Contains(t, err.Error()+readString(t, out), "APPSTACK-EC2-010")
	})
}

func readString(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(raw)
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

// fleetFile is the stand-ins' fleet: launch templates, groups, instance refreshes and their events.
func (e *engine) fleetFile() string { return filepath.Join(e.state, "standin-fleet.json") }

// elbFile is the stand-ins' front door: listener rules, target groups and registered targets.
func (e *engine) elbFile() string { return filepath.Join(e.state, "standin-elb.json") }

// parameters is the stand-in's parameter store of this engine's backend.
func (e *engine) parameters() offlinetest.StandinParameters {
	return offlinetest.StandinParameters{File: filepath.Join(e.state, "standin-ssm.json"), Region: "ap-southeast-1"}
}

// noIdentities is an account with no roles under /appstack/.
type noIdentities struct{}

func (noIdentities) List(context.Context) ([]lifecycle.HostIdentity, error) { return nil, nil }
func (noIdentities) Delete(context.Context, lifecycle.HostIdentity) error   { return nil }
