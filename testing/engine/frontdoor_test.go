//go:build engine

package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFrontDoorOnTheRealEngine deploys the documented example stack (examples/frontdoor: a domain, two services
// behind the HTTPS front door) and then a new version: the new host joins the target groups before the old host
// leaves them.
func TestFrontDoorOnTheRealEngine(t *testing.T) {
	t.Parallel()
	// The stand-in account holds example.com and nothing else.
	e := newEngine(t, "APPSTACK_STANDIN_ZONES=example.com")
	ctx := context.Background()
	require.FileExists(t, filepath.Join(e.work, "Pulumi.example.yaml"), "the documented stack, copied by newEngine")

	t.Run("a stack with a domain deploys its front door and serves HTTPS URLs", func(t *testing.T) {
		res, ops := e.up(t, ctx, "example")
		assert.Equal(t, map[string]any{"web": "https://web.example.com/", "api": "https://api.example.com/"},
			res.Outputs["serviceUrls"].Value)
		assert.Equal(t, map[string]any{"web": "https://web.example.com/health", "api": "https://api.example.com/health"},
			res.Outputs["healthUrls"].Value)
		for _, name := range []string{"app-frontdoor-alb", "app-frontdoor-https", "app-frontdoor-http",
			"app-frontdoor-web-cert", "app-frontdoor-web-cert-issued", "app-frontdoor-web-tg", "app-frontdoor-web-dns",
			"app-host-web-target", "app-host-api-target"} {
			assert.Equal(t, []string{"create"}, ops[name], name)
		}
	})

	t.Run("a new version switches hosts behind the front door: new targets before old ones go", func(t *testing.T) {
		before := len(e.calls(t))
		f, err := os.OpenFile(filepath.Join(e.work, "app", "main.go"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("\n// a change to the sample service\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())

		_, ops := e.up(t, ctx, "example")
		for _, name := range []string{"app-host-instance", "app-host-web-target", "app-host-api-target"} {
			assert.Contains(t, ops[name], "replace", name)
		}
		for _, name := range []string{"app-frontdoor-alb", "app-frontdoor-https", "app-frontdoor-web-cert",
			"app-frontdoor-api-cert", "app-frontdoor-web-tg", "app-frontdoor-web-dns", "app-frontdoor-logs"} {
			assert.Equal(t, []string{"same"}, ops[name], "%s does not depend on the host", name)
		}

		calls := e.calls(t)[before:]
		index := func(op, name string) int {
			return slices.IndexFunc(calls, func(c map[string]string) bool { return c["op"] == op && c["name"] == name })
		}
		for _, target := range []string{"app-host-web-target", "app-host-api-target"} {
			created, deleted := index("create", target), index("delete", target)
			require.GreaterOrEqual(t, created, 0, "%s registered the new host", target)
			require.GreaterOrEqual(t, deleted, 0, "%s deregistered the old host", target)
			assert.Less(t, index("create", "app-host-instance"), created, "the new host exists before it joins")
			assert.Less(t, created, deleted, "%s: the new host joins before the old one leaves", target)
			assert.Less(t, deleted, index("delete", "app-host-instance"),
				"%s: the old host leaves the group before it is terminated", target)
		}
		for _, c := range calls {
			if c["op"] == "delete" {
				assert.NotContains(t, []string{"app-frontdoor-alb", "app-frontdoor-web-cert", "app-frontdoor-api-cert",
					"app-frontdoor-web-tg", "app-frontdoor-api-tg"}, c["name"], "a host switch keeps the front door")
			}
		}
	})

	t.Run("a failed boot behind the front door leaves the targets on the serving host", func(t *testing.T) {
		before := len(e.calls(t))
		// The outcomes count every host the stand-in created: the first two booted ready, the third fails.
		e.boots(t, "ready", "ready", "failed health timeout: web did not answer")
		e.change(t, "a version whose boot fails behind the front door")
		_, err := e.tryUp(t, ctx, "example")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `failed its boot at step "health"`)
		for _, c := range e.calls(t)[before:] {
			if c["type"] == "aws:lb/targetGroupAttachment:TargetGroupAttachment" {
				t.Errorf("the gate failed, yet the stand-in saw %s of %s", c["op"], c["name"])
			}
		}
	})

	t.Run("a domain the account does not hold fails naming the key", func(t *testing.T) {
		st, err := e.m.Stack(ctx, "example")
		require.NoError(t, err)
		require.NoError(t, st.SetConfig(ctx, "appstack:domain", auto.ConfigValue{Value: "not-held.example"}))
		require.NoError(t, st.SetConfigWithOptions(ctx, "appstack:services",
			auto.ConfigValue{Value: `[{"name":"web","port":8080,"build":{"context":"app"}}]`}, nil))
		_, err = e.m.Up(ctx, "example")
		require.Error(t, err)
		assert.Contains(t, err.Error(), `appstack:domain: no public Route 53 hosted zone "not-held.example"`)
		assert.Contains(t, err.Error(), "no matching Route 53 Hosted Zone found")
	})
}
