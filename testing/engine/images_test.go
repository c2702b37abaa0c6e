//go:build engine

package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"appstack/testing/offlinetest"
)

// pushes counts the images the docker stand-in pushed (to its ECR-like registry, which refuses an existing
// tag of an IMMUTABLE repository).
func (e *engine) pushes(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat(e.log); os.IsNotExist(err) {
		return 0 // no call logged yet
	}
	n := 0
	for _, c := range e.calls(t) {
		if c["op"] == "push" {
			n++
		}
	}
	return n
}

// deleted reports whether the stand-ins deleted a resource of this name.
func (e *engine) deleted(t *testing.T, name string) bool {
	t.Helper()
	if e.pushes(t) == 0 {
		return false
	}
	for _, c := range e.calls(t) {
		if c["op"] == "delete" && c["name"] == name {
			return true
		}
	}
	return false
}

// webDigest is the image reference the host runs, from the imageDigests output.
func webDigest(t *testing.T, res auto.UpResult) string {
	t.Helper()
	m, ok := res.Outputs["imageDigests"].Value.(map[string]any)
	require.True(t, ok, "imageDigests: %v", res.Outputs["imageDigests"])
	return m["web"].(string)
}

// stateOf returns the inputs of the stack's resources of one type, from the backend's deployment.
func stateOf(t *testing.T, ctx context.Context, st auto.Stack, typ string) []map[string]any {
	t.Helper()
	dep, err := st.Export(ctx)
	require.NoError(t, err)
	var d struct {
		Resources []struct {
			Type   string         `json:"type"`
			Inputs map[string]any `json:"inputs"`
		} `json:"resources"`
	}
	require.NoError(t, json.Unmarshal(dep.Deployment, &d))
	var out []map[string]any
	for _, r := range d.Resources {
		if r.Type == typ {
			out = append(out, r.Inputs)
		}
	}
	return out
}

// hostGrants returns the host role's inline policy statements by Sid.
func hostGrants(t *testing.T, ctx context.Context, st auto.Stack) map[string]struct {
	Action, Resource []string
} {
	t.Helper()
	policies := stateOf(t, ctx, st, "aws:iam/rolePolicy:RolePolicy")
	require.Len(t, policies, 1)
	var doc struct {
		Statement []struct {
			Sid              string
			Action, Resource []string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(policies[0]["policy"].(string)), &doc))
	out := map[string]struct{ Action, Resource []string }{}
	for _, s := range doc.Statement {
		out[s.Sid] = struct{ Action, Resource []string }{s.Action, s.Resource}
	}
	return out
}

func userData(t *testing.T, ctx context.Context, st auto.Stack) string {
	t.Helper()
	hosts := stateOf(t, ctx, st, "aws:ec2/instance:Instance")
	require.Len(t, hosts, 1)
	return hosts[0]["userData"].(string)
}

