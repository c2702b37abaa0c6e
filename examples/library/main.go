// Command library deploys a whole app from a Go Pulumi program of its own: one appstack.New call, with the
// configuration built in code instead of read from appstack:* keys. It is the composition the README promises,
// built by `make vet` in CI; its go.mod replaces the appstack module with this checkout.
package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"appstack/infra/appstack"
	"appstack/stacks"
)

// settings are the app's configuration, as a stack file would set them (values as Pulumi passes them: objects
// and lists as JSON).
var settings = map[string]string{
	stacks.RegionKey:        "eu-west-1",
	"appstack:environment":  "staging",
	"appstack:services":     `[{"name":"web","port":8080,"image":"public.ecr.aws/nginx/nginx@sha256:` + digest + `"}]`,
	"appstack:ingressCidrs": `["203.0.113.0/24"]`,
}

// digest pins the image: appstack deploys images by digest only.
const digest = "4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac"

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg, err := stacks.Load(stacks.Source{
			Get: func(key string) (string, bool) {
				v, ok := settings[key]
				return v, ok
			},
			IsSecret: func(string) bool { return false },
		})
		if err != nil {
			return fmt.Errorf("the app's settings: %w", err)
		}
		// Clients default to the AWS SDK's (appstack.DefaultClients); a test passes stand-ins.
		app, err := appstack.New(ctx, "shop", &appstack.Args{Config: cfg})
		if err != nil {
			return err
		}
		ctx.Export("serviceUrls", app.ServiceURLs)
		return nil
	})
}
