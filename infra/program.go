// Package infra is the appstack Pulumi program: it loads the stack's configuration, deploys the app with the
// top-level component and exports what operators and the workflows need. It declares no resource itself.
package infra

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"appstack/infra/appstack"
	"appstack/policy"
	"appstack/stacks"
	"appstack/stacks/pulumisource"
)

// ComponentName is the top-level component's name in every stack. It is part of every child's URN: changing
// it needs pulumi.Aliases, or every resource would be replaced.
const ComponentName = "app"

// Program deploys the stack's app. Invalid configuration fails before any resource is registered.
func Program(ctx *pulumi.Context) error {
	src := pulumisource.FromContext(ctx)
	src.Check = func(c *stacks.Config) []string { return policy.CheckWaivers(c.Waivers) }
	cfg, err := stacks.Load(src)
	if err != nil {
		return err
	}
	for _, w := range cfg.UnusedSecrets() {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return err
		}
	}
	var values pulumi.StringMapInput
	if len(cfg.SecretNames) > 0 {
		values = secretValues(ctx)
	}
	app, err := appstack.New(ctx, ComponentName, &appstack.Args{
		Config:     cfg,
		Secrets:    values,
		ProjectDir: src.Dir,
	})
	if err != nil {
		return err
	}
	ctx.Export("serviceUrls", app.ServiceURLs)
	ctx.Export("healthUrls", app.HealthURLs)
	if cfg.IsFleet() {
		// The fleet's group, the launch template version its hosts run and what this deploy's rollout did.
		ctx.Export("fleetGroup", app.GroupName)
		ctx.Export("templateVersion", app.TemplateVersion)
		ctx.Export("rollout", app.Rollout)
	} else {
		ctx.Export("publicIp", app.PublicIP)
		ctx.Export("instanceId", app.InstanceID)
	}
	ctx.Export("repositoryUrls", app.RepositoryURLs)
	ctx.Export("imageDigests", app.ImageDigests)
	ctx.Export("tableNames", app.TableNames)
	ctx.Export("tableArns", app.TableArns)
	ctx.Export("logGroupName", app.LogGroupName)
	// The environment and expiry live in the deployment too, so that stackctl's destroy and reap recognise a
	// review stack on a runner that has no copy of its stack file (a DIY backend keeps no stack config).
	ctx.Export("environment", pulumi.String(string(cfg.Environment)))
	if !cfg.ExpiresAt.IsZero() {
		ctx.Export("expiresAt", pulumi.String(cfg.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	return nil
}

// secretValues reads appstack:secrets as a secret map output: the values are never plain in the program.
func secretValues(ctx *pulumi.Context) pulumi.StringMapOutput {
	raw := config.GetSecret(ctx, stacks.Namespace+":secrets")
	return raw.ApplyT(func(s string) (map[string]string, error) {
		var values map[string]string
		if err := json.Unmarshal([]byte(s), &values); err != nil {
			return nil, fmt.Errorf("%s:secrets: want a map of NAME to secret value", stacks.Namespace)
		}
		return values, nil
	}).(pulumi.StringMapOutput)
}