// The image scenarios of a real deploy, on the real engine with stand-ins that answer as ECR and
// pulumi-docker do: a tag the repository holds is never pushed again (ECR refuses it), a repository is not
// deleted while it holds images, and computed outputs are unknown in a preview.
func TestImagesOnTheRealEngine(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := context.Background()
	st, err := e.m.Stack(ctx, "staging")
	require.NoError(t, err)
	main := filepath.Join(e.work, "app", "main.go")
	original, err := os.ReadFile(main)
	require.NoError(t, err)

	t.Run("a preview of a new stack plans the push, and the policy pack judges its unknowns", func(t *testing.T) {
		// The stand-ins return unknown ids, ARNs, names and digests for what a preview would create, as a
		// real provider does. The policy pack runs on the real preview; the stack accepts the two findings it
		// waives by disabling them, as the README says, so any other finding is a false one.
		cfg := filepath.Join(t.TempDir(), "policy-config.json")
		require.NoError(t, os.WriteFile(cfg, []byte(`{"appstack-net-007": {"enforcementLevel": "disabled"},`+
			`"appstack-ec2-010": {"enforcementLevel": "disabled"}}`), 0o600))
		res, err := st.Preview(ctx, optpreview.PolicyPacks(filepath.Join(offlinetest.Root(), "policypack")),
			optpreview.PolicyPackConfigs(cfg))
		require.NoError(t, err, "%s", res.StdOut)
		assert.Greater(t, res.ChangeSummary[apitype.OpCreate], 10, "%v", res.ChangeSummary)
		assert.Contains(t, res.StdOut, "docker:index:Image app-web-image-image create", "the preview plans the push")
		assert.NotRegexp(t, `appstack-[a-z0-9]+-\d{3}`, res.StdOut, "no policy finding on unknown values")
		assert.Zero(t, e.pushes(t), "a preview pushes nothing")
	})

	var first string
	t.Run("the first deploy pushes the content tag", func(t *testing.T) {
		res, ops := e.up(t, ctx, "staging")
		assert.Equal(t, []string{"create"}, ops["app-web-image-image"])
		assert.Equal(t, 1, e.pushes(t))
		first = webDigest(t, res)
		assert.Regexp(t, `\.dkr\.ecr\.ap-southeast-1\.amazonaws\.com/app-web-repo-[0-9a-f]{7}@sha256:[0-9a-f]{64}$`,
			first)
		assert.Contains(t, userData(t, ctx, st), first)
	})

	t.Run("a deploy from a checkout with other file modes pushes nothing", func(t *testing.T) {
		// pulumi-docker's context digest hashes the full mode string; the content tag only the executable
		// bit. The same commit checked out under umask 002 must not push the tag again.
		require.NoError(t, os.Chmod(main, 0o664))
		res, _ := e.up(t, ctx, "staging")
		assert.Equal(t, 1, e.pushes(t))
		assert.Equal(t, first, webDigest(t, res), "the host keeps its image")
	})

	var second string
	t.Run("a change to the sample app pushes a new tag", func(t *testing.T) {
		require.NoError(t, os.WriteFile(main, append(append([]byte{}, original...),
			"\n// a change to the sample service\n"...), 0o644))
		res, ops := e.up(t, ctx, "staging")
		assert.Equal(t, []string{"create"}, ops["app-web-image-image"], "ops: %v", ops)
		assert.Equal(t, 2, e.pushes(t))
		second = webDigest(t, res)
		assert.NotEqual(t, first, second)
	})

	t.Run("a revert to the earlier content tag reuses it and pushes nothing", func(t *testing.T) {
		require.NoError(t, os.WriteFile(main, original, 0o644))
		res, ops := e.up(t, ctx, "staging")
		assert.Equal(t, 2, e.pushes(t), "the earlier tag is not pushed again")
		assert.NotContains(t, ops["app-web-image-image"], "create")
		assert.Equal(t, first, webDigest(t, res), "the host runs the digest first pushed under the tag")
		assert.Contains(t, userData(t, ctx, st), first)
		assert.Contains(t, ops["app-host-instance"], "replace", "a new host boots on the earlier image")
	})

	t.Run("a rollback by pinned digest keeps the repository and the host's pull rights", func(t *testing.T) {
		require.NoError(t, st.SetConfigWithOptions(ctx, "appstack:services[0].image", auto.ConfigValue{Value: second},
			&auto.ConfigOptions{Path: true}))
		require.NoError(t, st.RemoveConfigWithOptions(ctx, "appstack:services[0].build",
			&auto.ConfigOptions{Path: true}))
		res, ops := e.up(t, ctx, "staging")
		assert.Equal(t, second, webDigest(t, res))
		assert.Contains(t, userData(t, ctx, st), second)
		assert.Equal(t, []string{"same"}, ops["app-web-repo"], "ops: %v", ops)
		assert.False(t, e.deleted(t, "app-web-repo"), "the repository and its images stay")
		assert.Equal(t, 2, e.pushes(t))

		repos := stateOf(t, ctx, st, "aws:ecr/repository:Repository")
		require.Len(t, repos, 1)
		grants := hostGrants(t, ctx, st)
		assert.Equal(t, []string{"ecr:GetAuthorizationToken"}, grants["EcrLogin"].Action)
		require.NotEmpty(t, grants["EcrPull"].Resource)
		assert.Regexp(t, `^arn:aws:ecr:ap-southeast-1:\d{12}:repository/app-web-repo-[0-9a-f]{7}$`,
			grants["EcrPull"].Resource[0])
	})

	t.Run("back to build: the tag the repository holds is reused", func(t *testing.T) {
		require.NoError(t, st.RemoveConfigWithOptions(ctx, "appstack:services[0].image",
			&auto.ConfigOptions{Path: true}))
		require.NoError(t, st.SetConfigWithOptions(ctx, "appstack:services[0].build.context",
			auto.ConfigValue{Value: "app"}, &auto.ConfigOptions{Path: true}))
		res, _ := e.up(t, ctx, "staging")
		assert.Equal(t, first, webDigest(t, res))
		assert.Equal(t, 2, e.pushes(t))
	})

	t.Run("a create that failed after its push is re-run without a push", func(t *testing.T) {
		require.NoError(t, os.WriteFile(main, append(append([]byte{}, original...),
			"\n// a third version of the sample service\n"...), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(e.registry, "fail-after-push"), nil, 0o600))
		_, err := e.m.Up(ctx, "staging")
		require.Error(t, err, "the image's create fails after its push")
		assert.Contains(t, err.Error(), "fail-after-push")
		assert.Equal(t, 3, e.pushes(t), "the push landed")

		res, ops := e.up(t, ctx, "staging")
		assert.Equal(t, 3, e.pushes(t), "the re-run finds the tag and pushes nothing")
		assert.NotContains(t, ops["app-web-image-image"], "create")
		third := webDigest(t, res)
		assert.NotContains(t, []string{first, second}, third)
		assert.Contains(t, userData(t, ctx, st), third, "the host runs what the failed create pushed")
	})

	t.Run("a staging destroy stops at the repository that holds images", func(t *testing.T) {
		_, err := st.Destroy(ctx)
		require.Error(t, err, "ECR refuses to delete a repository with images unless forced")
		assert.Contains(t, err.Error(), "RepositoryNotEmptyException")
	})
}

// A stack deployed while the image component was named like its service's registry (app-web) keeps the image
// and its push through the rename to app-web-image: the engine follows the component's alias and the alias its
// child inherits, so nothing of the image is created anew or deleted.
func TestTheImageRenameKeepsADeployedStacksImageOnTheRealEngine(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx := context.Background()
	st, err := e.m.Stack(ctx, "staging")
	require.NoError(t, err)
	e.up(t, ctx, "staging")
	require.Equal(t, 1, e.pushes(t))

	// The state as the program before the rename left it.
	const image = "appstack:components:App$appstack:components:Image"
	state, err := st.Export(ctx)
	require.NoError(t, err)
	before := string(state.Deployment)
	old := strings.NewReplacer(
		image+"$docker:index/image:Image::app-web-image-image", image+"$docker:index/image:Image::app-web-image",
		image+"::app-web-image", image+"::app-web",
	).Replace(before)
	require.NotEqual(t, before, old)
	state.Deployment = json.RawMessage(old)
	require.NoError(t, st.Import(ctx, state))

	main := filepath.Join(e.work, "app", "main.go")
	f, err := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n// a change to the sample service\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	ch, done := make(chan events.EngineEvent), make(chan struct{})
	ops := map[string][]string{}
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.ResourcePreEvent != nil {
				md := ev.ResourcePreEvent.Metadata
				ops[md.URN] = append(ops[md.URN], string(md.Op))
			}
		}
	}()
	_, err = e.m.Up(ctx, "staging", optup.EventStreams(ch))
	<-done
	require.NoError(t, err)
	urn := "urn:pulumi:staging::appstack::" + image
	assert.Equal(t, []string{"same"}, ops[urn+"::app-web-image"], "ops: %v", ops)
	assert.Equal(t, []string{"update"}, ops[urn+"$docker:index/image:Image::app-web-image-image"],
		"the image is updated in place, as before the rename; ops: %v", ops)
	for u, list := range ops {
		assert.NotContains(t, list, "delete", u)
		assert.NotContains(t, list, "create", u)
	}
	assert.Equal(t, 2, e.pushes(t))
}
